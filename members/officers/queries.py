"""Read side of officers: who holds office, the certification watch list, office holders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.officers.models import Officer
from members.training.competence import competence_of


@dataclass(frozen=True)
class WatchRow:
    officer: Officer
    problem: str  # "missing" | "pending" | "expired" | "grace" | "expiring"
    expires_on: dt.date | None
    schemes: tuple[str, ...] = ()


def current_officers(on_date: dt.date | None = None) -> list[Officer]:
    on_date = on_date or business_date()
    return list(
        db.session.scalars(
            select(Officer)
            .where(
                Officer.term_start <= on_date,
                Officer.term_end >= on_date,
                or_(Officer.ended_on.is_(None), Officer.ended_on > on_date),
            )
            .order_by(Officer.body, Officer.function, Officer.id)
        )
    )


def all_officers() -> list[Officer]:
    return list(db.session.scalars(select(Officer).order_by(Officer.term_end.desc(), Officer.id)))


def _holder(officer: Officer):
    return officer.member if officer.member is not None else officer.user


def certification_watchlist(on_date: dt.date | None = None, days: int = 90) -> list[WatchRow]:
    """Sitting officers against the AD's competence rule for their office: no verified
    certificate of the required scheme ("missing"), one waiting for verification
    ("pending"), expired ("expired", or "grace" inside the grace period), or expiring within
    ``days`` ("expiring")."""
    on_date = on_date or business_date()
    horizon = on_date + dt.timedelta(days=days)
    rows = []
    for officer in current_officers(on_date):
        state = competence_of(_holder(officer), officer.body.value, on_date)
        if not state.required:
            continue
        if state.state == "ok":
            if state.expires_on is not None and state.expires_on <= horizon:
                rows.append(WatchRow(officer, "expiring", state.expires_on, state.schemes))
            continue
        rows.append(WatchRow(officer, state.state, state.expires_on, state.schemes))
    return rows


def office_holders(sender=None, on_date: dt.date | None = None, **kwargs) -> list[dict]:  # noqa: ARG001
    """The answer to ``kmp.signals.office_holders_requested``: each sitting officer's office
    (its body: pengurus or pengawas), function, member/login and name."""
    return [
        {
            "office": o.body.value,
            "function": o.function.value,
            "member_id": o.member_id,
            "user_id": o.user_id,
            "name": o.holder_name,
        }
        for o in current_officers(on_date)
    ]
