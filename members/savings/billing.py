"""Simpanan wajib billing: monthly obligations, reminders, arrears.

* ``bill_wajib(month)``: one set-based ``INSERT ... SELECT`` creates every active member's
  wajib obligation for the month from the AD amount of the member's group; the unique key
  (member, kind, period, ref) with ``ON CONFLICT DO NOTHING`` makes a second run a no-op;
  then advance credit (wajib paid ahead) pays the new bills (``allocator.apply_advance_credits``).
  Billing writes no ledger entry: wajib is member equity and is booked when the money
  arrives (cash basis); the obligation rows are the schedule and the arrears.
* Money is applied to obligations only by ``members.savings.allocator``.
* Arrears: ``arrears_months(member_ids, on_date)`` / ``arrears_idr(member_id)``: open wajib
  obligations for months up to ``on_date`` (the census and the arrears list ask them);
  ``all_open_idr(member_id)``: everything still owed, of every kind (the exit set-off).

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Boolean, Date, Integer, String, case, cast, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from kmp.db import Rupiah, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import add_months, business_date, month_key, now_utc
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.models import Obligation

WAJIB = "wajib"

__all__ = [
    "arrears_idr",
    "arrears_months",
    "bill_wajib",
    "member_arrears_idr_hook",
    "open_obligations",
]


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    return add_months(_month_start(day), 1) - dt.timedelta(days=1)


# --------------------------------------------------------------------------- billing


@dataclass(frozen=True)
class BillingResult:
    period: dt.date
    created: int
    amount_idr: int


def bill_wajib(month: dt.date) -> BillingResult:
    """Create the wajib obligation of every active member for ``month`` (any day of it), one
    ``INSERT ... SELECT``; members already billed for the month are skipped (idempotent).

    Billed: members ``active`` whose joining date is on or before the month's last day and
    whose group has a wajib amount in the current AD (the amount recorded on the row).
    """
    from members.ad.services import current_ad

    period = _month_start(month)
    ad = current_ad()
    amounts = {g.code: g.wajib_idr for g in ad.groups if g.wajib_idr > 0}
    if not amounts:
        return BillingResult(period, 0, 0)
    m = Member.__table__
    stamp = now_utc()  # marks this run's rows
    amount = case(
        *((m.c.group_code == code, literal(value, Rupiah())) for code, value in amounts.items()),
        else_=literal(0, Rupiah()),
    )
    columns = {
        "member_id": m.c.id,
        "kind": literal(WAJIB, String()),
        "period": literal(period, Date()),
        "due_date": literal(period, Date()),
        "ref": literal("", String()),
        "priority": literal(50, Integer()),
        "group_code": m.c.group_code,
        "amount_idr": amount,
        "paid_idr": literal(0, Rupiah()),
        "is_open": literal(True, Boolean()),
        "ad_version_id": literal(ad.version_id, Integer()),
        "created_at": literal(stamp, UTCDateTime()),
    }
    source = select(*columns.values()).where(
        m.c.status == MemberStatus.ACTIVE.value,
        m.c.group_code.in_(list(amounts)),
        (m.c.joined_date.is_(None)) | (m.c.joined_date <= _month_end(period)),
    )
    table = Obligation.__table__
    dialect = postgresql if _is_pg() else sqlite
    stmt = (
        dialect.insert(table)
        .from_select(list(columns), source)
        .on_conflict_do_nothing(index_elements=["member_id", "kind", "period", "ref"])
    )
    db.session.execute(stmt)
    row = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Obligation.amount_idr), 0)).where(
            Obligation.kind == WAJIB, Obligation.period == period, Obligation.created_at == stamp
        )
    ).one()
    from members.savings.allocator import apply_advance_credits

    apply_advance_credits(WAJIB, period)
    return BillingResult(period, int(row[0]), int(row[1]))


def bill_current_month() -> None:
    """The monthly job (cron, Asia/Jakarta): bill the Jakarta month that just started, then
    queue the bill messages and the arrears reminders (both set-based, deduplicated)."""
    result = bill_wajib(business_date())
    queue_bill_notices(result.period)
    queue_arrears_reminders(business_date())


# --------------------------------------------------------------------------- reminders

#: A member with at least this many unpaid months gets an arrears reminder.
REMINDER_MIN_MONTHS = 2


def _insert_notifications(columns: dict, source, stamp: dt.datetime) -> int:
    """``INSERT INTO notifications ... SELECT`` skipping dedupe keys already queued."""
    from kmp.notify import Notification

    table = Notification.__table__
    dialect = postgresql if _is_pg() else sqlite
    stmt = (
        dialect.insert(table)
        .from_select(list(columns), source)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    db.session.execute(stmt)
    # (rowcount of INSERT ... SELECT is not reliable across drivers: count this run's rows)
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(table)
            .where(table.c.kind == columns["kind"].value, table.c.created_at == stamp)
        )
    )


def _notification_columns(m, kind: str, subject: str, body, dedupe, stamp) -> dict:
    address = func.coalesce(m.c.email, m.c.phone)
    return {
        "kind": literal(kind),
        "channel": case((address.like("%@%"), literal("email")), else_=literal("whatsapp")),
        "address": address,
        "subject": literal(subject),
        "body": body,
        "user_id": m.c.user_id,
        "member_id": m.c.id,
        "dedupe_key": dedupe,
        "status": literal("pending"),
        "attempts": literal(0, Integer()),
        "created_at": literal(stamp, UTCDateTime()),
    }


def queue_bill_notices(period: dt.date) -> int:
    """One "your wajib bill" message per member billed for ``period`` (one statement)."""
    from kmp.money import format_rupiah

    m, o = Member.__table__, Obligation.__table__
    key = month_key(period)
    amounts = sorted(
        set(
            db.session.scalars(
                select(o.c.amount_idr).where(o.c.kind == WAJIB, o.c.period == period)
            )
        )
    )
    if not amounts:
        return 0
    body = case(
        *(
            (
                o.c.amount_idr == value,
                literal(
                    f"Tagihan simpanan wajib {key}: {format_rupiah(value)}. Bayar lewat menu "
                    "Simpanan saya di aplikasi koperasi atau tunai ke bendahara."
                ),
            )
            for value in amounts
        ),
        else_=literal(f"Tagihan simpanan wajib {key} sudah terbit."),
    )
    dedupe = literal(f"wajib-bill:{key}:") + cast(m.c.id, String)
    stamp = now_utc()
    columns = _notification_columns(m, "wajib_bill", "Tagihan simpanan wajib", body, dedupe, stamp)
    source = (
        select(*columns.values())
        .select_from(o.join(m, m.c.id == o.c.member_id))
        .where(
            o.c.kind == WAJIB,
            o.c.period == period,
            o.c.is_open.is_(True),
            func.coalesce(m.c.email, m.c.phone).is_not(None),
        )
    )
    return _insert_notifications(columns, source, stamp)


def queue_arrears_reminders(on_date: dt.date, min_months: int = REMINDER_MIN_MONTHS) -> int:
    """A reminder to every member with ``min_months`` or more unpaid months (once a month)."""
    m, o = Member.__table__, Obligation.__table__
    owed = (
        select(
            o.c.member_id.label("member_id"),
            func.count().label("months"),
        )
        .where(o.c.kind == WAJIB, o.c.is_open.is_(True), o.c.period <= on_date)
        .group_by(o.c.member_id)
        .having(func.count() >= min_months)
        .subquery()
    )
    body = (
        literal("Pengingat: simpanan wajib Anda belum dibayar ")
        + cast(owed.c.months, String)
        + literal(
            " bulan. Tunggakan lebih dari batas AD membuat Anda tidak bisa memilih di rapat "
            "anggota. Bayar lewat menu Simpanan saya atau tunai ke bendahara."
        )
    )
    dedupe = literal(f"wajib-arrears:{month_key(on_date)}:") + cast(m.c.id, String)
    stamp = now_utc()
    columns = _notification_columns(
        m, "wajib_arrears", "Tunggakan simpanan wajib", body, dedupe, stamp
    )
    source = (
        select(*columns.values())
        .select_from(owed.join(m, m.c.id == owed.c.member_id))
        .where(
            m.c.status == MemberStatus.ACTIVE.value,
            func.coalesce(m.c.email, m.c.phone).is_not(None),
        )
    )
    return _insert_notifications(columns, source, stamp)


# --------------------------------------------------------------------------- arrears


def open_obligations(
    member_id: int, on_date: dt.date | None = None, kinds: tuple[str, ...] = (WAJIB,)
) -> list[Obligation]:
    """The member's open obligations of ``kinds`` due up to ``on_date`` (default: today),
    oldest first."""
    on_date = on_date or business_date()
    return list(
        db.session.scalars(
            select(Obligation)
            .where(
                Obligation.member_id == member_id,
                Obligation.is_open.is_(True),
                Obligation.kind.in_(kinds),
                Obligation.due_date <= on_date,
            )
            .order_by(Obligation.due_date, Obligation.priority, Obligation.id)
        )
    )


@dataclass(frozen=True)
class WajibPosition:
    """A member's open wajib in one read: the bills due (oldest first, ``open_obligations``)
    and the arrears (``arrears_months`` / ``arrears_idr``: open bills of periods up to the
    day)."""

    bills: list
    arrears_months: int
    arrears_idr: int


def wajib_position(member_id: int, on_date: dt.date | None = None) -> WajibPosition:
    on_date = on_date or business_date()
    rows = list(
        db.session.scalars(
            select(Obligation)
            .where(
                Obligation.member_id == member_id,
                Obligation.is_open.is_(True),
                Obligation.kind == WAJIB,
                or_(Obligation.due_date <= on_date, Obligation.period <= on_date),
            )
            .order_by(Obligation.due_date, Obligation.priority, Obligation.id)
        )
    )
    late = [o for o in rows if o.period <= on_date]
    return WajibPosition(
        [o for o in rows if o.due_date <= on_date],
        len(late),
        sum(o.amount_idr - o.paid_idr for o in late),
    )


def last_billed_period_query(member_id: int):
    return select(func.max(Obligation.period)).where(
        Obligation.member_id == member_id, Obligation.kind == WAJIB
    )


def last_billed_period(member_id: int) -> dt.date | None:
    return db.session.scalar(last_billed_period_query(member_id))


def all_open_idr(member_id: int) -> int:
    """Everything the member still owes, of every kind and due date (the exit set-off)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Obligation.amount_idr - Obligation.paid_idr), 0)).where(
            Obligation.member_id == member_id, Obligation.is_open.is_(True)
        )
    )
    return int(total or 0)


