"""SHU distribution: compute and post a run (issue 7, Must-show 6).

Data (untimed): ``bench.generate`` loads N members with 12 months of history for the fiscal
year (pokok on joining, wajib monthly, some exits) and 12 months of patronage each; an income
entry gives the year a surplus of Rp 10.000 per member; an adopted SHU-allocation resolution
referencing the run exists (rows written directly: the ballot is not what is measured).

Subject (timed): ``payouts.services.create_run`` + ``compute_run`` (capital basis and
patronage set-based, the exact allocation of ``payouts.allocation``, member lines inserted with
chunked executemany) + ``approve_run`` + ``post_run`` (reserve, funds and one SHU-payable
posting per member through ``post_entries``), one commit. ``kmp ledger-check`` must pass.

Floor: ONE bare ``INSERT ... SELECT`` into ``distribution_lines`` computing the same floor
integer shares in SQL (per-group window sums of the capital basis and the patronage; no
largest-remainder Rupiah, no ledger posting, no checks).
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import func, select, text

NAME = "shu"
TITLE = "SHU distribution: compute + post a run"
UNIT = "members/s"
DEFAULT_SIZES = (10_000,)
LARGE_SIZES = (1_000_000,)
TARGET = 5.0  # subject time within 5x of the floor's
FLOOR_NAME = "one bare INSERT ... SELECT of the members' integer shares (window sums)"
SHU_PER_MEMBER = 10_000


def _fiscal_year() -> int:
    from kmp.timeutil import business_date

    return business_date().year - 1


def _setup(n: int) -> int:
    """Members, capital and patronage for the fiscal year; the year's surplus. Returns S."""
    from bench.generate import generate
    from kmp.extensions import db
    from kmp.ledger.chart import CASH
    from kmp.ledger.services import EntrySpec, post_entries

    fy = _fiscal_year()
    with db.engine.connect() as conn:
        generate(conn, members=n, months=12, end_month=dt.date(fy + 1, 1, 1))
        conn.commit()
    shu = n * SHU_PER_MEMBER
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"bench:shu-income:{fy}",
                description="Pendapatan jasa (bench)",
                lines=[(CASH, shu), ("income:member-services", -shu)],
                source_kind="bench",
                entry_date=dt.date(fy, 6, 30),
            )
        ]
    )
    db.session.commit()
    return shu


def _resolution(run_id: int):
    """An adopted SHU-allocation resolution referencing the run (written directly)."""
    from governance.models import Proposal, ProposalKind, ProposalStatus, Resolution
    from kmp.extensions import db
    from kmp.timeutil import now_utc

    now = now_utc()
    proposal = Proposal(
        kind=ProposalKind.SHU_ALLOCATION,
        title="Pembagian SHU (bench)",
        opens_at=now - dt.timedelta(hours=2),
        closes_at=now - dt.timedelta(hours=1),
        reference=f"distribution_run:{run_id}",
        status=ProposalStatus.CLOSED,
        census_fingerprint="bench",
        options=[{"key": "yes", "label": "Setuju"}, {"key": "no", "label": "Tidak"}],
    )
    db.session.add(proposal)
    db.session.flush()
    resolution = Resolution(proposal_id=proposal.id, outcome="passed", tally={})
    db.session.add(resolution)
    db.session.flush()
    return resolution


def subject_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from kmp.ledger.models import Posting
    from kmp.ledger.queries import check_ledger
    from payouts import approval, posting, services
    from payouts.models import DistributionRun

    shu = _setup(n)
    fy = _fiscal_year()
    # the run row and its resolution exist before the timed part (the board and the RAT)
    run = services.create_run(fy)
    db.session.flush()
    resolution = _resolution(run.id)
    db.session.commit()
    postings_before = db.session.scalar(select(func.count()).select_from(Posting))
    with timer:
        run = db.session.get(DistributionRun, run.id)
        services.compute_run(run)
        db.session.commit()
        approval.approve_run(run, resolution)
        posting.post_run(run)
        db.session.commit()
    started = time.perf_counter()
    check = check_ledger()
    check_seconds = time.perf_counter() - started
    postings = db.session.scalar(select(func.count()).select_from(Posting)) - postings_before
    return {
        "members_allocated": run.member_count,
        "members_total_idr": run.members_total_idr,
        "shu_idr": shu,
        "allocated_idr": sum(int(v) for v in run.summary["funds"].values()),
        "postings_written": postings,
        "ledger_check_ok": check.ok,
        "ledger_check_seconds": round(check_seconds, 2),
    }


