"""Read side of savings: receipts, balances, and the jasa modal basis for the SHU."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import String, and_, case, func, or_, select, type_coerce

from kmp.extensions import db
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account, Posting
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.models import Receipt


def member_receipts(member: Member) -> list[Receipt]:
    return list(
        db.session.scalars(
            select(Receipt).where(Receipt.member_id == member.id).order_by(Receipt.id.desc())
        )
    )


def savings_balances(member: Member, by_code: dict[str, int] | None = None) -> dict[str, int]:
    """``{'pokok': ..., 'wajib': ..., 'sukarela': ..., 'shu': ...}`` natural balances
    (``by_code``: the member's ``balances_of_member`` when the caller already read them)."""
    from kmp.ledger.queries import balances_of_member

    if by_code is None:
        by_code = balances_of_member(member.id)
    result = {}
    for kind, (prefix, _, _) in MEMBER_ACCOUNTS.items():
        result[kind] = by_code.get(f"{prefix}:{member.member_no}", 0) if member.member_no else 0
    return result


@dataclass(frozen=True)
class MemberSums:
    credit_idr: int  # wajib advance (``allocator.credit_balance``)
    last_billed: dt.date | None  # ``billing.last_billed_period``
    pending_withdrawals_idr: int  # ``withdrawals.pending_idr``


def member_sums(member_id: int) -> MemberSums:
    """Three of the savings page's figures in one statement (scalar subqueries)."""
    from members.savings.allocator import credit_balance_query
    from members.savings.billing import last_billed_period_query
    from members.savings.withdrawals import pending_idr_query

    credit, last, pending = db.session.execute(
        select(
            credit_balance_query(member_id).scalar_subquery(),
            last_billed_period_query(member_id).scalar_subquery(),
            pending_idr_query(member_id).scalar_subquery(),
        )
    ).one()
    return MemberSums(int(credit or 0), last, int(pending or 0))


@functools.cache
def _month_ends(year: int) -> tuple[dt.date, ...]:
    ends = []
    for month in range(1, 13):
        first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
        ends.append(first_next - dt.timedelta(days=1))
    return tuple(ends)


@dataclass(frozen=True)
class CapitalBasisRow:
    member_id: int
    member_no: str
    group_code: str
    status: str
    capital_idr: int  # pokok + wajib: at year end, or the floor of the month-end average
    months: int  # month ends of the year at which the person was a member (0-12)
    exited_date: dt.date | None = None


CAPITAL_BASIS_LEADING = 6  # id, member_no, group_code, status, joined_date, exited_date


def capital_basis_query(fiscal_year: int, basis: str = "year_end", group: str | None = None):
    """The SELECT behind :func:`capital_basis`, unordered, for callers that join more to it
    (the SHU run joins the year's patronage). Columns: ``id, member_no, group_code, status``
    (plain text), ``joined_date, exited_date``, then the pokok + wajib balance at the year end
    (``year_end``: one sum) or at each of the twelve month ends (``average_month_end``)."""
    ends = _month_ends(fiscal_year)
    year_start, year_end = dt.date(fiscal_year, 1, 1), ends[-1]
    prefixes = (MEMBER_ACCOUNTS["pokok"][0] + ":", MEMBER_ACCOUNTS["wajib"][0] + ":")
    signed = Posting.amount_idr * Account.normal_sign
    if basis == "year_end":  # the join already stops at the year end
        sums = [func.coalesce(func.sum(signed), 0).label("capital")]
    else:
        sums = [
            func.coalesce(func.sum(case((Posting.entry_date <= end, signed), else_=0)), 0).label(
                f"capital_{i}"
            )
            for i, end in enumerate(ends, start=1)
        ]
    status = type_coerce(Member.status, String()).label("status")  # plain str: no enum per row
    stmt = (
        select(
            Member.id,
            Member.member_no,
            Member.group_code,
            status,
            Member.joined_date,
            Member.exited_date,
            *sums,
        )
        .join(Account, Account.owner_id == Member.id)
        .outerjoin(Posting, and_(Posting.account_id == Account.id, Posting.entry_date <= year_end))
        .where(
            Member.member_no.is_not(None),
            or_(Account.code.startswith(prefixes[0]), Account.code.startswith(prefixes[1])),
            or_(Member.joined_date.is_(None), Member.joined_date <= year_end),
            or_(Member.exited_date.is_(None), Member.exited_date >= year_start),
        )
        .group_by(
            Member.id,
            Member.member_no,
            Member.group_code,
            Member.status,
            Member.joined_date,
            Member.exited_date,
        )
    )
    if group:
        stmt = stmt.where(Member.group_code == group)
    return stmt


def capital_and_months(row, fiscal_year: int, basis: str) -> tuple[int, int]:
    """(capital basis, months of membership) of one :func:`capital_basis_query` row."""
    joined, exited = row[4], row[5]
    year_start, year_end = dt.date(fiscal_year, 1, 1), dt.date(fiscal_year, 12, 31)
    if basis == "year_end":
        capital = int(row[CAPITAL_BASIS_LEADING] or 0)
    else:
        monthly = row[CAPITAL_BASIS_LEADING : CAPITAL_BASIS_LEADING + 12]
        capital = sum(int(v or 0) for v in monthly) // 12
    if (joined is None or joined < year_start) and (exited is None or exited > year_end):
        return capital, 12  # the common case: a member all year
    months = sum(
        1
        for end in _month_ends(fiscal_year)
        if (joined is None or joined <= end) and (exited is None or exited > end)
    )
    return capital, months


def capital_basis(
    fiscal_year: int, basis: str = "year_end", group: str | None = None
) -> list[CapitalBasisRow]:
    """The jasa modal basis per member for SHU (domain decision 9), set-based: one grouped
    query over the pokok and wajib postings. Members who held a number at some point in the
    year are listed (exited ones with their ``months``), by member number."""
    stmt = capital_basis_query(fiscal_year, basis, group).order_by(Member.member_no)
    result = []
    for row in db.session.execute(stmt):
        capital, months = capital_and_months(row, fiscal_year, basis)
        result.append(
            CapitalBasisRow(
                row.id,
                row.member_no,
                row.group_code,
                MemberStatus(row.status).value,
                capital,
                months,
                row.exited_date,
            )
        )
    return result


# --------------------------------------------------------------------------- board to-do


def withdrawals_waiting_count() -> int:
    """Sukarela withdrawals requested and not yet decided."""
    from members.savings.models import SukarelaWithdrawal, WithdrawalStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(SukarelaWithdrawal)
            .where(SukarelaWithdrawal.status == WithdrawalStatus.REQUESTED)
        )
        or 0
    )


def members_in_arrears_count() -> int:
    """Members with a wajib bill of an earlier month still open (the arrears list)."""
    from kmp.timeutil import business_date
    from members.savings.models import Obligation

    month = business_date().replace(day=1)
    return int(
        db.session.scalar(
            select(func.count(func.distinct(Obligation.member_id))).where(
                Obligation.kind == "wajib", Obligation.is_open.is_(True), Obligation.period < month
            )
        )
        or 0
    )
