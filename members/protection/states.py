"""The two state machines of social protection: pure transition tables (no Flask, no database).

ProtectionEnrolment (a member's participation, one row per member)::

    requested ──> confirmed ──> stopped ──> requested (enrols again)
        │  │
        │  └──> rejected ──> requested (asks again)
        └─────> cancelled (by the member, before the bendahara decided)

``-> confirmed`` is the bendahara's act (billing starts with ``start_period``); ``-> rejected``
needs a reason. Participant numbers (KPJ, JKN card) are data, not states: BPJS issues them
after the cooperative registered the participant, and billing does not wait for them.

Claim case (the board follows a member's claim with BPJS)::

    reported ──> documents_incomplete <──> documents_complete ──> submitted ──> approved
        │                 │                        │                  │ └────> rejected
        └──────────────── ┴ ───────────────────────┴──────────────────┴──> withdrawn

``-> submitted`` needs BPJS's reference, ``-> rejected``/``-> withdrawn`` a reason,
``-> approved`` the benefit amount (BPJS pays the claimant directly; the cooperative records
it for the reports, no money passes through its books).
"""

from __future__ import annotations

import enum

from kmp.errors import IllegalTransition
from kmp.i18n import gettext as _


class EnrolmentStatus(enum.StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    STOPPED = "stopped"


E = EnrolmentStatus
ENROLMENT_TRANSITIONS: dict[EnrolmentStatus, frozenset[EnrolmentStatus]] = {
    E.REQUESTED: frozenset({E.CONFIRMED, E.REJECTED, E.CANCELLED}),
    E.CONFIRMED: frozenset({E.STOPPED}),
    E.REJECTED: frozenset({E.REQUESTED}),
    E.CANCELLED: frozenset({E.REQUESTED}),
    E.STOPPED: frozenset({E.REQUESTED}),
}


class ClaimStatus(enum.StrEnum):
    REPORTED = "reported"
    DOCUMENTS_INCOMPLETE = "documents_incomplete"
    DOCUMENTS_COMPLETE = "documents_complete"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


C = ClaimStatus
CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    C.REPORTED: frozenset({C.DOCUMENTS_INCOMPLETE, C.DOCUMENTS_COMPLETE, C.WITHDRAWN}),
    C.DOCUMENTS_INCOMPLETE: frozenset({C.DOCUMENTS_COMPLETE, C.WITHDRAWN}),
    C.DOCUMENTS_COMPLETE: frozenset({C.DOCUMENTS_INCOMPLETE, C.SUBMITTED, C.WITHDRAWN}),
    C.SUBMITTED: frozenset({C.APPROVED, C.REJECTED, C.WITHDRAWN}),
    C.APPROVED: frozenset(),
    C.REJECTED: frozenset(),
    C.WITHDRAWN: frozenset(),
}
CLAIM_OPEN = frozenset({C.REPORTED, C.DOCUMENTS_INCOMPLETE, C.DOCUMENTS_COMPLETE, C.SUBMITTED})


def check_enrolment_transition(
    current: EnrolmentStatus | str, target: EnrolmentStatus | str, *, reason: str | None = None
) -> EnrolmentStatus:
    """Return ``target`` if the move is legal, else raise ``IllegalTransition``."""
    current, target = EnrolmentStatus(current), EnrolmentStatus(target)
    if target not in ENROLMENT_TRANSITIONS[current]:
        raise IllegalTransition(
            _(
                "Status kepesertaan tidak bisa diubah dari '%(a)s' menjadi '%(b)s'.",
                a=current.value,
                b=target.value,
            ),
            code="illegal_enrolment_transition",
        )
    if target is E.REJECTED and not (reason or "").strip():
        raise IllegalTransition(
            _("Alasan penolakan wajib diisi."), code="reason_required", field="reason"
        )
    return target


def check_claim_transition(
    current: ClaimStatus | str,
    target: ClaimStatus | str,
    *,
    reason: str | None = None,
    bpjs_reference: str | None = None,
    benefit_idr: int | None = None,
) -> ClaimStatus:
    """Return ``target`` if the move is legal and carries what it needs, else raise."""
    current, target = ClaimStatus(current), ClaimStatus(target)
    if target not in CLAIM_TRANSITIONS[current]:
        raise IllegalTransition(
            _(
                "Status klaim tidak bisa diubah dari '%(a)s' menjadi '%(b)s'.",
                a=current.value,
                b=target.value,
            ),
            code="illegal_claim_transition",
        )
    if target in (C.REJECTED, C.WITHDRAWN) and not (reason or "").strip():
        raise IllegalTransition(_("Alasan wajib diisi."), code="reason_required", field="note")
    if target is C.SUBMITTED and not (bpjs_reference or "").strip():
        raise IllegalTransition(
            _("Nomor pengajuan dari BPJS wajib diisi."),
            code="reference_required",
            field="bpjs_reference",
        )
    if target is C.APPROVED and (
        benefit_idr is None or isinstance(benefit_idr, bool) or benefit_idr < 0
    ):
        raise IllegalTransition(
            _("Jumlah manfaat yang dibayar BPJS wajib diisi."),
            code="benefit_required",
            field="benefit_idr",
        )
    return target
