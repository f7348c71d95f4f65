"""The member's own data across every sub-feature (UU PDP: a member can download it)."""

from __future__ import annotations

from sqlalchemy import select

from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.models import (
    ExitCase,
    Member,
    MemberEvent,
    NikCorrection,
)
from members.savings.models import Receipt
from members.training.queries import member_training_data


def export_member_data(member: Member) -> dict:
    """Everything KMP holds about a member, for the member (UU PDP 27/2022)."""
    from kmp.ledger.queries import balances_of_member
    from members.protection.enrolment import export_for_member

    def iso(value):
        return value.isoformat() if value is not None else None

    user = member.user
    return {
        "exported_at": now_utc().isoformat(),
        "member": {
            "member_no": member.member_no,
            "group": member.group_code,
            "kind": member.kind.value,
            "status": member.status.value,
            "full_name": member.full_name,
            "nik": member.nik,
            "birth_date": iso(member.birth_date),
            "phone": member.phone,
            "email": member.email,
            "address": member.address,
            "platform": member.platform,
            "platform_worker_id": member.platform_worker_id,
            "company_name": member.company_name,
            "nib": member.nib,
            "npwp": member.npwp,
            "representative_name": member.representative_name,
            "representative_nik": member.representative_nik,
            "is_extraordinary": member.is_extraordinary,
            "consent_at": iso(member.consent_at),
            "consent_version": member.consent_version,
            "applied_at": iso(member.applied_at),
            "approved_at": iso(member.approved_at),
            "joined_date": iso(member.joined_date),
            "exited_date": iso(member.exited_date),
        },
        "login": None
        if user is None
        else {
            "email": user.email,
            "phone": user.phone,
            "full_name": user.full_name,
            "locale": user.locale,
            "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at),
        },
        "balances_idr": balances_of_member(member.id),
        "receipts": [
            {
                "number": r.number,
                "purpose": r.purpose.value,
                "method": r.method.value,
                "amount_idr": r.amount_idr,
                "received_on": iso(r.received_on),
                "reference": r.reference,
            }
            for r in db.session.scalars(
                select(Receipt).where(Receipt.member_id == member.id).order_by(Receipt.id)
            )
        ],
        "history": [
            {
                "at": iso(e.at),
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in db.session.scalars(
                select(MemberEvent)
                .where(MemberEvent.member_id == member.id)
                .order_by(MemberEvent.id)
            )
        ],
        "exit_cases": [
            {
                "kind": c.kind.value,
                "status": c.status.value,
                "refund_idr": c.refund_idr,
                "requested_at": iso(c.requested_at),
                "paid_at": iso(c.paid_at),
            }
            for c in db.session.scalars(
                select(ExitCase).where(ExitCase.member_id == member.id).order_by(ExitCase.id)
            )
        ],
        "bpjs": export_for_member(member),
        "nik_corrections": [
            {"status": c.status.value, "requested_at": iso(c.requested_at)}
            for c in db.session.scalars(
                select(NikCorrection).where(NikCorrection.member_id == member.id)
            )
        ],
        "training": member_training_data(member),
    }
