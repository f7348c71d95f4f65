"""services.py."""

from __future__ import annotations

import datetime as dt
import logging
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import (
    String,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.queries import income_statement
from kmp.money import format_rupiah
from kmp.replica import primary_reads
from kmp.timeutil import business_date, now_utc
from members.ad.services import current_ad
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.queries import CAPITAL_BASIS_LEADING, capital_and_months, capital_basis_query
from payouts import reports
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
    RunStatus,
)
from payouts.patronage import PatronageRecord

log = logging.getLogger(__name__)


LINE_CHUNK = 5_000  # rows per executemany of distribution lines


CSV_HEADERS = (
    "member_no",
    "group",
    "capital_basis_idr",
    "patronage",
    "jasa_modal_idr",
    "jasa_usaha_idr",
    "total_idr",
)


Progress = Callable[[int], None]


def _transition(run: DistributionRun, target: RunStatus) -> None:
    current = RunStatus(run.status)
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition(
            gettext(
                "Pembagian SHU %(fiscal_year)s berstatus '%(current)s': tidak bisa "
                "menjadi '%(target)s'.",
                fiscal_year=run.fiscal_year,
                current=current.label,
                target=target.label,
            ),
            code="illegal_run_transition",
        )
    run.status = target


def get_run(run_id: int) -> DistributionRun:
    run = db.session.get(DistributionRun, run_id)
    if run is None:
        raise NotFound(gettext("Pembagian SHU itu tidak ada."))
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
        raise DomainError(gettext("Tahun buku harus berupa angka tahun."), field="fiscal_year")
    if not 2000 <= fiscal_year < business_date().year:
        raise DomainError(
            gettext(
                "Tahun buku %(fiscal_year)s belum berakhir: SHU hanya dibagi untuk "
                "tahun yang sudah lewat.",
                fiscal_year=fiscal_year,
            ),
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


def book_shu(fiscal_year: int) -> tuple[str, int]:
    """The SHU the books give for ``fiscal_year``: the year-end close's figure once the year
    is closed (``closed``), else income minus expenses so far (``ledger``)."""
    from kmp.ledger.closing.services import closed_year_shu

    with primary_reads():
        closed = closed_year_shu(fiscal_year)
    if closed is not None:
        return "closed", closed
    return "ledger", ledger_shu(fiscal_year)


def distribution_date(fiscal_year: int, month_day: str) -> dt.date:
    month, day = (int(p) for p in month_day.split("-"))
    return dt.date(fiscal_year + 1, month, day)


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
    shu_book_idr: int | None = None

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
    from members.loans.queries import interest_patronage_query

    cb = capital_basis_query(fiscal_year, basis).subquery()
    pat = _patronage_by_member(fiscal_year).subquery()
    # Loan interest paid counts as patronage when the loan product says so (issue 18).
    interest = interest_patronage_query(fiscal_year).subquery()
    group_measure = case(measure_of, value=cb.c.group_code, else_=literal(""))
    stmt = (
        select(cb, func.coalesce(pat.c.total, 0) + func.coalesce(interest.c.total, 0))
        .outerjoin(pat, and_(pat.c.member_id == cb.c.id, pat.c.measure == group_measure))
        .outerjoin(interest, interest.c.member_id == cb.c.id)
        .order_by(cb.c.member_no)
    )
    return db.session.execute(stmt, execution_options={"yield_per": 20_000})


def leaver_capital(
    fiscal_year: int, basis: str, member_ids: dict[int, object] | list[int]
) -> dict[int, int]:
    """The jasa modal basis of members who left during ``fiscal_year``: their pokok + wajib
    while they were members (one grouped query over their month-end balances). ``year_end``
    basis: the balance at the last month end before they left; ``average_month_end``: the
    average of their month-end balances while members. ``compute_shu`` then weighs it by the
    months of membership, as for anyone with a partial year."""
    ids = list(member_ids)
    if not ids:
        return {}
    stmt = capital_basis_query(fiscal_year, "average_month_end").where(Member.id.in_(ids))
    ends = [
        dt.date(fiscal_year + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1) for m in range(1, 13)
    ]
    out: dict[int, int] = {}
    for row in db.session.execute(stmt):
        joined, exited = row.joined_date, row.exited_date
        balances = [
            int(value or 0)
            for end, value in zip(ends, row[CAPITAL_BASIS_LEADING:], strict=False)
            if (joined is None or joined <= end) and (exited is None or exited > end)
        ]
        if not balances:
            out[row.id] = 0
        elif basis == "year_end":
            out[row.id] = max(balances[-1], 0)
        else:
            out[row.id] = max(sum(balances) // len(balances), 0)
    return out


def compute_allocation(
    fiscal_year: int, *, shu_idr: int | None = None, reason: str | None = None
) -> Computation:
    """The allocation of ``fiscal_year`` (nothing stored). Refuses a non-positive SHU."""
    check_year(fiscal_year)
    book_source, book_value = book_shu(fiscal_year)
    if shu_idr is not None and shu_idr != book_value:
        if isinstance(shu_idr, bool) or not isinstance(shu_idr, int):
            raise DomainError(gettext("SHU harus Rupiah bulat."), field="shu_idr")
        if not (reason or "").strip():
            raise DomainError(
                gettext(
                    "SHU menurut buku tahun %(year)s adalah %(value)s. Tulis alasan mengapa "
                    "jumlah lain yang dibagi (misalnya angka hasil audit).",
                    year=fiscal_year,
                    value=format_rupiah(book_value),
                ),
                code="reason_required",
                field="reason",
            )
        source, value = "entered", shu_idr
    else:
        source, value, reason = book_source, book_value, None
    if value <= 0:
        raise DomainError(
            gettext(
                "SHU tahun %(year)s adalah %(value)s: tidak ada sisa hasil usaha yang bisa "
                "dibagikan. Kerugian ditanggung cadangan sesuai AD, bukan dibagi ke anggota.",
                year=fiscal_year,
                value=format_rupiah(value),
            ),
            code="shu_not_positive",
            field="shu_idr",
        )
    ad = current_ad()
    groups = [g for g in ad.active_groups if g.shu_weight_bp >= 0]
    measure_of = {g.code: g.patronage_measure for g in groups}
    year_end = dt.date(fiscal_year, 12, 31)
    include_exited = ad.exited_members == "prorate"
    modal_to_leavers, usaha_to_leavers = ad.leavers_get_jasa_modal, ad.leavers_get_jasa_usaha
    leavers: dict[int, tuple[str, int]] = {}
    cols: dict[str, tuple[list[str], list[int], list[int], list[int]]] = {
        g.code: ([], [], [], []) for g in groups
    }
    ids: dict[str, array] = {g.code: array("q") for g in groups}
    months: dict[str, int] = {}
    any_partial = False
    exited_status = {MemberStatus.EXITED.value, MemberStatus.DECEASED.value}
    lead = CAPITAL_BASIS_LEADING
    for row in _basis_rows(fiscal_year, ad.capital_basis, measure_of):
        member_id, member_no, group_code, status, _joined, exited_date = row[:lead]
        c = cols.get(group_code)
        if c is None:
            continue
        capital, m = capital_and_months(row, fiscal_year, ad.capital_basis)
        if status in exited_status:
            active_at_end = exited_date is None or exited_date > year_end
        else:
            active_at_end = m > 0
        patronage = int(row[-1])
        if active_at_end:
            m = 12
        elif include_exited and m > 0 and (modal_to_leavers or usaha_to_leavers):
            any_partial = True
            # a leaver: jasa modal and jasa usaha only as the AD says (its year-end balance
            # is 0 after the refund: the basis is read below, while it was a member)
            leavers[member_id] = (group_code, len(c[0]))
            capital = 0
            patronage = patronage if usaha_to_leavers else 0
        else:
            continue
        c[0].append(member_no)
        c[1].append(max(capital, 0))
        c[2].append(patronage)
        c[3].append(m)
        ids[group_code].append(member_id)
        if m != 12:
            months[member_no] = m  # only the partial years: 12 is the default
    if leavers and modal_to_leavers:
        for member_id, capital in leaver_capital(fiscal_year, ad.capital_basis, leavers).items():
            group_code, index = leavers[member_id]
            cols[group_code][1][index] = capital
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
        shu_book_idr=book_value,
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
            gettext(
                "Sudah ada pembagian SHU untuk tahun %(fiscal_year)s: batalkan dulu yang lama.",
                fiscal_year=fiscal_year,
            ),
            code="run_exists",
        )
    run = DistributionRun(fiscal_year=fiscal_year, status=RunStatus.DRAFT)
    db.session.add(run)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            gettext(
                "Sudah ada pembagian SHU untuk tahun %(fiscal_year)s.", fiscal_year=fiscal_year
            ),
            code="run_exists",
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
            gettext(
                "Pemungutan suara tentang pembagian SHU ini sedang berjalan: angka tidak boleh "
                "diubah sampai selesai."
            ),
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
            gettext(
                "Pembagian SHU %(fiscal_year)s sudah %(status)s: tidak bisa dihitung ulang.",
                fiscal_year=run.fiscal_year,
                status=RunStatus(run.status).label.lower(),
            ),
            code="run_locked",
        )
    _refuse_during_ballot(run)
    comp = computation or compute_allocation(run.fiscal_year, shu_idr=shu_idr, reason=reason)
    _transition(run, RunStatus.COMPUTED)
    db.session.execute(delete(DistributionLine).where(DistributionLine.run_id == run.id))
    buffer: list[tuple] = []
    count = total = 0
    brackets = [[0, 0] for _ in reports.BRACKETS]
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
            cell = brackets[reports.bracket_index(line.total_idr)]
            cell[0] += 1
            cell[1] += line.total_idr
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
    run.shu_book_idr = comp.shu_book_idr
    run.ad_version_id = comp.ad_version_id
    run.summary = {**comp.summary(), "brackets": brackets}
    run.member_count = count
    run.lines_not_paid = count  # every line starts unpaid
    run.members_total_idr = total
    run.distribution_date = comp.distribution_date
    run.computed_at = now_utc()
    run.computed_by_id = user_id_of(by_user)
    db.session.flush()
    return comp


def cancel_run(run: DistributionRun, reason: str, by_user=None) -> DistributionRun:  # noqa: ARG001
    if not (reason or "").strip():
        raise DomainError(
            gettext("Tulis alasan pembatalan."), code="reason_required", field="reason"
        )
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


__all__ = [
    "CSV_HEADERS",
    "Computation",
    "compute_allocation",
    "compute_run",
    "create_run",
    "explain_member",
]
