"""Aging the loan portfolio (issue 18, must-show 7): days past due, collectibility, late
penalties and the PPAP for N active loans, set-based.

Subject: ``members.loans.aging.age_loans(on_date)`` + one commit, as the daily job and
``flask --app wsgi loans age --on YYYY-MM-DD`` run it: one ``INSERT ... SELECT ... ON
CONFLICT DO UPDATE`` of the penalty obligations of overdue instalments (grouped per loan and
month, joined to the loan and its product), the reset of loans that were late, one ``UPDATE
... FROM`` of days past due and class from the oldest open instalment due before the date
(grouped per loan ref), the ``UPDATE`` of loans with nothing open to ``paid`` (a correlated
``NOT EXISTS``), one grouped sum of the outstanding principal per class, and ONE ledger entry
bringing each class's allowance account to its rate. A second run the same day must post
nothing.

Floor: the same work in bare SQL in the same run: the penalty rows by a plain ``INSERT ...
SELECT`` (no conflict clause), days past due and class by the same ``UPDATE ... FROM``, the
paid update, and the grouped sum — no reset, no ledger entry, no allowance rows.

Setup (not timed): N active members (``bench.billing``) with one flat loan each
(Rp1.200.000, 12 months) and two instalments open (interest + principal obligations: 4 rows
per loan): 70 % current (the next instalment due in 20 days), 20 % 10 days late, 10 % 100
days late.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, and_, case, cast, exists, func, insert, literal, select

NAME = "loans_aging"
TITLE = "Loan aging: days past due, collectibility, penalties, PPAP"
UNIT = "loans/s"
DEFAULT_SIZES = (100_000,)
LARGE_SIZES = (1_000_000,)
TARGET = 3.0
FLOOR_NAME = "bare SQL: penalty INSERT ... SELECT, UPDATE ... FROM, grouped sum"


def _setup(n: int) -> dt.date:
    from bench.billing import _insert_members
    from kmp.auth import create_user
    from kmp.db import Rupiah, UTCDateTime
    from kmp.extensions import db
    from kmp.timeutil import business_date, now_utc
    from members.loans import policy
    from members.loans.models import Loan, LoanProduct
    from members.register.models import Member
    from members.savings.models import Obligation

    _insert_members(n)
    today = business_date()
    maker = create_user(full_name="Bench", password="bench-password-1", email="b@bench.example")
    checker = create_user(full_name="Bench 2", password="bench-password-1", email="c@bench.example")
    db.session.flush()
    product = LoanProduct(
        id=1,
        code="bench",
        version=1,
        name="Bench",
        status="approved",
        min_principal_idr=1,
        max_principal_idr=10**9,
        min_months=1,
        max_months=60,
        annual_rate_bp=1800,
        method="flat",
        admin_fee_idr=0,
        provisi_bp=0,
        penalty_day_bp=10,
        penalty_cap_bp=1000,
        savings_multiple=0,
        min_active_months=0,
        max_arrears_idr=0,
        guarantors=0,
        rebate_pct=100,
        single_approval_max_idr=10**9,
        interest_is_patronage=False,
        created_by_id=maker.id,
        approved_by_id=checker.id,
    )
    db.session.add(product)
    db.session.commit()
    m = Member.__table__
    now = literal(now_utc(), UTCDateTime())
    ref = literal("L") + cast(m.c.id, String)
    loans = {
        "id": m.c.id,
        "member_id": m.c.id,
        "product_id": literal(1),
        "status": literal("active"),
        "principal_idr": literal(1_200_000, Rupiah()),
        "months": literal(12),
        "method": literal("flat"),
        "annual_rate_bp": literal(1800),
        "admin_fee_idr": literal(0, Rupiah()),
        "provisi_idr": literal(0, Rupiah()),
        "purpose": literal("bench"),
        "group_code": m.c.group_code,
        "approvals_needed": literal(1),
        "disbursement_method": literal("sukarela"),
        "disbursed_on": literal(today - dt.timedelta(days=130)),
        "disbursement_entry_id": m.c.id,
        "obligation_ref": ref,
        "restructures": literal(0),
        "auto_debit": literal(False),
        "days_past_due": literal(0),
        "collectibility": literal("lancar"),
        "recovered_idr": literal(0, Rupiah()),
        "applied_at": now,
    }
    db.session.execute(insert(Loan.__table__).from_select(list(loans), select(*loans.values())))
    late = m.c.id % 10
    first_due = case(
        (late < 7, literal(today + dt.timedelta(days=20))),
        (late < 9, literal(today - dt.timedelta(days=10))),
        else_=literal(today - dt.timedelta(days=100)),
    )
    for offset, kinds in ((0, "first"), (1, "second")):
        for kind, amount in ((policy.INTEREST, 18_000), (policy.PRINCIPAL, 100_000)):
            due = first_due if offset == 0 else literal(today + dt.timedelta(days=50))
            period = (
                case(
                    (late < 7, literal((today + dt.timedelta(days=20)).replace(day=1))),
                    (late < 9, literal((today - dt.timedelta(days=10)).replace(day=1))),
                    else_=literal((today - dt.timedelta(days=100)).replace(day=1)),
                )
                if offset == 0
                else literal((today + dt.timedelta(days=50)).replace(day=1))
            )
            rows = {
                "member_id": m.c.id,
                "kind": literal(kind),
                "period": period,
                "due_date": due,
                "ref": ref,
                "priority": literal(policy.PRIORITY[kind]),
                "account_code": literal(
                    policy.INTEREST_INCOME if kind == policy.INTEREST else "asset:loans:bench"
                ),
                "group_code": m.c.group_code,
                "amount_idr": literal(amount, Rupiah()),
                "paid_idr": literal(0, Rupiah()),
                "is_open": literal(True),
                "created_at": now,
            }
            db.session.execute(
                insert(Obligation.__table__).from_select(list(rows), select(*rows.values()))
            )
        del kinds
    db.session.commit()
    return today


def _late_count() -> int:
    from kmp.extensions import db
    from members.loans.models import Loan

    return int(db.session.scalar(select(func.count()).where(Loan.days_past_due > 0)))


def subject_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from members.loans.aging import age_loans

    today = _setup(n)
    with timer:
        result = age_loans(today)
        db.session.commit()
    again = age_loans(today)
    db.session.commit()
    return {
        "late_loans": _late_count(),
        "penalties": result.penalties,
        "outstanding_idr": result.outstanding_idr,
        "ppap_idr": result.required_idr,
        "second_run_entry": again.entry_id,
    }


def floor_phase(timer, *, n: int) -> dict:
    from sqlalchemy import update

    from kmp.db import Rupiah
    from kmp.extensions import db
    from kmp.timeutil import now_utc
    from members.loans import policy
    from members.loans.aging import _class_case, _days
    from members.loans.models import Loan
    from members.savings.models import Obligation

    today = _setup(n)
    o, loans = Obligation.__table__, Loan.__table__
    group = (
        select(
            o.c.member_id,
            o.c.ref,
            o.c.period,
            func.min(o.c.due_date).label("due"),
            func.sum(o.c.amount_idr - o.c.paid_idr).label("open_idr"),
        )
        .where(
            o.c.kind.in_((policy.INTEREST, policy.PRINCIPAL)),
            o.c.is_open.is_(True),
            o.c.due_date < today,
        )
        .group_by(o.c.member_id, o.c.ref, o.c.period)
        .subquery()
    )
    days = _days(today, group.c.due)
    by_day = group.c.open_idr * 10 * days // 10_000
    cap = group.c.open_idr * 1000 // 10_000
    penalty = {
        "member_id": group.c.member_id,
        "kind": literal(policy.PENALTY),
        "period": group.c.period,
        "due_date": group.c.due,
        "ref": group.c.ref,
        "priority": literal(10),
        "account_code": literal(policy.PENALTY_INCOME),
        "amount_idr": cast(case((by_day < cap, by_day), else_=cap), Rupiah()),
        "paid_idr": literal(0, Rupiah()),
        "is_open": literal(True),
        "created_at": literal(now_utc()),
    }
    late = (
        select(o.c.ref, func.min(o.c.due_date).label("oldest"))
        .where(o.c.kind.in_(policy.KINDS), o.c.is_open.is_(True), o.c.due_date < today)
        .group_by(o.c.ref)
        .subquery()
    )
    late_days = _days(today, late.c.oldest)
    with timer:
        db.session.execute(insert(o).from_select(list(penalty), select(*penalty.values())))
        db.session.execute(
            update(loans)
            .where(loans.c.obligation_ref == late.c.ref)
            .values(days_past_due=late_days, collectibility=_class_case(late_days))
        )
        still = exists().where(o.c.ref == loans.c.obligation_ref, o.c.is_open.is_(True))
        db.session.execute(
            update(loans).where(loans.c.status == "active", ~still).values(status="paid")
        )
        sums = db.session.execute(
            select(loans.c.collectibility, func.sum(o.c.amount_idr - o.c.paid_idr))
            .select_from(
                loans.join(
                    o,
                    and_(
                        o.c.ref == loans.c.obligation_ref,
                        o.c.kind == policy.PRINCIPAL,
                        o.c.is_open.is_(True),
                    ),
                )
            )
            .where(loans.c.status == "active")
            .group_by(loans.c.collectibility)
        ).all()
        db.session.commit()
    return {"late_loans": _late_count(), "outstanding_idr": int(sum(s for _c, s in sums))}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        want_late = n - (n // 10) * 7 - min(n % 10, 7) + (0 if n % 10 < 7 else 0)
        if subject["late_loans"] != floor["late_loans"]:
            raise RuntimeError(f"late loans differ: {subject['late_loans']} vs {floor}")
        if subject["outstanding_idr"] != floor["outstanding_idr"] != 200_000 * n:
            raise RuntimeError(f"outstanding differs: {subject} vs {floor}")
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
                "late_loans": subject["late_loans"],
                "penalties": subject["penalties"],
                "ppap_idr": subject["ppap_idr"],
                "second_run_entry": subject["second_run_entry"],
            },
        )
        del want_late
        if subject["second_run_entry"] is not None:
            result["target_met"] = False  # a second run the same day must post nothing
        results.append(result)
    return results
