"""Read side of closing: a year's result per account, and the budget against it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.closing.models import BudgetLine, YearEndClose
from kmp.ledger.models import Account, AccountType, JournalEntry, Posting
from kmp.ledger.queries import year_end_entry_ids


@dataclass(frozen=True)
class ResultRow:
    account_id: int
    code: str
    name: str
    type: AccountType
    signed_idr: int  # debit positive, as posted

    @property
    def natural_idr(self) -> int:
        return self.signed_idr * self.type.normal_sign


@dataclass(frozen=True)
class YearResult:
    fiscal_year: int
    rows: list[ResultRow]

    @property
    def income_idr(self) -> int:
        return sum(r.natural_idr for r in self.rows if r.type == AccountType.INCOME)

    @property
    def expense_idr(self) -> int:
        return sum(r.natural_idr for r in self.rows if r.type == AccountType.EXPENSE)

    @property
    def shu_idr(self) -> int:
        return self.income_idr - self.expense_idr


def year_result(fiscal_year: int) -> YearResult:
    """Income and expenses of a fiscal year per account (the year-end closing entry left out)."""
    start, end = dt.date(fiscal_year, 1, 1), dt.date(fiscal_year, 12, 31)
    types = [AccountType.INCOME.value, AccountType.EXPENSE.value]
    query = (
        select(Account.id, Account.code, Account.name, Account.type, func.sum(Posting.amount_idr))
        .join(Posting, Posting.account_id == Account.id)
        .where(
            Account.type.in_(types),
            Posting.account_id.in_(select(Account.id).where(Account.type.in_(types))),
            Posting.entry_date >= start,
            Posting.entry_date <= end,
            Posting.entry_id.not_in(year_end_entry_ids()),
        )
        .group_by(Account.id, Account.code, Account.name, Account.type)
        .order_by(Account.code)
    )
    rows = [
        ResultRow(i, code, name, AccountType(type_), int(total or 0))
        for i, code, name, type_, total in db.session.execute(query)
    ]
    return YearResult(fiscal_year, [r for r in rows if r.signed_idr])


def first_entry_year() -> int | None:
    first = db.session.scalar(select(func.min(JournalEntry.entry_date)))
    return first.year if first else None


def year_end_close(fiscal_year: int) -> YearEndClose | None:
    return db.session.scalar(select(YearEndClose).where(YearEndClose.fiscal_year == fiscal_year))


def year_end_closes() -> dict[int, YearEndClose]:
    return {c.fiscal_year: c for c in db.session.scalars(select(YearEndClose))}


@dataclass(frozen=True)
class BudgetRow:
    account_id: int
    code: str
    name: str
    type: AccountType
    plan_idr: int | None
    actual_idr: int

    @property
    def difference_idr(self) -> int:
        return self.actual_idr - (self.plan_idr or 0)

    @property
    def realisation_bp(self) -> int | None:
        """Actual as basis points of the plan (10 000 = 100 %), None without a plan."""
        if not self.plan_idr:
            return None
        return self.actual_idr * 10_000 // self.plan_idr


def budget_plan(fiscal_year: int) -> dict[int, BudgetLine]:
    return {
        b.account_id: b
        for b in db.session.scalars(select(BudgetLine).where(BudgetLine.fiscal_year == fiscal_year))
    }


def budget_vs_actual(fiscal_year: int) -> list[BudgetRow]:
    """Every income/expense account with a plan or an actual figure in the year."""
    plan = budget_plan(fiscal_year)
    actual = {r.account_id: r.natural_idr for r in year_result(fiscal_year).rows}
    ids = set(plan) | set(actual)
    if not ids:
        return []
    accounts = db.session.scalars(select(Account).where(Account.id.in_(ids)))
    rows = [
        BudgetRow(
            a.id,
            a.code,
            a.name,
            a.type,
            plan[a.id].amount_idr if a.id in plan else None,
            actual.get(a.id, 0),
        )
        for a in accounts
    ]
    rows.sort(key=lambda r: (r.type != AccountType.INCOME, r.code))
    return rows
