"""Read side of the ledger: balances, statements, trial balance and the integrity check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import Account, AccountType, JournalEntry, Posting


def balance_of(account: Account | int, as_of: dt.date | None = None) -> int:
    """Signed balance (debit positive). Without ``as_of`` it reads the maintained balance."""
    account_id = account.id if isinstance(account, Account) else account
    if as_of is None:
        return db.session.scalar(select(Account.balance_idr).where(Account.id == account_id)) or 0
    total = db.session.scalar(
        select(func.coalesce(func.sum(Posting.amount_idr), 0)).where(
            Posting.account_id == account_id, Posting.entry_date <= as_of
        )
    )
    return int(total or 0)


def natural_balance(account: Account | int, as_of: dt.date | None = None) -> int:
    if isinstance(account, int):
        account = db.session.get(Account, account)
    return balance_of(account, as_of) * account.normal_sign


def balances_of_member(member_id: int) -> dict[str, int]:
    """Natural balances of a member's accounts keyed by kind prefix code (one indexed query)."""
    rows = db.session.execute(
        select(Account.code, Account.balance_idr, Account.normal_sign).where(
            Account.owner_id == member_id
        )
    )
    return {code: balance * sign for code, balance, sign in rows}


@dataclass(frozen=True)
class TrialBalanceRow:
    account_id: int
    code: str
    name: str
    type: AccountType
    debit_idr: int
    credit_idr: int

    @property
    def balance_idr(self) -> int:
        return self.debit_idr - self.credit_idr


def trial_balance(
    as_of: dt.date | None = None,
    *,
    include_member_accounts: bool = True,
    group_members: bool = True,
) -> list[TrialBalanceRow]:
    """Per-account debit/credit balances at ``as_of`` (inclusive). With ``group_members`` the
    per-member savings accounts are summed into one row per kind, so the report stays small
    for a million members."""
    if as_of is None:
        balance = Account.balance_idr
        query = select(Account.id, Account.code, Account.name, Account.type, balance)
    else:
        sums = (
            select(Posting.account_id, func.sum(Posting.amount_idr).label("total"))
            .where(Posting.entry_date <= as_of)
            .group_by(Posting.account_id)
            .subquery()
        )
        query = select(
            Account.id,
            Account.code,
            Account.name,
            Account.type,
            func.coalesce(sums.c.total, 0),
        ).outerjoin(sums, sums.c.account_id == Account.id)
    if not include_member_accounts:
        query = query.where(Account.owner_id.is_(None))
    rows: dict[str, list] = {}
    for account_id, code, name, type_, total in db.session.execute(query.order_by(Account.code)):
        total = int(total or 0)
        key = code
        if group_members and code.count(":") >= 3 and _is_member_code(code):
            key = code.rsplit(":", 1)[0]
            name = _member_kind_name(key)
            account_id = 0
        if key in rows:
            rows[key][4] += total
        else:
            rows[key] = [account_id, key, name, AccountType(type_), total]
    result = []
    for account_id, code, name, type_, total in rows.values():
        result.append(TrialBalanceRow(account_id, code, name, type_, max(total, 0), max(-total, 0)))
    return sorted(result, key=lambda r: r.code)


def _is_member_code(code: str) -> bool:
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    return any(code.startswith(prefix + ":") for prefix, _, _ in MEMBER_ACCOUNTS.values())


def _member_kind_name(prefix: str) -> str:
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    for p, name, _ in MEMBER_ACCOUNTS.values():
        if p == prefix:
            return f"{name} (semua anggota)"
    return prefix


@dataclass(frozen=True)
class StatementSection:
    type: AccountType
    rows: list[tuple[str, str, int]]  # code, name, natural amount

    @property
    def total_idr(self) -> int:
        return sum(r[2] for r in self.rows)


def _period_sums(types: tuple[AccountType, ...], start: dt.date | None, end: dt.date):
    query = (
        select(
            Account.code,
            Account.name,
            Account.type,
            Account.normal_sign,
            func.coalesce(func.sum(Posting.amount_idr), 0),
        )
        .join(Posting, Posting.account_id == Account.id)
        .where(Account.type.in_([t.value for t in types]), Posting.entry_date <= end)
        .group_by(Account.code, Account.name, Account.type, Account.normal_sign)
        .order_by(Account.code)
    )
    if start is not None:
        query = query.where(Posting.entry_date >= start)
    sections: dict[AccountType, dict[str, list]] = {t: {} for t in types}
    for code, name, type_, sign, total in db.session.execute(query):
        type_ = AccountType(type_)
        key, label = code, name
        if _is_member_code(code):
            key = code.rsplit(":", 1)[0]
            label = _member_kind_name(key)
        bucket = sections[type_].setdefault(key, [key, label, 0])
        bucket[2] += int(total) * sign
    return {
        t: StatementSection(t, [tuple(v) for v in rows.values()]) for t, rows in sections.items()
    }


