"""SHU distribution: compute a run, approve it by resolution, post it, pay it out.

Set-based throughout: member rows travel as plain tuples / columns (never one ORM object per
member), lines are inserted with chunked ``executemany`` and posted in chunked
``post_entries`` calls inside ONE transaction, so a crash leaves nothing or everything and a
replay is refused (posted) or completed by the ledger's idempotency keys. Services flush,
the boundary (view, CLI, job) commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import (
    String,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.ledger.chart import (
    BANK,
    CASH,
    MEMBER_ACCOUNTS,
    PAYOUT_IN_TRANSIT,
    RESERVE,
    SHU_CURRENT,
    SHU_FUNDS,
    member_account_code,
)
from kmp.ledger.models import Account, AccountType
from kmp.ledger.queries import income_statement
from kmp.ledger.services import EntrySpec, open_account, post_entries
from kmp.replica import primary_reads
from kmp.timeutil import business_date, now_utc
from members.ad.services import current_ad
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.queries import CAPITAL_BASIS_LEADING, capital_and_months, capital_basis_query
from payouts.allocation import (
    AllocationTable,
    GroupRule,
    MemberColumns,
    ShuResult,
    compute_shu,
    explain_member,
)
from payouts.models import (
    RUN_TRANSITIONS,
    DistributionLine,
    DistributionRun,
    LineStatus,
    PayoutMethod,
    PayoutTransfer,
    RunStatus,
    TransferStatus,
)
from payouts.patronage import PatronageRecord

log = logging.getLogger(__name__)

LINE_CHUNK = 5_000  # rows per executemany of distribution lines
POST_CHUNK = 10_000  # member postings per journal entry
CSV_HEADERS = (
    "member_no",
    "group",
    "capital_basis_idr",
    "patronage",
    "jasa_modal_idr",
    "jasa_usaha_idr",
    "total_idr",
)

#: Test hook: called with the number of member chunks posted so far (crash injection).
after_post_chunk: Callable[[int], None] | None = None

Progress = Callable[[int], None]


# --------------------------------------------------------------------------- helpers


def _transition(run: DistributionRun, target: RunStatus) -> None:
    current = RunStatus(run.status)
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition(
            f"Pembagian SHU {run.fiscal_year} berstatus '{current.label}': tidak bisa menjadi "
            f"'{target.label}'.",
            code="illegal_run_transition",
        )
    run.status = target


def get_run(run_id: int) -> DistributionRun:
    run = db.session.get(DistributionRun, run_id)
    if run is None:
        raise NotFound("Pembagian SHU itu tidak ada.")
    return run


def live_run(fiscal_year: int) -> DistributionRun | None:
    return db.session.scalar(
        select(DistributionRun).where(
            DistributionRun.fiscal_year == fiscal_year,
            DistributionRun.status != RunStatus.CANCELLED,
        )
    )


def check_year(fiscal_year: object) -> int:
    if isinstance(fiscal_year, bool) or not isinstance(fiscal_year, int):
        raise DomainError("Tahun buku harus berupa angka tahun.", field="fiscal_year")
    if not 2000 <= fiscal_year < business_date().year:
        raise DomainError(
            f"Tahun buku {fiscal_year} belum berakhir: SHU hanya dibagi untuk tahun yang "
            "sudah lewat.",
            code="year_not_over",
            field="fiscal_year",
        )
    return fiscal_year


def ledger_shu(fiscal_year: int) -> int:
    """Income minus expenses of the fiscal year, from the ledger (the primary, never a
    lagging read replica: this is the amount the members are paid)."""
    with primary_reads():
        statement = income_statement(dt.date(fiscal_year, 1, 1), dt.date(fiscal_year, 12, 31))
    return int(statement["surplus_idr"])


def distribution_date(fiscal_year: int, month_day: str) -> dt.date:
    month, day = (int(p) for p in month_day.split("-"))
    return dt.date(fiscal_year + 1, month, day)


# --------------------------------------------------------------------------- compute


@dataclass
class Computation:
    """An allocation with what is needed to store it (no ORM objects per member)."""

    fiscal_year: int
    shu_idr: int
    shu_source: str
    shu_reason: str | None
    ad_version_id: int | None
    result: ShuResult
    member_ids: dict[str, array]  # per group, in the order of its member lines
    months: dict[str, int]
    distribution_date: dt.date

    def csv_rows(self) -> Iterator[tuple]:
        for line in self.result.member_lines():
            yield tuple(line)

    def summary(self) -> dict:
        r = self.result
        return {
            "shu_idr": r.shu_idr,
            "table": [[k, bp] for k, bp in r.table.lines],
            "reserve_key": r.table.reserve_key,
            "members_key": r.table.members_key,
            "table_split": r.table_split,
            "funds": r.funds,
            "groups": [
                {
                    "code": g.code,
                    "shu_weight_bp": g.rule.shu_weight_bp,
                    "modal_bp": g.rule.modal_bp,
                    "usaha_bp": g.rule.usaha_bp,
                    "pool_idr": g.pool_idr,
                    "modal_pool_idr": g.modal_pool_idr,
                    "usaha_pool_idr": g.usaha_pool_idr,
                    "capital_total_idr": g.capital_total_idr,
                    "patronage_total": g.patronage_total,
                    "modal_weight_total": g.modal_weight_total,
                    "usaha_weight_total": g.usaha_weight_total,
                    "modal_paid_idr": g.modal_paid_idr,
                    "usaha_paid_idr": g.usaha_paid_idr,
                    "member_count": g.member_count,
                }
                for g in r.groups
            ],
            "redirected": [[x.group, x.pool, x.amount_idr] for x in r.redirected],
        }


def patronage_totals(fiscal_year: int) -> dict[tuple[int, str], int]:
    """(member_id, measure) -> the year's patronage, one grouped query."""
    rows = db.session.execute(_patronage_by_member(fiscal_year))
    return {(m, k): int(total) for m, k, total in rows}


