"""Posting an approved SHU run to the ledger in one set-based entry, and the scheduled posting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import (
    literal,
    select,
)

from kmp.auth import user_id_of
from kmp.errors import IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import (
    MEMBER_ACCOUNTS,
    RESERVE,
    SHU_CURRENT,
    SHU_FUNDS,
    member_account_code,
)
from kmp.ledger.models import Account, AccountType
from kmp.ledger.services import EntrySpec, open_account, post_entries
from kmp.timeutil import business_date, now_utc
from payouts.models import (
    DistributionLine,
    DistributionRun,
    RunStatus,
)
from payouts.services import Progress, _transition
from payouts.transfers import pay_sukarela

POST_CHUNK = 10_000  # member postings per journal entry
#: Test hook: called with the number of member chunks posted so far (crash injection).
after_post_chunk: Callable[[int], None] | None = None


def _fund_account(key: str) -> str:
    code = SHU_FUNDS.get(key)
    if code is None:
        code = f"liability:shu-fund:{key}"
        open_account(code, f"SHU belum dibagikan: {key.replace('_', ' ')}", AccountType.LIABILITY)
    return code


def _ensure_member_shu_accounts(run: DistributionRun) -> None:
    """Open the SHU-payable account of any member line that has none (rare: old data)."""
    prefix = MEMBER_ACCOUNTS["shu"][0] + ":"
    missing = db.session.execute(
        select(DistributionLine.member_id, DistributionLine.member_no)
        .outerjoin(
            Account,
            Account.code == literal(prefix).concat(DistributionLine.member_no),
        )
        .where(DistributionLine.run_id == run.id, Account.id.is_(None))
    ).all()
    name = MEMBER_ACCOUNTS["shu"][1]
    for member_id, member_no in missing:
        open_account(
            member_account_code("shu", member_no),
            f"{name} {member_no}",
            AccountType.LIABILITY,
            owner_id=member_id,
            no_negative=True,
        )


def post_run(
    run: DistributionRun, *, by_user=None, progress: Progress | None = None
) -> DistributionRun:
    """Post an approved run: reserve and funds to their accounts, member amounts to SHU
    payable per member. All entries in the caller's transaction (all or nothing); the
    idempotency keys make a replay after a crash post each Rupiah once."""
    status = RunStatus(run.status)
    if status in (RunStatus.POSTED, RunStatus.PAID):
        raise IllegalTransition(
            gettext("Pembagian SHU %(fiscal_year)s sudah dibukukan.", fiscal_year=run.fiscal_year),
            code="already_posted",
        )
    if status is not RunStatus.APPROVED:
        raise IllegalTransition(
            gettext(
                "Pembagian SHU %(fiscal_year)s belum disetujui rapat anggota.",
                fiscal_year=run.fiscal_year,
            ),
            code="not_approved",
        )
    summary = run.summary or {}
    members_key = summary.get("members_key", "jasa_anggota")
    reserve_key = summary.get("reserve_key", "cadangan")
    description = f"Pembagian SHU tahun buku {run.fiscal_year}"
    posted_by = user_id_of(by_user)
    fund_lines: list[tuple[str, int]] = []
    for key, amount in summary.get("funds", {}).items():
        if key == members_key or not amount:
            continue
        fund_lines.append((RESERVE if key == reserve_key else _fund_account(key), -int(amount)))
    if fund_lines:
        post_entries(
            [
                EntrySpec(
                    idempotency_key=f"shu:run:{run.id}:funds",
                    description=f"{description}: cadangan dan dana",
                    lines=[(SHU_CURRENT, -sum(a for _, a in fund_lines)), *fund_lines],
                    source_kind="shu-distribution",
                    source_id=str(run.id),
                    posted_by_id=posted_by,
                )
            ]
        )
    _ensure_member_shu_accounts(run)
    prefix = MEMBER_ACCOUNTS["shu"][0] + ":"
    last_id, chunk_no, done = 0, 0, 0
    while True:
        # each line with its member's SHU-payable account id (one indexed join), so the
        # ledger gets ids and need not look a million codes up again
        rows = db.session.execute(
            select(DistributionLine.id, Account.id, DistributionLine.total_idr)
            .join(Account, Account.code == literal(prefix).concat(DistributionLine.member_no))
            .where(
                DistributionLine.run_id == run.id,
                DistributionLine.id > last_id,
                DistributionLine.total_idr > 0,
            )
            .order_by(DistributionLine.id)
            .limit(POST_CHUNK)
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        lines = [(account_id, -amount) for _, account_id, amount in rows]
        post_entries(
            [
                EntrySpec(
                    idempotency_key=f"shu:run:{run.id}:members:{rows[0][0]}-{last_id}",
                    description=f"{description}: jasa anggota",
                    lines=[(SHU_CURRENT, sum(a for _, _, a in rows)), *lines],
                    source_kind="shu-distribution",
                    source_id=str(run.id),
                    posted_by_id=posted_by,
                )
            ]
        )
        chunk_no += 1
        done += len(rows)
        if progress:
            progress(done)
        if after_post_chunk is not None:
            after_post_chunk(chunk_no)
    _transition(run, RunStatus.POSTED)
    run.posted_at = now_utc()
    db.session.flush()
    return run


def due_runs(on_date: dt.date | None = None) -> list[DistributionRun]:
    on_date = on_date or business_date()
    return list(
        db.session.scalars(
            select(DistributionRun)
            .where(
                DistributionRun.status == RunStatus.APPROVED,
                DistributionRun.distribution_date <= on_date,
            )
            .order_by(DistributionRun.fiscal_year)
        )
    )


def post_due_runs() -> list[int]:
    """The scheduled job: post every approved run whose distribution date has come, then
    credit the sukarela payouts."""
    posted = []
    for run in due_runs():
        post_run(run)
        pay_sukarela(run)
        posted.append(run.id)
    return posted
