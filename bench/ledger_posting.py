"""Ledger posting throughput (issue 3, Must-show 7; issue 9).

Subject: N two-line entries (a member's simpanan sukarela deposit in cash:
``[(asset:cash, +X), (liability:savings:voluntary:<no>, -X)]``) posted through
``kmp.ledger.services.post_entries`` in batches of ``BATCH`` entries, one commit per batch,
spread over ``MEMBERS`` members, with account codes as callers pass them. Everything the
service does is timed: code resolution, shape checks, fingerprints, idempotency lookup,
closed-period check, account locks (``FOR UPDATE`` on PostgreSQL), overdraft check, inserts
with ``RETURNING``, maintained-balance updates.

Floor: the same journal_entries and postings rows (same count, same column values, ids
assigned by the caller) written into an identical fresh schema with bare Core ``insert()``
executemany per table, one commit per batch, no lookups and no checks. Both sides build their
rows from the same pre-generated (member, amount, date) list inside the timed part.

After the subject run ``check_ledger()`` must pass (reported as ``ledger_check_ok``).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from sqlalchemy import func, insert, select

NAME = "ledger_posting"
TITLE = "Ledger posting throughput"
UNIT = "entries/s"
DEFAULT_SIZES = (100_000,)
LARGE_SIZES = (1_000_000,)
MEMBERS = 1_000
BATCH = 5_000
TARGET = 0.25  # subject throughput >= 25 % of the floor's
FLOOR_NAME = "bare Core insert() executemany of the same journal_entries + postings rows"
DESCRIPTION = "Setoran simpanan sukarela (tunai)"
SOURCE_KIND = "bench-deposit"


def _inputs(n: int, seed: int = 7) -> list[tuple[int, int, dt.date]]:
    """(member index, amount, entry date) per entry: amounts Rp 10.000..500.000 in whole
    thousands, dates spread over the last 365 days."""
    from kmp.timeutil import business_date

    rng = random.Random(seed)
    today = business_date()
    days = [today - dt.timedelta(days=d) for d in range(365)]
    return [
        (rng.randrange(MEMBERS), rng.randrange(10, 501) * 1000, days[rng.randrange(365)])
        for _ in range(n)
    ]


def _open_members():
    from bench.generate import insert_member_accounts, member_no
    from kmp.extensions import db
    from kmp.ledger.chart import member_account_code

    members = [(i + 1, member_no(i + 1)) for i in range(MEMBERS)]
    with db.engine.begin() as conn:
        ids = insert_member_accounts(conn, members)
    codes = [member_account_code("sukarela", no) for _, no in members]
    return codes, [ids[c] for c in codes]


def subject_phase(timer, *, n: int, batch: int) -> dict:
    from kmp.extensions import db
    from kmp.ledger.chart import CASH
    from kmp.ledger.queries import check_ledger
    from kmp.ledger.services import EntrySpec, post_entries

    codes, _ = _open_members()
    rows = _inputs(n)
    with timer:
        for start in range(0, n, batch):
            specs = [
                EntrySpec(
                    idempotency_key=f"bench:deposit:{i}",
                    description=DESCRIPTION,
                    lines=[(CASH, amount), (codes[member], -amount)],
                    source_kind=SOURCE_KIND,
                    source_id=str(i),
                    entry_date=day,
                )
                for i, (member, amount, day) in enumerate(rows[start : start + batch], start)
            ]
            post_entries(specs)
            db.session.commit()
    started = time.perf_counter()
    check = check_ledger()
    check_seconds = time.perf_counter() - started
    from kmp.ledger.models import JournalEntry, Posting

    entries = db.session.scalar(
        select(func.count())
        .select_from(JournalEntry)
        .where(JournalEntry.source_kind == SOURCE_KIND)
    )
    postings = db.session.scalar(select(func.count()).select_from(Posting))
    return {
        "entries_written": entries,
        "postings_written": postings,
        "ledger_check_ok": check.ok,
        "ledger_check": check.summary(),
        "ledger_check_seconds": round(check_seconds, 2),
    }


def floor_phase(timer, *, n: int, batch: int) -> dict:
    from kmp.extensions import db
    from kmp.ledger.chart import CASH
    from kmp.ledger.models import Account, JournalEntry, Posting
    from kmp.timeutil import now_utc

    _, account_ids = _open_members()
    cash_id = db.session.scalar(select(Account.id).where(Account.code == CASH))
    db.session.commit()
    rows = _inputs(n)
    entries_table, postings_table = JournalEntry.__table__, Posting.__table__
    fingerprint = "0" * 64  # same width as the service's sha256 hex digest
    with db.engine.connect() as conn:
        next_id = conn.execute(select(func.coalesce(func.max(entries_table.c.id), 0))).scalar() + 1
        with timer:
            for start in range(0, n, batch):
                now = now_utc()
                chunk = rows[start : start + batch]
                entry_rows = [
                    {
                        "id": next_id + i,
                        "idempotency_key": f"bench:deposit:{i}",
                        "entry_date": day,
                        "recorded_at": now,
                        "description": DESCRIPTION,
                        "source_kind": SOURCE_KIND,
                        "source_id": str(i),
                        "posted_by_id": None,
                        "reverses_id": None,
                        "fingerprint": fingerprint,
                        "posting_count": 2,
                    }
                    for i, (_, _, day) in enumerate(chunk, start)
                ]
                posting_rows = []
                for i, (member, amount, day) in enumerate(chunk, start):
                    posting_rows.append(
                        {
                            "entry_id": next_id + i,
                            "account_id": cash_id,
                            "amount_idr": amount,
                            "entry_date": day,
                        }
                    )
                    posting_rows.append(
                        {
                            "entry_id": next_id + i,
                            "account_id": account_ids[member],
                            "amount_idr": -amount,
                            "entry_date": day,
                        }
                    )
                conn.execute(insert(entries_table), entry_rows)
                conn.execute(insert(postings_table), posting_rows)
                conn.commit()
        entries = conn.execute(select(func.count()).select_from(entries_table)).scalar()
        postings = conn.execute(select(func.count()).select_from(postings_table)).scalar()
    return {"entries_written": entries, "postings_written": postings}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n, batch=BATCH)
        if subject["entries_written"] != n or subject["postings_written"] != 2 * n:
            raise RuntimeError(f"post_entries wrote {subject['entries_written']} entries")
        if floor["entries_written"] != n or floor["postings_written"] != 2 * n:
            raise RuntimeError(f"the floor wrote {floor['entries_written']} entries")
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="throughput",
            target_value=TARGET,
            extra={
                "batch": BATCH,
                "members": MEMBERS,
                "postings": 2 * n,
                "ledger_check_ok": subject["ledger_check_ok"],
                "ledger_check": subject["ledger_check"],
                "ledger_check_seconds": subject["ledger_check_seconds"],
            },
        )
        if not subject["ledger_check_ok"]:
            result["target_met"] = False  # fast but wrong books is not a result
        results.append(result)
    return results