def _patronage_by_member(fiscal_year: int):
    """The year's patronage summed per (member, measure)."""
    table = PatronageRecord.__table__
    measure = type_coerce(table.c.measure, String()).label("measure")  # plain str per row
    return (
        select(table.c.member_id, measure, func.sum(table.c.value).label("total"))
        .where(table.c.period >= f"{fiscal_year}-01", table.c.period <= f"{fiscal_year}-12")
        .group_by(table.c.member_id, table.c.measure)
    )


def _basis_rows(fiscal_year: int, basis: str, measure_of: dict[str, str]):
    """One streamed query: every member's capital basis (``members.queries``) with the year's
    patronage in their group's AD measure, by member number. Nothing per member is held in
    Python beyond the row being read."""
    cb = capital_basis_query(fiscal_year, basis).subquery()
    pat = _patronage_by_member(fiscal_year).subquery()
    group_measure = case(measure_of, value=cb.c.group_code, else_=literal(""))
    stmt = (
        select(cb, func.coalesce(pat.c.total, 0))
        .outerjoin(pat, and_(pat.c.member_id == cb.c.id, pat.c.measure == group_measure))
        .order_by(cb.c.member_no)
    )
    return db.session.execute(stmt, execution_options={"yield_per": 20_000})


def compute_allocation(
    fiscal_year: int, *, shu_idr: int | None = None, reason: str | None = None
) -> Computation:
    """The allocation of ``fiscal_year`` (nothing stored). Refuses a non-positive SHU."""
    check_year(fiscal_year)
    if shu_idr is not None:
        if isinstance(shu_idr, bool) or not isinstance(shu_idr, int):
            raise DomainError("SHU harus Rupiah bulat.", field="shu_idr")
        if not (reason or "").strip():
            raise DomainError(
                "Tulis alasan mengapa SHU diisi manual (misalnya angka hasil audit).",
                code="reason_required",
                field="reason",
            )
        source, value = "entered", shu_idr
    else:
        source, value, reason = "ledger", ledger_shu(fiscal_year), None
    if value <= 0:
        raise DomainError(
            f"SHU tahun {fiscal_year} adalah Rp {value:,}".replace(",", ".")
            + ": tidak ada sisa hasil usaha yang bisa dibagikan. Kerugian ditanggung cadangan "
            "sesuai AD, bukan dibagi ke anggota.",
            code="shu_not_positive",
            field="shu_idr",
        )
    ad = current_ad()
    groups = [g for g in ad.active_groups if g.shu_weight_bp >= 0]
    measure_of = {g.code: g.patronage_measure for g in groups}
    year_end = dt.date(fiscal_year, 12, 31)
    include_exited = ad.exited_members == "prorate"
    cols: dict[str, tuple[list[str], list[int], list[int], list[int]]] = {
        g.code: ([], [], [], []) for g in groups
    }
    ids: dict[str, array] = {g.code: array("q") for g in groups}
    months: dict[str, int] = {}
    any_partial = False
    exited_status = {MemberStatus.EXITED.value, MemberStatus.DECEASED.value}
    lead = CAPITAL_BASIS_LEADING
    for row in _basis_rows(fiscal_year, ad.capital_basis, measure_of):
        member_id, member_no, group_code, status, _, exited_date = row[:lead]
        c = cols.get(group_code)
        if c is None:
            continue
        capital, m = capital_and_months(row, fiscal_year, ad.capital_basis)
        if status in exited_status:
            active_at_end = exited_date is None or exited_date > year_end
        else:
            active_at_end = m > 0
        if active_at_end:
            m = 12
        elif include_exited and m > 0:
            any_partial = True
        else:
            continue
        c[0].append(member_no)
        c[1].append(max(capital, 0))
        c[2].append(int(row[-1]))
        c[3].append(m)
        ids[group_code].append(member_id)
        if m != 12:
            months[member_no] = m  # only the partial years: 12 is the default
    members = {
        code: MemberColumns(c[0], c[1], c[2], c[3] if any_partial else None)
        for code, c in cols.items()
    }
    table = AllocationTable(ad.allocation_pairs())
    rules = [GroupRule(g.code, g.shu_weight_bp, ad.jasa_modal_bp, ad.jasa_usaha_bp) for g in groups]
    result = compute_shu(value, table, rules, members)
    member_ids = {
        g.code: _align_ids(cols[g.code][0], ids[g.code], g.member_no) for g in result.groups
    }
    return Computation(
        fiscal_year=fiscal_year,
        shu_idr=value,
        shu_source=source,
        shu_reason=(reason or "").strip() or None,
        ad_version_id=ad.version_id,
        result=result,
        member_ids=member_ids,
        months=months,
        distribution_date=distribution_date(fiscal_year, ad.distribution_date),
    )


