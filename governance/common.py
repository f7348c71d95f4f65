"""Helpers every governance use case shares: the AD in force, arrears, the event log, refusals."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app

from governance.models import (
    GovernanceEvent,
    ProposalStatus,
)
from kmp import signals
from kmp.auth import user_id_of
from kmp.errors import DomainError, IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import JAKARTA
from members.ad.config import ADConfig

S = ProposalStatus
ABSTAIN = "abstain"

YES_NO_OPTIONS = (
    {"key": "yes", "label": "Setuju"},
    {"key": "no", "label": "Tidak setuju"},
    {"key": ABSTAIN, "label": "Abstain"},
)

TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    S.DRAFT: frozenset({S.OPEN, S.CANCELLED}),
    S.OPEN: frozenset({S.CLOSED, S.CANCELLED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


log = logging.getLogger("kmp.governance")


def check_transition(current: ProposalStatus, target: ProposalStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            gettext(
                "Usulan berstatus '%(current)s' tidak bisa menjadi '%(target)s'.",
                current=current.label,
                target=target.label,
            ),
            code="illegal_proposal_transition",
        )


def current_ad() -> ADConfig:
    from members.ad.services import current_ad as members_current_ad

    return members_current_ad()


def arrears_months(member_ids: list[int], on_date: dt.date) -> dict[int, int]:
    """Months of simpanan wajib arrears per member: the ONE place the census asks.

    Asked of the members feature's billing directly (governance sits above members).
    """
    if not member_ids:
        return {}
    from members.savings.billing import arrears_months as billing_arrears_months

    return {int(k): int(v) for k, v in billing_arrears_months(member_ids, on_date).items()}


def _event(action: str, by_user=None, *, meeting=None, proposal=None, note=None) -> None:
    db.session.add(
        GovernanceEvent(
            action=action,
            by_user_id=user_id_of(by_user),
            meeting_id=getattr(meeting, "id", None),
            proposal_id=getattr(proposal, "id", None),
            note=note,
        )
    )
    target = f"proposal:{proposal.id}" if proposal is not None else f"meeting:{meeting.id}"
    signals.audit_event.send(
        current_app._get_current_object(),
        action=f"governance.{action}",
        target=target,
        before=None,
        after=note,
    )


def _refuse(message: str, code: str, field: str | None = None) -> DomainError:
    return DomainError(message, code=code, field=field)


def _jakarta(instant: dt.datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%d-%m-%Y %H.%M WIB")
