"""Read side of officers: who holds office, the certification watch list, certificates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.officers.models import Certificate, Officer


@dataclass(frozen=True)
class WatchRow:
    officer: Officer
    problem: str  # "missing" | "expired" | "expiring"
    expires_on: dt.date | None


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


def certification_watchlist(on_date: dt.date | None = None, days: int = 90) -> list[WatchRow]:
    """Sitting officers whose certificate is missing, expired, or expires within ``days``."""
    on_date = on_date or business_date()
    horizon = on_date + dt.timedelta(days=days)
    rows = []
    for officer in current_officers(on_date):
        conditions = []
        if officer.member_id is not None:
            conditions.append(Certificate.member_id == officer.member_id)
        user_id = officer.user_id or (officer.member.user_id if officer.member else None)
        if user_id is not None:
            conditions.append(Certificate.user_id == user_id)
        best = (
            db.session.scalar(
                select(func.max(Certificate.expires_on)).where(
                    or_(*conditions), Certificate.issued_on <= on_date
                )
            )
            if conditions
            else None
        )
        if best is None:
            rows.append(WatchRow(officer, "missing", None))
        elif best < on_date:
            rows.append(WatchRow(officer, "expired", best))
        elif best <= horizon:
            rows.append(WatchRow(officer, "expiring", best))
    return rows


def certificates_of(member_id: int | None, user_id: int | None) -> list[Certificate]:
    conditions = []
    if member_id is not None:
        conditions.append(Certificate.member_id == member_id)
    if user_id is not None:
        conditions.append(Certificate.user_id == user_id)
    if not conditions:
        return []
    return list(
        db.session.scalars(
            select(Certificate).where(or_(*conditions)).order_by(Certificate.expires_on.desc())
        )
    )