def _align_ids(given: list[str], ids: array, ordered: tuple[str, ...]) -> array:
    """The member ids in the allocation's order (by member number). The query already reads
    them in that order; a database collation that sorts differently costs one lookup table."""
    if len(given) == len(ordered) and all(map(str.__eq__, given, ordered)):
        return ids
    by_no = dict(zip(given, ids, strict=True))
    return array("q", (by_no[no] for no in ordered))


def create_run(fiscal_year: int, by_user=None) -> DistributionRun:  # noqa: ARG001
    check_year(fiscal_year)
    if live_run(fiscal_year) is not None:
        raise Conflict(
            f"Sudah ada pembagian SHU untuk tahun {fiscal_year}: batalkan dulu yang lama.",
            code="run_exists",
        )
    run = DistributionRun(fiscal_year=fiscal_year, status=RunStatus.DRAFT)
    db.session.add(run)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            f"Sudah ada pembagian SHU untuk tahun {fiscal_year}.", code="run_exists"
        ) from None
    return run


LINE_COLUMNS = (
    "run_id",
    "member_id",
    "member_no",
    "group_code",
    "months",
    "capital_basis_idr",
    "patronage",
    "jasa_modal_idr",
    "jasa_usaha_idr",
    "total_idr",
    "method",
    "status",
)


