"""Admission: pokok status, approval, activation, rejection and withdrawal of applications.

Money before admission (the design choice, so ``kmp ledger-check`` always balances)
--------------------------------------------------------------------------------------
A member's savings accounts (``open_member_accounts``) are keyed by the member number, which
exists only once the member is admitted. Money an *applicant* pays towards simpanan pokok is
not yet member equity: if the application is refused it goes back. So it is booked as a
liability in a per-applicant account ``liability:applicant-principal:A<member id>`` (owner =
the member's id, no negative balance), opened at the first payment:

    applicant pays Rp X in cash:  CASH +X / liability:applicant-principal:A<id> -X
    admission (approved + pokok fully paid, whichever comes last):
        liability:applicant-principal:A<id> +paid / equity:savings:principal:<member_no> -paid
    refused / withdrawn with money paid:
        liability:applicant-principal:A<id> +paid / liability:exit-refund-payable -paid
        (then the bendahara pays it out like an exit refund)

"Pokok fully paid" = the applicant account (before admission) or the principal account
(after) holds at least the group's pokok amount in the current AD.

The exit refund (``members.exits``) is described there.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from kmp import signals
from kmp.auth import user_id_of
from kmp.extensions import db
from kmp.ledger.chart import REFUND_PAYABLE, member_account_code, open_member_accounts
from kmp.ledger.models import Account
from kmp.ledger.queries import balance_of
from kmp.ledger.services import post_entry
from kmp.timeutil import business_date, now_utc
from members.ad.config import ADConfig
from members.ad.services import current_ad
from members.register.identity import format_member_no
from members.register.models import ExitCase, ExitKind, ExitStatus, Member
from members.register.services import _set_status, record_event, reserve_numbers
from members.register.states import NUMBERED, MemberStatus, check_transition

APPLICANT_PRINCIPAL_PREFIX = "liability:applicant-principal"


@dataclass(frozen=True)
class PokokStatus:
    required_idr: int
    paid_idr: int
    instalments_allowed: bool

    @property
    def remaining_idr(self) -> int:
        return max(self.required_idr - self.paid_idr, 0)

    @property
    def fully_paid(self) -> bool:
        return self.paid_idr >= self.required_idr


def applicant_account_code(member: Member) -> str:
    return f"{APPLICANT_PRINCIPAL_PREFIX}:A{member.id}"


def _natural_balance(code: str) -> int:
    row = db.session.execute(
        select(Account.id, Account.normal_sign).where(Account.code == code)
    ).first()
    if row is None:
        return 0
    return balance_of(row.id) * row.normal_sign


def pokok_paid_idr(member: Member) -> int:
    if member.member_no and MemberStatus(member.status) in NUMBERED:
        return _natural_balance(member_account_code("pokok", member.member_no))
    return _natural_balance(applicant_account_code(member))


def pokok_status(
    member: Member, ad: ADConfig | None = None, paid_idr: int | None = None
) -> PokokStatus:
    """``paid_idr``: ``pokok_paid_idr`` when the caller already knows it."""
    ad = ad or current_ad()
    group = ad.get_group(member.group_code)
    required = group.pokok_idr if group else 0
    allowed = group.pokok_instalments_allowed if group else True
    return PokokStatus(required, pokok_paid_idr(member) if paid_idr is None else paid_idr, allowed)


def approve_member(member: Member, by_user) -> Member:
    """The board approves an application; admission follows when pokok is fully paid."""
    _set_status(member, MemberStatus.APPROVED, by_user)
    member.approved_at = now_utc()
    member.approved_by_id = user_id_of(by_user)
    db.session.flush()
    activate_if_ready(member, by_user)
    return member


def activate_if_ready(member: Member, by_user=None) -> bool:
    """Admit an approved member whose pokok is fully paid: number, accounts, signal."""
    if MemberStatus(member.status) is not MemberStatus.APPROVED:
        return False
    ad = current_ad()
    status = pokok_status(member, ad)
    if not status.fully_paid:
        return False
    check_transition(member.status, MemberStatus.ACTIVE, pokok_paid=True)
    group = ad.group(member.group_code)
    today = business_date()
    member.member_no = format_member_no(
        group.member_no_prefix, today.year, reserve_numbers(group.member_no_prefix, today.year)
    )
    member.joined_date = today
    member.activated_at = now_utc()
    _set_status(
        member, MemberStatus.ACTIVE, by_user, "Disetujui dan simpanan pokok lunas", pokok_paid=True
    )
    ids = open_member_accounts(member.id, member.member_no)
    deposit = _natural_balance(applicant_account_code(member))
    if deposit:
        # Never more than the AD's pokok becomes pokok: a deposit beyond it (two checkouts
        # paid, say) becomes the new member's simpanan sukarela.
        pokok = min(deposit, status.required_idr) if status.required_idr else deposit
        lines = [(applicant_account_code(member), deposit), (ids["pokok"], -pokok)]
        if deposit > pokok:
            lines.append((ids["sukarela"], pokok - deposit))
        post_entry(
            idempotency_key=f"member-admission:{member.id}",
            description=f"Simpanan pokok calon anggota menjadi simpanan pokok {member.member_no}",
            lines=lines,
            source_kind="member_admission",
            source_id=member.id,
            posted_by=by_user,
        )
    record_event(member, "admitted", by_user, f"Nomor anggota {member.member_no}")
    db.session.flush()
    signals.member_admitted.send(current_app._get_current_object(), member=member)
    return True


def _refund_application_deposit(member: Member, by_user, reason: str) -> ExitCase | None:
    deposit = _natural_balance(applicant_account_code(member))
    if not deposit:
        return None
    case = ExitCase(
        member_id=member.id,
        kind=ExitKind.APPLICATION,
        status=ExitStatus.PAYABLE,
        reason=reason,
        requested_by_id=user_id_of(by_user),
        decided_at=now_utc(),
        decided_by_id=user_id_of(by_user),
        pokok_idr=deposit,
        refund_idr=deposit,
        ad_version_id=current_ad().version_id,
    )
    db.session.add(case)
    db.session.flush()
    entry = post_entry(
        idempotency_key=f"application-refund:{member.id}",
        description=f"Pengembalian simpanan pokok pendaftar #{member.id} ({reason})",
        lines=[(applicant_account_code(member), deposit), (REFUND_PAYABLE, -deposit)],
        source_kind="exit_case",
        source_id=case.id,
        posted_by=by_user,
    )
    case.payable_entry_id = entry.id
    db.session.flush()
    return case


def reject_member(member: Member, by_user, reason: str) -> Member:
    reason = (reason or "").strip()
    check_transition(member.status, MemberStatus.REJECTED, reason=reason)
    member.rejection_reason = reason
    _set_status(member, MemberStatus.REJECTED, by_user, reason, reason=reason)
    _refund_application_deposit(member, by_user, "pendaftaran ditolak")
    return member


def withdraw_application(member: Member, by_user) -> Member:
    _set_status(member, MemberStatus.WITHDRAWN, by_user, "Pendaftaran dibatalkan")
    _refund_application_deposit(member, by_user, "pendaftaran dibatalkan")
    return member