FLOOR_SQL = """
INSERT INTO distribution_lines
    (run_id, member_id, member_no, group_code, months, capital_basis_idr, patronage,
     jasa_modal_idr, jasa_usaha_idr, total_idr, method, status)
SELECT :run_id, b.id, b.member_no, b.group_code, 12, b.capital, b.patronage,
       b.modal_share, b.usaha_share, b.modal_share + b.usaha_share, 'sukarela', 'unpaid'
FROM (
    SELECT w.*,
           CASE WHEN w.capital_total > 0 THEN {modal_share}
                ELSE 0 END AS modal_share,
           CASE WHEN w.patronage_total > 0 THEN {usaha_share}
                ELSE 0 END AS usaha_share
    FROM (
        SELECT c.id, c.member_no, c.group_code, c.capital, COALESCE(p.patronage, 0) AS patronage,
               CAST(SUM(c.capital) OVER (PARTITION BY c.group_code) AS BIGINT) AS capital_total,
               CAST(SUM(COALESCE(p.patronage, 0)) OVER (PARTITION BY c.group_code) AS BIGINT)
                   AS patronage_total
        FROM (
            SELECT m.id, m.member_no, m.group_code,
                   CAST(COALESCE(SUM(po.amount_idr * a.normal_sign), 0) AS BIGINT) AS capital
            FROM members m
            JOIN accounts a ON a.owner_id = m.id
                AND (a.code LIKE 'equity:savings:principal:%'
                     OR a.code LIKE 'equity:savings:mandatory:%')
            LEFT JOIN postings po ON po.account_id = a.id AND po.entry_date <= :year_end
            WHERE m.member_no IS NOT NULL
            GROUP BY m.id, m.member_no, m.group_code
        ) c
        LEFT JOIN (
            SELECT member_id, CAST(SUM(value) AS BIGINT) AS patronage
            FROM patronage_records
            WHERE period >= :first AND period <= :last
            GROUP BY member_id
        ) p ON p.member_id = c.id
    ) w
    JOIN bench_shu_pools g ON g.group_code = w.group_code
) b
"""


def _floor_sql(dialect: str) -> str:
    """pool x basis overflows BIGINT at a million members (a pool of billions of Rupiah times
    a year's spend): PostgreSQL multiplies in NUMERIC and floors back to BIGINT; SQLite's
    integers turn into REAL on overflow by themselves (a floor need not be exact)."""
    if dialect == "postgresql":
        share = "CAST(FLOOR(CAST(g.{pool} AS NUMERIC) * w.{basis} / w.{total}) AS BIGINT)"
    else:
        share = "g.{pool} * w.{basis} / w.{total}"
    return FLOOR_SQL.format(
        modal_share=share.format(pool="modal_pool", basis="capital", total="capital_total"),
        usaha_share=share.format(pool="usaha_pool", basis="patronage", total="patronage_total"),
    )


def floor_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from kmp.money import allocate
    from members.ad.services import current_ad
    from payouts.models import DistributionLine, DistributionRun, RunStatus

    shu = _setup(n)
    fy = _fiscal_year()
    ad = current_ad()
    members_pool = allocate(shu, ad.allocation_pairs())["jasa_anggota"]
    groups = [g for g in ad.active_groups]
    group_pools = allocate(members_pool, [(g.code, g.shu_weight_bp) for g in groups])
    db.session.execute(
        text(
            "CREATE TEMPORARY TABLE bench_shu_pools "
            "(group_code VARCHAR(20), modal_pool BIGINT, usaha_pool BIGINT)"
        )
    )
    for g in groups:
        halves = allocate(group_pools[g.code], [("m", ad.jasa_modal_bp), ("u", ad.jasa_usaha_bp)])
        db.session.execute(
            text("INSERT INTO bench_shu_pools VALUES (:g, :m, :u)"),
            {"g": g.code, "m": halves["m"], "u": halves["u"]},
        )
    run = DistributionRun(fiscal_year=fy, status=RunStatus.COMPUTED)
    db.session.add(run)
    db.session.commit()
    with timer:
        db.session.execute(
            text(_floor_sql(db.engine.dialect.name)),
            {
                "run_id": run.id,
                "year_end": dt.date(fy, 12, 31),
                "first": f"{fy}-01",
                "last": f"{fy}-12",
            },
        )
        db.session.commit()
    written = db.session.scalar(
        select(func.count()).select_from(DistributionLine).where(DistributionLine.run_id == run.id)
    )
    return {"members_allocated": written}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        if subject["allocated_idr"] != subject["shu_idr"]:
            raise RuntimeError("the run does not allocate the whole SHU")
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
                "months": 12,
                "members_allocated": subject["members_allocated"],
                "floor_members": floor["members_allocated"],
                "postings": subject["postings_written"],
                "ledger_check_ok": subject["ledger_check_ok"],
                "ledger_check_seconds": subject["ledger_check_seconds"],
            },
        )
        if not subject["ledger_check_ok"]:
            result["target_met"] = False
        results.append(result)
    return results