def _insert_lines(rows: list[tuple]) -> None:
    """Write member lines set-based: ``COPY`` on PostgreSQL, ``executemany`` elsewhere. Same
    transaction as the session (nothing is visible until the boundary commits)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            sql = f"COPY distribution_lines ({', '.join(LINE_COLUMNS)}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    # SQLite: the driver's own executemany of plain tuples (every value is already an int or
    # a str), inside the transaction SQLAlchemy opened.
    placeholders = ", ".join("?" * len(LINE_COLUMNS))
    connection.exec_driver_sql(
        f"INSERT INTO distribution_lines ({', '.join(LINE_COLUMNS)}) VALUES ({placeholders})",
        rows,
    )


def _refuse_during_ballot(run: DistributionRun) -> None:
    """The members vote on the numbers they were shown: no recompute while they vote."""
    from governance.models import Proposal, ProposalStatus

    voting = db.session.scalar(
        select(Proposal.id).where(
            Proposal.reference == run.reference, Proposal.status == ProposalStatus.OPEN
        )
    )
    if voting is not None:
        raise IllegalTransition(
            "Pemungutan suara tentang pembagian SHU ini sedang berjalan: angka tidak boleh "
            "diubah sampai selesai.",
            code="ballot_open",
        )


def compute_run(
    run: DistributionRun,
    *,
    shu_idr: int | None = None,
    reason: str | None = None,
    by_user=None,
    progress: Progress | None = None,
    computation: Computation | None = None,
) -> Computation:
    """Compute (or recompute) a draft/computed run and store every member line."""
    if RunStatus(run.status) not in (RunStatus.DRAFT, RunStatus.COMPUTED):
        raise IllegalTransition(
            f"Pembagian SHU {run.fiscal_year} sudah {RunStatus(run.status).label.lower()}: "
            "tidak bisa dihitung ulang.",
            code="run_locked",
        )
    _refuse_during_ballot(run)
    comp = computation or compute_allocation(run.fiscal_year, shu_idr=shu_idr, reason=reason)
    _transition(run, RunStatus.COMPUTED)
    db.session.execute(delete(DistributionLine).where(DistributionLine.run_id == run.id))
    buffer: list[tuple] = []
    count = total = 0
    months = comp.months
    sukarela, unpaid = PayoutMethod.SUKARELA.value, LineStatus.UNPAID.value
    for group in comp.result.groups:
        for member_id, line in zip(comp.member_ids[group.code], group.member_lines(), strict=True):
            no = line.member_no
            buffer.append(
                (
                    run.id,
                    member_id,
                    no,
                    line.group,
                    months.get(no, 12),
                    line.capital_basis_idr,
                    line.patronage,
                    line.jasa_modal_idr,
                    line.jasa_usaha_idr,
                    line.total_idr,
                    sukarela,
                    unpaid,
                )
            )
            count += 1
            total += line.total_idr
            if len(buffer) >= LINE_CHUNK:
                _insert_lines(buffer)
                buffer = []
                if progress:
                    progress(count)
    if buffer:
        _insert_lines(buffer)
        if progress:
            progress(count)
    run.shu_idr = comp.shu_idr
    run.shu_source = comp.shu_source
    run.shu_reason = comp.shu_reason
    run.ad_version_id = comp.ad_version_id
    run.summary = comp.summary()
    run.member_count = count
    run.members_total_idr = total
    run.distribution_date = comp.distribution_date
    run.computed_at = now_utc()
    run.computed_by_id = user_id_of(by_user)
    db.session.flush()
    return comp


def cancel_run(run: DistributionRun, reason: str, by_user=None) -> DistributionRun:  # noqa: ARG001
    if not (reason or "").strip():
        raise DomainError("Tulis alasan pembatalan.", code="reason_required", field="reason")
    _transition(run, RunStatus.CANCELLED)
    run.cancelled_reason = reason.strip()
    db.session.flush()
    return run


def iter_run_lines(run: DistributionRun, batch: int = 5_000) -> Iterator[tuple]:
    """The run's member lines as CSV tuples, by group order then member number, streamed."""
    order = {g["code"]: i for i, g in enumerate((run.summary or {}).get("groups", []))}
    for code in sorted(order, key=order.get):
        last = ""
        while True:
            rows = db.session.execute(
                select(
                    DistributionLine.member_no,
                    DistributionLine.group_code,
                    DistributionLine.capital_basis_idr,
                    DistributionLine.patronage,
                    DistributionLine.jasa_modal_idr,
                    DistributionLine.jasa_usaha_idr,
                    DistributionLine.total_idr,
                )
                .where(
                    DistributionLine.run_id == run.id,
                    DistributionLine.group_code == code,
                    DistributionLine.member_no > last,
                )
                .order_by(DistributionLine.member_no)
                .limit(batch)
            ).all()
            if not rows:
                break
            yield from (tuple(r) for r in rows)
            last = rows[-1][0]


# --------------------------------------------------------------------------- approval


