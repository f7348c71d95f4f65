"""Monthly simpanan wajib billing of N active members (issue 5, Must-show 6).

Subject: ``members.savings.billing.bill_wajib(month)`` + one commit, as the monthly job and
``flask --app wsgi members bill-wajib`` run it: reads the AD in force, one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` from ``members`` (amount per group from the
AD by a CASE), then one aggregate for the amount billed. Afterwards the benchmark re-runs it
once to show the second run creates nothing (``second_run_created`` must be 0).

Floor: one bare ``INSERT ... SELECT`` of the same rows (same columns and values, the amount
a constant) into ``wajib_obligations`` + commit, no AD read, no conflict clause, no totals.

Setup (not timed): N active individual members written set-based by one ``INSERT ...
SELECT`` from a recursive number series (``bench.generate`` builds full members with ledger
history, which billing does not read).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, case, cast, func, insert, literal, select

NAME = "billing"
TITLE = "Monthly simpanan wajib billing"
UNIT = "members/s"
DEFAULT_SIZES = (100_000,)
LARGE_SIZES = (1_000_000,)
TARGET = 3.0  # subject time within 3x of the bare INSERT ... SELECT
FLOOR_NAME = "one bare INSERT ... SELECT of the same obligation rows"
GROUPS = ("pengemudi", "kurir", "pengguna")


def _insert_members(n: int) -> dt.date:
    """N active members (ids 1..N), joined a year ago; returns the month to bill."""
    from kmp.db import UTCDateTime
    from kmp.extensions import db
    from kmp.timeutil import add_months, business_date, now_utc
    from members.register.models import Member

    seq = select(literal(1, Integer).label("i")).cte("seq", recursive=True)
    seq = seq.union_all(select((seq.c.i + 1).label("i")).where(seq.c.i < n))
    i = seq.c.i
    text_i = cast(i, String)
    now = literal(now_utc(), UTCDateTime())
    month = business_date().replace(day=1)
    joined = add_months(month, -12)
    columns = {
        "id": i,
        "member_no": literal("B-") + text_i,
        "group_code": case(
            (i % 3 == 0, literal(GROUPS[0])), (i % 3 == 1, literal(GROUPS[1])), else_=GROUPS[2]
        ),
        "kind": literal("individual"),
        "status": literal("active"),
        "full_name": literal("Anggota Bench ") + text_i,
        "nik": literal("N") + text_i,
        "is_extraordinary": literal(False),
        "applied_at": now,
        "status_changed_at": now,
        "joined_date": literal(joined),
        "is_imported": literal(False),
    }
    table = Member.__table__
    db.session.execute(insert(table).from_select(list(columns), select(*columns.values())))
    db.session.commit()
    return month


def _count(period: dt.date) -> int:
    from kmp.extensions import db
    from members.savings.models import Obligation

    return int(
        db.session.scalar(
            select(func.count()).select_from(Obligation).where(Obligation.period == period)
        )
    )


def subject_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from members.savings.billing import bill_wajib

    month = _insert_members(n)
    with timer:
        result = bill_wajib(month)
        db.session.commit()
    again = bill_wajib(month)
    db.session.commit()
    return {
        "rows_written": _count(month),
        "created": result.created,
        "amount_idr": result.amount_idr,
        "second_run_created": again.created,
    }


def floor_phase(timer, *, n: int) -> dict:
    from kmp.db import Rupiah, UTCDateTime
    from kmp.extensions import db
    from kmp.timeutil import now_utc
    from members.register.models import Member
    from members.savings.models import Obligation

    month = _insert_members(n)
    m = Member.__table__
    columns = {
        "member_id": m.c.id,
        "period": literal(month),
        "group_code": m.c.group_code,
        "amount_idr": literal(25_000, Rupiah()),
        "paid_idr": literal(0, Rupiah()),
        "is_open": literal(True),
        "ad_version_id": literal(1, Integer()),
        "created_at": literal(now_utc(), UTCDateTime()),
    }
    stmt = insert(Obligation.__table__).from_select(
        list(columns), select(*columns.values()).where(m.c.status == "active")
    )
    with timer:
        db.session.execute(stmt)
        db.session.commit()
    return {"rows_written": _count(month)}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        if subject["rows_written"] != n or subject["created"] != n:
            raise RuntimeError(f"bill_wajib wrote {subject['rows_written']} rows for {n}")
        if floor["rows_written"] != n:
            raise RuntimeError(f"the floor wrote {floor['rows_written']} rows for {n}")
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="slowdown",
            target_value=TARGET,
            extra={
                "amount_idr": subject["amount_idr"],
                "second_run_created": subject["second_run_created"],
            },
        )
        if subject["second_run_created"] != 0:
            result["target_met"] = False  # a second run must create nothing
        results.append(result)
    return results
