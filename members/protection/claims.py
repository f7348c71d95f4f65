"""Claim cases: the board records a member's (or heir's) claim with BPJS and follows it
through the state machine of ``members.protection.states`` (every step a ``ClaimEvent``).

BPJS pays the benefit to the claimant directly; the cooperative records the amount for its
reports, nothing of it passes through the books. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp.errors import DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import business_date, now_utc
from members.protection.models import ClaimCase, ClaimEvent
from members.protection.states import CLAIM_OPEN, ClaimStatus, check_claim_transition
from members.register.models import Member

CLAIM_KINDS = ("work_accident", "death", "jht")


def _text(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def report_claim(
    member: Member,
    *,
    kind: str,
    incident_date: dt.date,
    description: str,
    claimant_name: str | None = None,
    claimant_relationship: str | None = None,
    by_user=None,
) -> ClaimCase:
    """Open a claim case (status ``reported``)."""
    if kind not in CLAIM_KINDS:
        raise DomainError(_("Jenis klaim tidak dikenal."), field="kind")
    if incident_date > business_date():
        raise DomainError(_("Tanggal kejadian tidak boleh di masa depan."), field="incident_date")
    description = (description or "").strip()[:4000]
    if not description:
        raise DomainError(_("Ceritakan singkat kejadiannya."), field="description")
    claimant = _text(claimant_name, 200) or None
    if kind == "death" and not claimant:
        raise DomainError(
            _("Klaim kematian diajukan ahli waris: isi nama ahli waris."), field="claimant_name"
        )
    claim = ClaimCase(
        member_id=member.id,
        kind=kind,
        status=ClaimStatus.REPORTED,
        incident_date=incident_date,
        claimant_name=claimant,
        claimant_relationship=_text(claimant_relationship, 100) or None,
        description=description,
        reported_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(claim)
    db.session.flush()
    db.session.add(
        ClaimEvent(
            claim_id=claim.id,
            to_status=ClaimStatus.REPORTED.value,
            note=_("Klaim dicatat"),
            by_user_id=getattr(by_user, "id", by_user),
        )
    )
    db.session.flush()
    return claim


def advance_claim(
    claim: ClaimCase,
    target: ClaimStatus | str,
    *,
    by_user=None,
    note: str | None = None,
    bpjs_reference: str | None = None,
    benefit_idr: int | None = None,
) -> ClaimCase:
    """Move a claim to ``target`` (the transition table says what is allowed and what the
    move needs: BPJS's reference to submit, the benefit to approve, a reason to reject)."""
    note = (note or "").strip()[:2000] or None
    reference = _text(bpjs_reference, 80) or None
    target = check_claim_transition(
        claim.status,
        target,
        reason=note,
        bpjs_reference=reference or claim.bpjs_reference,
        benefit_idr=benefit_idr,
    )
    db.session.add(
        ClaimEvent(
            claim_id=claim.id,
            from_status=ClaimStatus(claim.status).value,
            to_status=target.value,
            note=note,
            by_user_id=getattr(by_user, "id", by_user),
        )
    )
    if reference:
        claim.bpjs_reference = reference
    if target is ClaimStatus.APPROVED:
        claim.benefit_idr = benefit_idr
    claim.status = target
    claim.updated_at = now_utc()
    db.session.flush()
    return claim


def add_claim_note(claim: ClaimCase, note: str, *, by_user=None) -> ClaimEvent:
    note = (note or "").strip()[:2000]
    if not note:
        raise DomainError(_("Catatan wajib diisi."), field="note")
    event = ClaimEvent(
        claim_id=claim.id,
        from_status=ClaimStatus(claim.status).value,
        to_status=ClaimStatus(claim.status).value,
        note=note,
        by_user_id=getattr(by_user, "id", by_user),
    )
    db.session.add(event)
    claim.updated_at = now_utc()
    db.session.flush()
    return event


def get_claim(claim_id: int) -> ClaimCase:
    claim = db.session.get(ClaimCase, claim_id) if 0 < claim_id < 2**31 else None
    if claim is None:
        raise NotFound(_("Klaim tidak ditemukan."))
    return claim


def claims(open_only: bool = False, limit: int = 200) -> list[ClaimCase]:
    query = select(ClaimCase).order_by(ClaimCase.updated_at.desc(), ClaimCase.id.desc())
    if open_only:
        query = query.where(ClaimCase.status.in_([s.value for s in CLAIM_OPEN]))
    return list(db.session.scalars(query.limit(limit)))


def member_claims(member: Member) -> list[ClaimCase]:
    return list(
        db.session.scalars(
            select(ClaimCase).where(ClaimCase.member_id == member.id).order_by(ClaimCase.id.desc())
        )
    )