def approve_run(run: DistributionRun, resolution) -> DistributionRun:
    """Approve by an adopted resolution of an SHU-allocation proposal naming this run."""
    proposal = getattr(resolution, "proposal", None)
    outcome = str(getattr(resolution, "outcome", ""))
    if (
        resolution is None
        or proposal is None
        or str(proposal.kind) != "shu_allocation"
        or (proposal.reference or "").strip() != run.reference
        or outcome != "passed"
    ):
        raise Forbidden(
            "Pembagian SHU hanya bisa disetujui lewat keputusan rapat anggota (usulan "
            f"'Pembagian SHU' dengan rujukan {run.reference}) yang diterima.",
            code="resolution_required",
        )
    _transition(run, RunStatus.APPROVED)
    run.resolution_id = resolution.id
    run.approved_at = now_utc()
    db.session.flush()
    return run


def on_resolution_adopted(sender, resolution=None, proposal=None, **_):  # noqa: ARG001
    """``resolution_adopted`` receiver: approve the run the SHU proposal refers to."""
    if proposal is None or str(proposal.kind) != "shu_allocation":
        return
    ref = (proposal.reference or "").strip()
    if not ref.startswith("distribution_run:"):
        return
    try:
        run_id = int(ref.split(":", 1)[1])
    except ValueError:
        return
    run = db.session.get(DistributionRun, run_id)
    if run is None or RunStatus(run.status) is not RunStatus.COMPUTED:
        log.warning("SHU resolution %s: run %s is not waiting for approval", resolution, ref)
        return
    approve_run(run, resolution)


def on_resolution_rejected(sender, proposal=None, **_):  # noqa: ARG001
    """``resolution_rejected`` receiver: the run the SHU proposal referred to stays computed
    (the board may correct it and propose again); the rejection is recorded in the audit."""
    if proposal is None or str(proposal.kind) != "shu_allocation":
        return
    ref = (proposal.reference or "").strip()
    if not ref.startswith("distribution_run:"):
        return
    from flask import current_app

    from kmp import signals

    signals.audit_event.send(
        current_app._get_current_object(),
        action="distribution_run.proposal_rejected",
        target=ref,
        before=None,
        after={"proposal_id": proposal.id},
    )