def arrears_months(member_ids, on_date: dt.date | None = None) -> dict[int, int]:
    """``{member_id: open obligations up to on_date}`` (members without any are left out)."""
    ids = [int(i) for i in member_ids]
    if not ids:
        return {}
    on_date = on_date or business_date()
    result: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = db.session.execute(
            select(Obligation.member_id, func.count())
            .where(
                Obligation.member_id.in_(chunk),
                Obligation.kind == WAJIB,
                Obligation.is_open.is_(True),
                Obligation.period <= on_date,
            )
            .group_by(Obligation.member_id)
        )
        result.update({int(m): int(n) for m, n in rows})
    return result


def arrears_idr(member_id: int, on_date: dt.date | None = None) -> int:
    on_date = on_date or business_date()
    total = db.session.scalar(
        select(func.coalesce(func.sum(Obligation.amount_idr - Obligation.paid_idr), 0)).where(
            Obligation.member_id == member_id,
            Obligation.kind == WAJIB,
            Obligation.is_open.is_(True),
            Obligation.period <= on_date,
        )
    )
    return int(total or 0)


def arrears_idr_of(member_ids, on_date: dt.date | None = None) -> dict[int, int]:
    """``{member_id: unpaid wajib in Rupiah}`` for many members in one grouped query per
    5,000 (members without arrears are left out): ``arrears_idr`` without a query per row."""
    ids = [int(i) for i in member_ids]
    on_date = on_date or business_date()
    result: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(Obligation.member_id, func.sum(Obligation.amount_idr - Obligation.paid_idr))
            .where(
                Obligation.member_id.in_(ids[start : start + 5000]),
                Obligation.kind == WAJIB,
                Obligation.is_open.is_(True),
                Obligation.period <= on_date,
            )
            .group_by(Obligation.member_id)
        )
        result.update({int(m): int(t or 0) for m, t in rows})
    return result


