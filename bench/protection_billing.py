"""The combined monthly bill (simpanan wajib + BPJS contributions) of N enrolled members
(issue 19, must-show 6).

Subject: ``members.protection.billing.bill_month(month)`` + one commit, as the monthly job and
``flask --app wsgi bpjs bill`` run it: ``bill_wajib`` (one ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING`` from ``members``), then per programme (JKK, JKM, JHT, JKN) one ``INSERT
... SELECT`` of the contribution rows from the confirmed enrolments and the terms in force
that month (the latest terms row on or before it, a correlated ``max``; the rates in force as
literals) and one ``INSERT ... SELECT`` of their obligations, both with ``ON CONFLICT DO
NOTHING``, then the totals. A second run afterwards must create nothing.

Floor: the same rows written by bare ``INSERT ... SELECT`` statements in the same run: the
wajib obligations from ``members``; per programme the contribution rows from enrolments joined
to their (single) terms row by equality, amounts precomputed by the same arithmetic, then the
obligations from those rows — no rate or AD read, no "terms in force" lookup, no conflict
clauses, no totals.

Setup (not timed): N active members (``bench.billing``), N confirmed enrolments and one terms
row each, set-based: every member JKK + JKM on a declared income of Rp1-3 juta, a third with
JHT, half with JKN class III for 1-3 persons.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, case, func, insert, literal, select

NAME = "protection_billing"
TITLE = "Combined monthly bill: wajib + BPJS contributions"
UNIT = "members/s"
DEFAULT_SIZES = (100_000,)
LARGE_SIZES = (1_000_000,)
TARGET = 3.0  # within 3x of the bare INSERT ... SELECT statements
FLOOR_NAME = "bare INSERT ... SELECT of the same obligation and contribution rows"


def _enrol_all(month: dt.date) -> None:
    from kmp.db import UTCDateTime
    from kmp.extensions import db
    from kmp.timeutil import now_utc
    from members.protection.models import EnrolmentTerms, ProtectionEnrolment
    from members.register.models import Member

    m = Member.__table__
    now = literal(now_utc(), UTCDateTime())
    enrolments = {
        "id": m.c.id,
        "member_id": m.c.id,
        "status": literal("confirmed"),
        "consent_version": literal("bench"),
        "consent_at": now,
        "auto_debit": literal(False),
        "requested_at": now,
        "decided_at": now,
        "start_period": literal(month),
    }
    db.session.execute(
        insert(ProtectionEnrolment.__table__).from_select(
            list(enrolments), select(*enrolments.values())
        )
    )
    jkn = m.c.id % 2 == 0
    terms = {
        "id": m.c.id,
        "enrolment_id": m.c.id,
        "effective_from": literal(month),
        "jkk": literal(True),
        "jkm": literal(True),
        "jht": m.c.id % 3 == 0,
        "income_idr": literal(1_000_000) + (m.c.id % 5) * 500_000,
        "jkn_class": case((jkn, literal("3")), else_=literal(None, String)),
        "family_count": case((jkn, m.c.id % 3), else_=literal(0)),
        "created_at": now,
    }
    db.session.execute(
        insert(EnrolmentTerms.__table__).from_select(list(terms), select(*terms.values()))
    )
    db.session.commit()


def _setup(n: int) -> dt.date:
    from bench.billing import _insert_members

    month = _insert_members(n)
    _enrol_all(month)
    return month


def _counts(month: dt.date) -> tuple[int, int]:
    from kmp.extensions import db
    from members.protection.models import Contribution
    from members.savings.models import Obligation

    obligations = db.session.scalar(
        select(func.count()).select_from(Obligation).where(Obligation.period == month)
    )
    contributions = db.session.scalar(
        select(func.count()).select_from(Contribution).where(Contribution.period == month)
    )
    return int(obligations), int(contributions)


def subject_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from members.protection.billing import bill_month

    month = _setup(n)
    with timer:
        result = bill_month(month)
        db.session.commit()
    again = bill_month(month)
    db.session.commit()
    obligations, contributions = _counts(month)
    return {
        "obligations": obligations,
        "contributions": contributions,
        "wajib_created": result.wajib_created,
        "contributions_created": result.contributions.total_created,
        "contributions_idr": result.contributions.total_idr,
        "second_run_created": again.wajib_created + again.contributions.total_created,
    }


def floor_phase(timer, *, n: int) -> dict:
    from kmp.db import Rupiah, UTCDateTime
    from kmp.extensions import db
    from kmp.timeutil import now_utc
    from members.protection.models import Contribution, EnrolmentTerms, ProtectionEnrolment
    from members.protection.rates import KINDS, PRIORITIES, TRUST_ACCOUNTS
    from members.register.models import Member
    from members.savings.models import Obligation

    month = _setup(n)
    m, e, t = Member.__table__, ProtectionEnrolment.__table__, EnrolmentTerms.__table__
    c, o = Contribution.__table__, Obligation.__table__
    stamp = literal(now_utc(), UTCDateTime())
    wajib = {
        "member_id": m.c.id,
        "kind": literal("wajib"),
        "period": literal(month),
        "due_date": literal(month),
        "group_code": m.c.group_code,
        "amount_idr": literal(25_000, Rupiah()),
        "paid_idr": literal(0, Rupiah()),
        "is_open": literal(True),
        "created_at": stamp,
    }
    statements = [
        insert(o).from_select(list(wajib), select(*wajib.values()).where(m.c.status == "active"))
    ]
    amounts = {
        "jkk": ((t.c.income_idr * 100 + 5_000) // 10_000, t.c.jkk.is_(True)),
        "jkm": (literal(6_800), t.c.jkm.is_(True)),
        "jht": ((t.c.income_idr * 200 + 5_000) // 10_000, t.c.jht.is_(True)),
        "jkn": ((1 + t.c.family_count) * 35_000, t.c.jkn_class.is_not(None)),
    }
    for programme, (amount, flag) in amounts.items():
        rows = {
            "member_id": e.c.member_id,
            "enrolment_id": e.c.id,
            "programme": literal(programme),
            "period": literal(month),
            "group_code": m.c.group_code,
            "base_idr": literal(0) if programme == "jkn" else t.c.income_idr,
            "persons": (1 + t.c.family_count) if programme == "jkn" else literal(1, Integer),
            "full_idr": amount,
            "subsidy_idr": literal(0),
            "subsidy_state": literal("none"),
            "created_at": stamp,
        }
        source = (
            select(*rows.values())
            .select_from(e.join(t, t.c.enrolment_id == e.c.id).join(m, m.c.id == e.c.member_id))
            .where(flag)
        )
        statements.append(insert(c).from_select(list(rows), source))
        owed = {
            "member_id": c.c.member_id,
            "kind": literal(KINDS[programme]),
            "period": literal(month),
            "due_date": literal(month),
            "priority": literal(PRIORITIES[programme]),
            "account_code": literal(TRUST_ACCOUNTS[programme]),
            "group_code": c.c.group_code,
            "amount_idr": c.c.full_idr,
            "paid_idr": literal(0, Rupiah()),
            "is_open": literal(True),
            "created_at": stamp,
        }
        statements.append(
            insert(o).from_select(
                list(owed), select(*owed.values()).where(c.c.programme == programme)
            )
        )
    with timer:
        for statement in statements:
            db.session.execute(statement)
        db.session.commit()
    obligations, contributions = _counts(month)
    return {"obligations": obligations, "contributions": contributions}


def expected_rows(n: int) -> tuple[int, int]:
    """(obligations, contributions) the setup implies: JKK + JKM for all, JHT for ids
    divisible by 3, JKN for even ids; wajib for all."""
    jht = n // 3
    jkn = n // 2
    contributions = 2 * n + jht + jkn
    return n + contributions, contributions


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        want = expected_rows(n)
        got = (subject["obligations"], subject["contributions"])
        if got != want:
            raise RuntimeError(f"bill_month wrote {got} rows for {n}, expected {want}")
        if (floor["obligations"], floor["contributions"]) != want:
            raise RuntimeError(f"the floor wrote {floor} rows for {n}, expected {want}")
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
                "rows_written": want[0] + want[1],
                "contributions_idr": subject["contributions_idr"],
                "second_run_created": subject["second_run_created"],
            },
        )
        if subject["second_run_created"] != 0:
            result["target_met"] = False  # a second run must create nothing
        results.append(result)
    return results