# --------------------------------------------------------------------------- posting


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
            f"Pembagian SHU {run.fiscal_year} sudah dibukukan.", code="already_posted"
        )
    if status is not RunStatus.APPROVED:
        raise IllegalTransition(
            f"Pembagian SHU {run.fiscal_year} belum disetujui rapat anggota.",
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


# --------------------------------------------------------------------------- payouts


def _check_posted(run: DistributionRun) -> None:
    if RunStatus(run.status) is not RunStatus.POSTED:
        raise IllegalTransition(
            "SHU baru bisa dibayarkan setelah dibukukan.", code="run_not_posted"
        )


def _maybe_paid(run: DistributionRun) -> None:
    left = db.session.scalar(
        select(func.count())
        .select_from(DistributionLine)
        .where(
            DistributionLine.run_id == run.id,
            DistributionLine.status != LineStatus.PAID,
            DistributionLine.total_idr > 0,
        )
    )
    if not left and RunStatus(run.status) is RunStatus.POSTED:
        zero = update(DistributionLine).where(
            DistributionLine.run_id == run.id, DistributionLine.total_idr == 0
        )
        db.session.execute(zero.values(status=LineStatus.PAID.value, paid_at=now_utc()))
        _transition(run, RunStatus.PAID)
        run.paid_at = now_utc()


def pay_sukarela(run: DistributionRun, *, progress: Progress | None = None) -> int:
    """Credit every unpaid line whose member chose sukarela (the default) to simpanan
    sukarela; members no longer active are left for a cash payout. Returns the count."""
    _check_posted(run)
    shu_prefix = MEMBER_ACCOUNTS["shu"][0] + ":"
    sukarela_prefix = MEMBER_ACCOUNTS["sukarela"][0] + ":"
    last_id, done = 0, 0
    while True:
        rows = db.session.execute(
            select(DistributionLine.id, DistributionLine.member_no, DistributionLine.total_idr)
            .join(Member, Member.id == DistributionLine.member_id)
            .where(
                DistributionLine.run_id == run.id,
                DistributionLine.id > last_id,
                DistributionLine.method == PayoutMethod.SUKARELA,
                DistributionLine.status == LineStatus.UNPAID,
                DistributionLine.total_idr > 0,
                Member.status == MemberStatus.ACTIVE,
            )
            .order_by(DistributionLine.id)
            .limit(POST_CHUNK)
        ).all()
        if not rows:
            break
        ids = [r[0] for r in rows]
        lines: list[tuple[str, int]] = []
        for _, no, amount in rows:
            lines.append((shu_prefix + no, amount))
            lines.append((sukarela_prefix + no, -amount))
        post_entries(
            [
                EntrySpec(
                    idempotency_key=f"shu:run:{run.id}:sukarela:{ids[0]}-{ids[-1]}:{len(ids)}",
                    description=f"SHU {run.fiscal_year} masuk simpanan sukarela",
                    lines=lines,
                    source_kind="shu-payout",
                    source_id=str(run.id),
                )
            ]
        )
        now = now_utc()
        for start in range(0, len(ids), 1000):
            db.session.execute(
                update(DistributionLine)
                .where(DistributionLine.id.in_(ids[start : start + 1000]))
                .values(status=LineStatus.PAID.value, paid_at=now)
            )
        last_id = ids[-1]
        done += len(ids)
        if progress:
            progress(done)
    _maybe_paid(run)
    db.session.flush()
    return done


def member_line(run: DistributionRun, member_id: int) -> DistributionLine | None:
    return db.session.scalar(
        select(DistributionLine).where(
            DistributionLine.run_id == run.id, DistributionLine.member_id == member_id
        )
    )


def choose_method(line: DistributionLine, method: str) -> DistributionLine:
    """The member's choice, until the line is paid."""
    try:
        method = PayoutMethod(method)
    except ValueError:
        raise DomainError("Pilih cara pembayaran yang tersedia.", field="method") from None
    if LineStatus(line.status) is not LineStatus.UNPAID:
        raise IllegalTransition("SHU ini sudah dibayarkan atau sedang ditransfer.")
    run = db.session.get(DistributionRun, line.run_id)
    if RunStatus(run.status) in (RunStatus.CANCELLED, RunStatus.PAID):
        raise IllegalTransition("Pembagian SHU ini sudah selesai atau dibatalkan.")
    line.method = method
    db.session.flush()
    return line


def pay_cash(line: DistributionLine, by_user) -> DistributionLine:
    """The bendahara hands out the member's SHU in cash."""
    run = db.session.get(DistributionRun, line.run_id)
    _check_posted(run)
    if LineStatus(line.status) is not LineStatus.UNPAID or line.total_idr <= 0:
        raise IllegalTransition("SHU anggota ini sudah dibayarkan.", code="line_not_unpaid")
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"shu:line:{line.id}:cash",
                description=f"SHU {run.fiscal_year} dibayar tunai kepada {line.member_no}",
                lines=[
                    (member_account_code("shu", line.member_no), line.total_idr),
                    (CASH, -line.total_idr),
                ],
                source_kind="shu-payout",
                source_id=str(line.id),
                posted_by_id=user_id_of(by_user),
            )
        ]
    )
    line.method = PayoutMethod.CASH
    line.status = LineStatus.PAID
    line.paid_at = now_utc()
    db.session.flush()
    _maybe_paid(run)
    db.session.flush()
    return line


# --------------------------------------------------------------------------- transfers


def get_disburser():
    """The disbursement adapter: ``get_registry().disburser`` (tests, real Iris) or a
    fake one built from ``KMP_DISBURSER`` (``fake``, the default outside production)."""
    from kmp.registry import get_registry

    app = current_app
    registry = get_registry(app)
    disburser = registry.disburser
    if disburser is None:
        kind = app.config.get("KMP_DISBURSER", "fake")
        if kind == "iris":
            from kmp.payments.iris import IrisClient, IrisDisburser

            client = IrisClient(
                app.config["KMP_IRIS_CREATOR_KEY"],
                is_production=bool(app.config.get("KMP_IRIS_PRODUCTION", False)),
            )
            disburser = IrisDisburser(client)
        else:
            from kmp.payments.iris import FakeDisburser

            disburser = FakeDisburser(app.config.get("KMP_IRIS_MERCHANT_KEY") or "fake-merchant")
        registry.disburser = disburser
    return disburser


