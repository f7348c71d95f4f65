"""Coverage: "terlindungi sampai" per programme, the warning when the next month is unpaid,
and the reminders before coverage lapses.

A month of a programme is covered when its contribution is paid in full (the cooperative
remits it to BPJS by the due date). ``covered_until`` is the last day of the last month of
the unbroken run of paid months since the participant's first billed month: the day before
the first unpaid month, or the end of the latest paid month when nothing is open.

The first unpaid month must be paid by ``pay_by(month)`` — ``KMP_BPJS_MEMBER_PAY_DAY``
(default 10) of the month after it, a few days before the cooperative's own due date to
BPJS — or the coverage lapses. ``queue_lapse_reminders`` (daily job) sends one message to
every participant whose first unpaid month reaches its pay-by date in
``KMP_BPJS_LAPSE_REMINDER_DAYS`` (default 7,3,1) days: one set-based insert per month.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import and_, case, func, select

from kmp.extensions import db
from kmp.timeutil import add_months, business_date, month_key
from members.protection.models import ProtectionEnrolment
from members.protection.rates import KINDS, PROGRAMMES, SHORT, month_start
from members.protection.states import EnrolmentStatus
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.models import Obligation

DEFAULT_PAY_DAY = 10
DEFAULT_LAPSE_DAYS = (7, 3, 1)


def _setting(name: str, default):
    return current_app.config.get(name, default) if has_app_context() else default


def pay_by(period: dt.date) -> dt.date:
    """The last day the member can pay ``period``'s contributions without a lapse."""
    day = max(1, min(28, int(_setting("KMP_BPJS_MEMBER_PAY_DAY", DEFAULT_PAY_DAY))))
    return add_months(month_start(period), 1).replace(day=day)


def lapse_days() -> tuple[int, ...]:
    raw = _setting("KMP_BPJS_LAPSE_REMINDER_DAYS", DEFAULT_LAPSE_DAYS)
    if isinstance(raw, str):
        raw = [p for p in raw.replace(" ", "").split(",") if p]
    return tuple(sorted({int(d) for d in raw if 0 <= int(d) <= 31}, reverse=True))


def _month_end(period: dt.date) -> dt.date:
    return add_months(month_start(period), 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Coverage:
    programme: str
    covered_until: dt.date | None
    first_unpaid: dt.date | None  # the first month billed and not paid
    pay_by: dt.date | None

    @property
    def label(self) -> str:
        return SHORT[self.programme]

    @property
    def warning(self) -> bool:
        """The next month after the coverage is billed and unpaid."""
        return self.first_unpaid is not None

    @property
    def lapsed(self) -> bool:
        return self.pay_by is not None and self.pay_by < business_date()


def coverage_for(member_id: int) -> list[Coverage]:
    """The member's coverage per programme that was ever billed (one grouped query)."""
    o = Obligation
    rows = db.session.execute(
        select(
            o.kind,
            func.min(case((o.is_open.is_(True), o.period))),
            func.min(o.period),
            func.max(case((and_(o.is_open.is_(False), o.closed_reason.is_(None)), o.period))),
        )
        .where(o.member_id == member_id, o.kind.in_(list(KINDS.values())))
        .group_by(o.kind)
    ).all()
    found = {kind: (first_open, first, last_paid) for kind, first_open, first, last_paid in rows}
    result = []
    for programme in PROGRAMMES:
        if KINDS[programme] not in found:
            continue
        first_open, first, last_paid = found[KINDS[programme]]
        if first_open is not None:
            until = first_open - dt.timedelta(days=1) if first_open > first else None
            result.append(Coverage(programme, until, first_open, pay_by(first_open)))
        else:
            result.append(
                Coverage(programme, _month_end(last_paid) if last_paid else None, None, None)
            )
    return result


def queue_lapse_reminders(on_date: dt.date | None = None) -> int:
    """The reminders before coverage lapses (see the module doc): for each month whose
    pay-by date is a reminder day away, every participant with that month still open and no
    earlier month open (their first unpaid month) gets one message (one read, batched
    ``queue_bulk`` inserts, deduplicated per month and reminder day)."""
    on_date = on_date or business_date()
    queued = 0
    this_month = month_start(on_date)
    for back in range(0, 3):
        period = add_months(this_month, -back)
        left = (pay_by(period) - on_date).days
        if left in lapse_days():
            queued += _queue_for_period(period, left)
    return queued


def _queue_for_period(period: dt.date, left: int) -> int:
    from kmp.money import format_rupiah
    from kmp.notify import queue_bulk

    o, m, e = Obligation.__table__, Member.__table__, ProtectionEnrolment.__table__
    kinds = list(KINDS.values())
    earlier = (
        select(o.c.id)
        .where(
            o.c.member_id == m.c.id,
            o.c.kind.in_(kinds),
            o.c.is_open.is_(True),
            o.c.period < period,
        )
        .exists()
    )
    open_now = (
        select(
            o.c.member_id.label("member_id"),
            func.sum(o.c.amount_idr - o.c.paid_idr).label("owed"),
        )
        .where(o.c.kind.in_(kinds), o.c.is_open.is_(True), o.c.period == period)
        .group_by(o.c.member_id)
        .subquery()
    )
    query = (
        select(
            func.coalesce(m.c.email, m.c.phone).label("address"),
            m.c.user_id,
            m.c.id,
            open_now.c.owed,
        )
        .select_from(
            open_now.join(m, m.c.id == open_now.c.member_id).join(e, e.c.member_id == m.c.id)
        )
        .where(
            m.c.status == MemberStatus.ACTIVE.value,
            e.c.status == EnrolmentStatus.CONFIRMED.value,
            ~earlier,
        )
    )
    deadline = pay_by(period)
    key = month_key(period)

    def rows():
        for address, user_id, member_id, owed in db.session.execute(query):
            yield {
                "address": address,
                "user_id": user_id,
                "member_id": member_id,
                "dedupe_key": f"bpjs-lapse:{key}:{left}:{member_id}",
                "body": (
                    f"Iuran BPJS bulan {key} belum dibayar ({format_rupiah(int(owed))}). "
                    f"Perlindungan Anda terputus jika belum dibayar sampai {deadline:%d-%m-%Y} "
                    f"({left} hari lagi). Bayar lewat menu Perlindungan BPJS di aplikasi "
                    "koperasi atau tunai ke bendahara."
                ),
            }

    return queue_bulk(
        "bpjs_lapse", f"bpjs-lapse-{key}-{left}", list(rows()), subject="Perlindungan BPJS"
    )