def income_statement(start: dt.date, end: dt.date) -> dict:
    sections = _period_sums((AccountType.INCOME, AccountType.EXPENSE), start, end)
    income = sections[AccountType.INCOME]
    expense = sections[AccountType.EXPENSE]
    return {
        "income": income,
        "expense": expense,
        "surplus_idr": income.total_idr - expense.total_idr,
    }


def balance_sheet(as_of: dt.date) -> dict:
    sections = _period_sums(
        (
            AccountType.ASSET,
            AccountType.LIABILITY,
            AccountType.EQUITY,
            AccountType.INCOME,
            AccountType.EXPENSE,
        ),
        None,
        as_of,
    )
    current_result = (
        sections[AccountType.INCOME].total_idr - sections[AccountType.EXPENSE].total_idr
    )
    assets = sections[AccountType.ASSET]
    liabilities = sections[AccountType.LIABILITY]
    equity = sections[AccountType.EQUITY]
    return {
        "assets": assets,
        "liabilities": liabilities,
        "equity": equity,
        "unclosed_result_idr": current_result,
        "balanced": assets.total_idr == liabilities.total_idr + equity.total_idr + current_result,
    }


@dataclass
class LedgerCheckResult:
    entries: int
    postings: int
    accounts: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = f"{self.entries} entries, {self.postings} postings, {self.accounts} accounts"
        if self.ok:
            return (
                f"ledger-check OK: {head}; every entry balances, trial balance is zero, "
                "maintained balances match postings"
            )
        return f"ledger-check FAILED: {head}; {len(self.problems)} problem(s): " + "; ".join(
            self.problems[:20]
        )


def check_ledger(limit: int = 50) -> LedgerCheckResult:
    """Verify every entry balances (with >= 2 postings), the trial balance is zero, no posting is
    zero, and every maintained balance equals the sum of its postings — all set-based SQL."""
    problems: list[str] = []
    entries = db.session.scalar(select(func.count()).select_from(JournalEntry)) or 0
    postings = db.session.scalar(select(func.count()).select_from(Posting)) or 0
    accounts = db.session.scalar(select(func.count()).select_from(Account)) or 0

    unbalanced = db.session.execute(
        select(Posting.entry_id, func.sum(Posting.amount_idr), func.count())
        .group_by(Posting.entry_id)
        .having((func.sum(Posting.amount_idr) != 0) | (func.count() < 2))
        .limit(limit)
    ).all()
    for entry_id, total, count in unbalanced:
        problems.append(f"entry {entry_id} does not balance (sum {total}, {count} postings)")
    empty = (
        db.session.execute(
            select(JournalEntry.id)
            .where(~select(Posting.id).where(Posting.entry_id == JournalEntry.id).exists())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    for entry_id in empty:
        problems.append(f"entry {entry_id} has no postings")
    zero = db.session.scalar(
        select(func.count()).select_from(Posting).where(Posting.amount_idr == 0)
    )
    if zero:
        problems.append(f"{zero} zero postings")
    total = db.session.scalar(select(func.coalesce(func.sum(Posting.amount_idr), 0))) or 0
    if total != 0:
        problems.append(f"trial balance is off by {total}")
    sums = (
        select(Posting.account_id, func.sum(Posting.amount_idr).label("total"))
        .group_by(Posting.account_id)
        .subquery()
    )
    drift = db.session.execute(
        select(Account.code, Account.balance_idr, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance_idr != func.coalesce(sums.c.total, 0))
        .limit(limit)
    ).all()
    for code, maintained, summed in drift:
        problems.append(
            f"account {code}: maintained balance {maintained} != sum of postings {summed}"
        )
    negative = db.session.execute(
        select(Account.code, Account.balance_idr)
        .where(Account.no_negative, Account.normal_sign * Account.balance_idr < 0)
        .limit(limit)
    ).all()
    for code, balance in negative:
        problems.append(f"account {code} is below zero ({balance * -1})")
    mismatch = (
        db.session.execute(
            select(Posting.id)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.entry_date != JournalEntry.entry_date)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    for posting_id in mismatch:
        problems.append(f"posting {posting_id} date differs from its entry")
    return LedgerCheckResult(entries, postings, accounts, problems)