def request_transfer(
    line: DistributionLine, *, bank: str, account: str, account_name: str, by_user
) -> PayoutTransfer:
    """Maker: a board member prepares the transfer. No money moves yet."""
    run = db.session.get(DistributionRun, line.run_id)
    _check_posted(run)
    if LineStatus(line.status) is not LineStatus.UNPAID or line.total_idr <= 0:
        raise IllegalTransition("SHU anggota ini sudah dibayarkan atau sedang ditransfer.")
    bank, account, account_name = (
        (bank or "").strip(),
        (account or "").strip(),
        (account_name or "").strip(),
    )
    if not bank or not account or not account_name:
        raise DomainError("Isi bank/e-wallet, nomor rekening dan nama pemilik rekening.")
    pending = db.session.scalar(
        select(PayoutTransfer.id).where(
            PayoutTransfer.line_id == line.id,
            PayoutTransfer.status.in_([TransferStatus.REQUESTED, TransferStatus.SUBMITTED]),
        )
    )
    if pending:
        raise Conflict("Transfer untuk SHU anggota ini sudah diajukan.", code="transfer_pending")
    count = db.session.scalar(
        select(func.count()).select_from(PayoutTransfer).where(PayoutTransfer.line_id == line.id)
    )
    transfer = PayoutTransfer(
        line_id=line.id,
        amount_idr=line.total_idr,
        bank=bank[:40],
        account=account[:40],
        account_name=account_name[:200],
        idempotency_key=f"kmp-shu-{line.id}-{count + 1}",
        requested_by_id=by_user.id,
    )
    line.method = PayoutMethod.TRANSFER
    db.session.add(transfer)
    db.session.flush()
    return transfer


def approve_transfer(transfer: PayoutTransfer, by_user, disburser=None) -> PayoutTransfer:
    """Checker: a second board member approves; the money moves to 'in transit' and the
    transfer goes to the disburser with the transfer's idempotency key."""
    from kmp.payments.iris import PayoutItem

    if transfer.status is not TransferStatus.REQUESTED:
        raise IllegalTransition("Transfer ini sudah diproses.", code="transfer_done")
    if by_user.id == transfer.requested_by_id:
        raise Forbidden(
            "Transfer harus disetujui pengurus lain, bukan yang mengajukannya.",
            code="four_eyes",
        )
    line = db.session.get(DistributionLine, transfer.line_id)
    run = db.session.get(DistributionRun, line.run_id)
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"shu:transfer:{transfer.id}:out",
                description=f"SHU {run.fiscal_year} ditransfer kepada {line.member_no}",
                lines=[
                    (member_account_code("shu", line.member_no), transfer.amount_idr),
                    (PAYOUT_IN_TRANSIT, -transfer.amount_idr),
                ],
                source_kind="shu-transfer",
                source_id=str(transfer.id),
                posted_by_id=by_user.id,
            )
        ]
    )
    transfer.approved_by_id = by_user.id
    transfer.status = TransferStatus.SUBMITTED
    transfer.updated_at = now_utc()
    line.status = LineStatus.IN_TRANSIT
    db.session.flush()
    item = PayoutItem(
        beneficiary_name=transfer.account_name,
        beneficiary_account=transfer.account,
        beneficiary_bank=transfer.bank,
        amount_idr=transfer.amount_idr,
        notes=f"SHU {run.fiscal_year} {line.member_no}"[:100],
    )
    from kmp.payments.gateway import GatewayError

    try:
        transfer.reference_no = (disburser or get_disburser()).submit(
            item, transfer.idempotency_key
        )
    except GatewayError as error:
        log.warning("Iris refused transfer %s: %s", transfer.id, error)
        raise DomainError(
            "Transfer belum bisa dikirim ke penyedia pembayaran. Tidak ada uang yang keluar; "
            "coba setujui lagi beberapa saat lagi.",
            code="disburser_unavailable",
            status=503,
        ) from None
    db.session.flush()
    return transfer