def member_arrears_idr_hook(member) -> int:
    """Unpaid wajib of ``member`` in Rupiah (the exit refund deducts it)."""
    return arrears_idr(member.id)


def arrears_list(on_date: dt.date | None = None, group: str | None = None, limit: int = 200):
    """Board view: members with open obligations, most months first."""
    on_date = on_date or business_date()
    o = Obligation
    stmt = (
        select(
            Member,
            func.count(o.id).label("months"),
            func.sum(o.amount_idr - o.paid_idr).label("owed_idr"),
            func.min(o.period).label("oldest"),
        )
        .join(o, o.member_id == Member.id)
        .where(
            o.kind == WAJIB,
            o.is_open.is_(True),
            o.period <= on_date,
            Member.status.in_([MemberStatus.ACTIVE, MemberStatus.EXIT_REQUESTED]),
        )
        .group_by(Member.id)
        .order_by(func.count(o.id).desc(), Member.id)
        .limit(limit)
    )
    if group:
        stmt = stmt.where(Member.group_code == group)
    return [
        (member, int(months), int(owed or 0), oldest)
        for member, months, owed, oldest in db.session.execute(stmt)
    ]


def period_summary(period: dt.date) -> dict:
    o = Obligation
    row = db.session.execute(
        select(
            func.count(o.id),
            func.coalesce(func.sum(o.amount_idr), 0),
            func.coalesce(func.sum(o.paid_idr), 0),
            func.coalesce(func.sum(case((o.is_open.is_(True), 1), else_=0)), 0),
        ).where(o.kind == WAJIB, o.period == period)
    ).one()
    return {
        "period": period,
        "count": int(row[0]),
        "billed_idr": int(row[1]),
        "paid_idr": int(row[2]),
        "open": int(row[3]),
    }