def reject_transfer(transfer: PayoutTransfer, by_user, reason: str = "") -> PayoutTransfer:
    if transfer.status is not TransferStatus.REQUESTED:
        raise IllegalTransition("Transfer ini sudah diproses.", code="transfer_done")
    transfer.status = TransferStatus.REJECTED
    transfer.approved_by_id = by_user.id if by_user.id != transfer.requested_by_id else None
    transfer.failure_reason = (reason or "").strip() or "Ditolak pengurus"
    transfer.updated_at = now_utc()
    db.session.flush()
    return transfer


def apply_transfer_status(reference_no: str, status: str, message: str = "") -> bool:
    """An Iris notification (or status poll). Completed: in transit -> bank. Failed: the
    money returns to the member's SHU payable. Repeats change nothing. Returns whether
    anything changed."""
    transfer = db.session.scalar(
        select(PayoutTransfer).where(PayoutTransfer.reference_no == reference_no)
    )
    if transfer is None:
        raise NotFound("Transfer dengan nomor referensi itu tidak dikenal.")
    line = db.session.get(DistributionLine, transfer.line_id)
    run = db.session.get(DistributionRun, line.run_id)
    payable = member_account_code("shu", line.member_no)
    amount = transfer.amount_idr
    current = TransferStatus(transfer.status)
    if status == "completed" and current is TransferStatus.SUBMITTED:
        lines = [(PAYOUT_IN_TRANSIT, amount), (BANK, -amount)]
        key, new, line_status = "completed", TransferStatus.COMPLETED, LineStatus.PAID
    elif status in ("failed", "rejected") and current is TransferStatus.SUBMITTED:
        lines = [(PAYOUT_IN_TRANSIT, amount), (payable, -amount)]
        key, new, line_status = "failed", TransferStatus.FAILED, LineStatus.UNPAID
    elif status == "failed" and current is TransferStatus.COMPLETED:
        # the bank sent the money back later
        lines = [(BANK, amount), (payable, -amount)]
        key, new, line_status = "returned", TransferStatus.FAILED, LineStatus.UNPAID
    else:
        return False
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"shu:transfer:{transfer.id}:{key}",
                description=f"SHU {run.fiscal_year} {line.member_no}: transfer {status}",
                lines=lines,
                source_kind="shu-transfer",
                source_id=str(transfer.id),
            )
        ]
    )
    transfer.status = new
    transfer.updated_at = now_utc()
    if new is TransferStatus.FAILED:
        transfer.failure_reason = (message or "").strip() or "Transfer gagal"
    line.status = line_status
    line.paid_at = now_utc() if line_status is LineStatus.PAID else None
    if RunStatus(run.status) is RunStatus.PAID and line_status is not LineStatus.PAID:
        pass  # a late bank return: the line is payable again, the run stays closed
    db.session.flush()
    _maybe_paid(run)
    db.session.flush()
    return True


# --------------------------------------------------------------------------- explanation


def _pct(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with two decimals, computed on integers."""
    if not whole:
        return "0"
    hundredths = (part * 10_000 * 2 + whole) // (2 * whole)  # rounded half up
    text = f"{hundredths // 100},{hundredths % 100:02d}"
    return text


def explanation_for(run: DistributionRun, line: DistributionLine) -> dict:
    """Numbers for the member's slip, from the stored line and the run's group summary."""
    group = next(
        (g for g in (run.summary or {}).get("groups", []) if g["code"] == line.group_code), {}
    )
    modal_wt = group.get("modal_weight_total", 0)
    usaha_wt = group.get("usaha_weight_total", 0)
    return {
        "group": group,
        "modal_share_pct": _pct(line.capital_basis_idr * line.months, modal_wt),
        "usaha_share_pct": _pct(line.patronage, usaha_wt),
        "modal_redirected": group.get("modal_pool_idr", 0) > 0
        and group.get("modal_paid_idr", 0) == 0,
        "usaha_redirected": group.get("usaha_pool_idr", 0) > 0
        and group.get("usaha_paid_idr", 0) == 0,
        "members_pool_idr": (run.summary or {})
        .get("table_split", {})
        .get((run.summary or {}).get("members_key", "jasa_anggota"), 0),
    }


__all__ = [
    "CSV_HEADERS",
    "Computation",
    "approve_run",
    "compute_allocation",
    "compute_run",
    "create_run",
    "explain_member",
    "post_run",
]
