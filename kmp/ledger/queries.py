"""Read side of the ledger: balances, statements, trial balance and the integrity check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, literal, select, tuple_

from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.models import Account, AccountType, JournalEntry, Posting
from kmp.replica import read_execute


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


def member_kind_key():
    """SQL expression: a member account's kind prefix (e.g. ``liability:savings:voluntary``),
    any other account's own code. Grouping on it keeps reports small for a million members."""
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    whens = [
        (Account.code.like(prefix + ":%"), literal(prefix))
        for prefix, _, _ in MEMBER_ACCOUNTS.values()
    ]
    return case(*whens, else_=Account.code)


def trial_balance(
    as_of: dt.date | None = None,
    *,
    include_member_accounts: bool = True,
    group_members: bool = True,
) -> list[TrialBalanceRow]:
    """Per-account debit/credit balances at ``as_of`` (inclusive). With ``group_members`` the
    per-member savings accounts are summed into one row per kind (in SQL), so the report stays
    small for a million members."""
    key = member_kind_key() if group_members else Account.code
    if as_of is None:
        amount = Account.balance_idr
        source = Account.__table__
    else:
        sums = (
            select(Posting.account_id, func.sum(Posting.amount_idr).label("total"))
            .where(Posting.entry_date <= as_of)
            .group_by(Posting.account_id)
            .subquery()
        )
        amount = func.coalesce(sums.c.total, 0)
        source = Account.__table__.outerjoin(sums, sums.c.account_id == Account.id)
    query = (
        select(
            key.label("key"),
            Account.type,
            func.min(Account.name),
            func.min(Account.id),
            func.coalesce(func.sum(amount), 0),
        )
        .select_from(source)
        .group_by(key, Account.type)
        .order_by(key)
    )
    if not include_member_accounts:
        query = query.where(Account.owner_id.is_(None))
    result = []
    for code, type_, name, account_id, total in read_execute(query):
        total = int(total or 0)
        if group_members and _is_member_prefix(code):
            name, account_id = _member_kind_name(code), 0
        result.append(
            TrialBalanceRow(
                account_id, code, name, AccountType(type_), max(total, 0), max(-total, 0)
            )
        )
    return result


def _is_member_prefix(key: str) -> bool:
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    return any(key == prefix for prefix, _, _ in MEMBER_ACCOUNTS.values())


def _is_member_code(code: str) -> bool:
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    return any(code.startswith(prefix + ":") for prefix, _, _ in MEMBER_ACCOUNTS.values())


def _member_kind_name(prefix: str) -> str:
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    for p, name, _ in MEMBER_ACCOUNTS.values():
        if p == prefix:
            return gettext("%(name)s (semua anggota)", name=gettext(name))
    return prefix


@dataclass(frozen=True)
class StatementSection:
    type: AccountType
    rows: list[tuple[str, str, int]]  # code, name, natural amount

    @property
    def total_idr(self) -> int:
        return sum(r[2] for r in self.rows)


def _period_sums(
    types: tuple[AccountType, ...],
    start: dt.date | None,
    end: dt.date,
    *,
    without_year_end_close: bool = False,
):
    key = member_kind_key()
    type_values = [t.value for t in types]
    query = (
        select(
            key.label("key"),
            Account.type,
            func.min(Account.name),
            func.coalesce(func.sum(Posting.amount_idr), 0),
        )
        .join(Posting, Posting.account_id == Account.id)
        .where(Account.type.in_(type_values), Posting.entry_date <= end)
        .group_by(key, Account.type)
        .order_by(key)
    )
    if set(types) != set(AccountType):
        # the few accounts of these types first, then their postings by (account, date):
        # without this SQLite scans every posting of the ledger (millions) to find them
        query = query.where(
            Posting.account_id.in_(select(Account.id).where(Account.type.in_(type_values)))
        )
    if start is not None:
        query = query.where(Posting.entry_date >= start)
    if without_year_end_close:
        query = query.where(Posting.entry_id.not_in(year_end_entry_ids()))
    sections: dict[AccountType, list[tuple[str, str, int]]] = {t: [] for t in types}
    for code, type_, name, total in read_execute(query):
        type_ = AccountType(type_)
        label = _member_kind_name(code) if _is_member_prefix(code) else name
        sections[type_].append((code, label, int(total) * type_.normal_sign))
    return {t: StatementSection(t, rows) for t, rows in sections.items()}


def year_end_entry_ids():
    """Subquery: the ids of the year-end closing entries (income and expenses closed into SHU).
    A statement of results leaves them out, so a closed year still shows what it earned."""
    from kmp.ledger.services import YEAR_END_SOURCE_KIND

    return select(JournalEntry.id).where(JournalEntry.source_kind == YEAR_END_SOURCE_KIND)


def income_statement(start: dt.date, end: dt.date) -> dict:
    """Income and expenses between ``start`` and ``end``; the year-end closing entries are left
    out (they move the result into SHU, they are not income or expenses)."""
    sections = _period_sums(
        (AccountType.INCOME, AccountType.EXPENSE), start, end, without_year_end_close=True
    )
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
    entries, accounts = db.session.execute(
        select(
            select(func.count()).select_from(JournalEntry).scalar_subquery(),
            select(func.count()).select_from(Account).scalar_subquery(),
        )
    ).one()
    postings, zero, total = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Posting.amount_idr == 0, 1), else_=0)), 0),
            func.coalesce(func.sum(Posting.amount_idr), 0),
        ).select_from(Posting)
    ).one()
    entries, accounts, postings, zero, total = (
        int(entries or 0),
        int(accounts or 0),
        int(postings or 0),
        int(zero or 0),
        int(total or 0),
    )

    unbalanced = db.session.execute(
        select(Posting.entry_id, func.sum(Posting.amount_idr), func.count())
        .group_by(Posting.entry_id)
        .having((func.sum(Posting.amount_idr) != 0) | (func.count() < 2))
        .limit(limit)
    ).all()
    for entry_id, entry_sum, count in unbalanced:
        problems.append(f"entry {entry_id} does not balance (sum {entry_sum}, {count} postings)")
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
    if zero:
        problems.append(f"{zero} zero postings")
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
        select(Account.code, Account.balance_idr, Account.normal_sign)
        .where(Account.no_negative, Account.normal_sign * Account.balance_idr < 0)
        .limit(limit)
    ).all()
    for code, balance, sign in negative:
        problems.append(f"account {code} is below zero ({balance * sign})")
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


# --- Pages: chart of accounts, member accounts, journal, statements ------------------------


@dataclass(frozen=True)
class ChartRow:
    """One line of the chart of accounts: a single account, or one kind of member account
    (``account_id`` None) summing ``account_count`` accounts."""

    key: str
    name: str
    type: AccountType
    balance_idr: int  # natural direction (savings positive)
    account_count: int
    account_id: int | None
    is_closed: bool

    @property
    def is_member_kind(self) -> bool:
        return self.account_id is None


def chart_of_accounts() -> list[ChartRow]:
    """Every account with its maintained balance; member accounts summed per kind in SQL."""
    key = member_kind_key()
    query = (
        select(
            key.label("key"),
            Account.type,
            func.min(Account.name),
            func.min(Account.id),
            func.count(Account.id),
            func.coalesce(func.sum(Account.balance_idr), 0),
            func.max(case((Account.is_closed, 1), else_=0)),
        )
        .group_by(key, Account.type)
        .order_by(key)
    )
    rows = []
    for code, type_, name, account_id, count, total, closed in db.session.execute(query):
        type_ = AccountType(type_)
        member = _is_member_prefix(code)
        rows.append(
            ChartRow(
                key=code,
                name=_member_kind_name(code) if member else name,
                type=type_,
                balance_idr=int(total) * type_.normal_sign,
                account_count=int(count),
                account_id=None if member else account_id,
                is_closed=bool(closed) and not member,
            )
        )
    return rows


def member_kind_prefixes() -> dict[str, str]:
    """``{code prefix: Indonesian name}`` of the member account kinds."""
    from kmp.ledger.chart import MEMBER_ACCOUNTS

    return {prefix: name for prefix, name, _ in MEMBER_ACCOUNTS.values()}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def member_accounts_page(
    prefix: str, *, search: str = "", after_code: str | None = None, limit: int = 50
) -> tuple[list[Account], str | None]:
    """Member accounts of one kind ordered by code, keyset-paginated (``after_code``);
    ``search`` matches the start of the member number. Returns (accounts, next cursor)."""
    pattern = f"{_like_escape(prefix)}:{_like_escape(search.strip())}%"
    query = select(Account).where(Account.code.like(pattern, escape="\\")).order_by(Account.code)
    if after_code:
        query = query.where(Account.code > after_code)
    accounts = list(db.session.scalars(query.limit(limit + 1)))
    next_cursor = accounts[limit - 1].code if len(accounts) > limit else None
    return accounts[:limit], next_cursor


@dataclass(frozen=True)
class JournalFilter:
    start: dt.date | None = None
    end: dt.date | None = None
    source_kind: str | None = None
    account_id: int | None = None
    text: str | None = None


def _journal_conditions(f: JournalFilter) -> list:
    conditions = []
    if f.start is not None:
        conditions.append(JournalEntry.entry_date >= f.start)
    if f.end is not None:
        conditions.append(JournalEntry.entry_date <= f.end)
    if f.source_kind:
        conditions.append(JournalEntry.source_kind == f.source_kind)
    if f.account_id is not None:
        conditions.append(
            JournalEntry.id.in_(select(Posting.entry_id).where(Posting.account_id == f.account_id))
        )
    if f.text and f.text.strip():
        text = f.text.strip()
        pattern = f"%{_like_escape(text)}%"
        conditions.append(
            JournalEntry.description.ilike(pattern, escape="\\")
            | (JournalEntry.source_id == text)
            | (JournalEntry.idempotency_key == text)
        )
    return conditions


def journal_page(
    f: JournalFilter, *, before: tuple[dt.date, int] | None = None, limit: int = 50
) -> tuple[list[JournalEntry], tuple[dt.date, int] | None]:
    """Newest entries first, keyset-paginated on (entry_date, id): ``before`` is the cursor of
    the last entry of the previous page. Returns (entries with postings, next cursor)."""
    query = select(JournalEntry).where(*_journal_conditions(f))
    if before is not None:
        query = query.where(tuple_(JournalEntry.entry_date, JournalEntry.id) < tuple_(*before))
    query = query.order_by(JournalEntry.entry_date.desc(), JournalEntry.id.desc()).limit(limit + 1)
    entries = list(db.session.scalars(query))
    next_cursor = None
    if len(entries) > limit:
        last = entries[limit - 1]
        next_cursor = (last.entry_date, last.id)
    return entries[:limit], next_cursor


def journal_source_kinds() -> list[str]:
    return sorted(db.session.scalars(select(JournalEntry.source_kind).distinct()))


def iter_journal_lines(f: JournalFilter, *, batch: int = 2000):
    """Every posting of the filtered journal, oldest first, streamed in batches (for exports):
    (entry id, date, description, source kind, source id, account code, account name,
    debit, credit)."""
    query = (
        select(
            JournalEntry.id,
            JournalEntry.entry_date,
            JournalEntry.description,
            JournalEntry.source_kind,
            JournalEntry.source_id,
            Account.code,
            Account.name,
            Posting.amount_idr,
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(*_journal_conditions(f))
        .order_by(JournalEntry.entry_date, JournalEntry.id, Posting.id)
        .execution_options(yield_per=batch)
    )
    for entry_id, day, description, kind, source_id, code, name, amount in db.session.execute(
        query
    ):
        yield (
            entry_id,
            day,
            description,
            kind,
            source_id or "",
            code,
            name,
            max(amount, 0),
            max(-amount, 0),
        )


def reversal_of(entry: JournalEntry) -> JournalEntry | None:
    """The entry that reversed ``entry``, if any."""
    return db.session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == entry.id))


@dataclass(frozen=True)
class StatementAccount:
    id: int
    code: str
    name: str
    type: AccountType
    opening_idr: int  # natural direction, before ``start``
    closing_idr: int  # natural direction, at ``end``


@dataclass(frozen=True)
class StatementLine:
    posting_id: int
    entry_id: int
    entry_date: dt.date
    description: str
    account_id: int
    account_code: str
    amount_idr: int  # natural direction: a deposit into savings is positive
    balance_idr: int  # the account's natural balance after this line


@dataclass(frozen=True)
class MemberStatement:
    accounts: list[StatementAccount]
    lines: list[StatementLine]
    start: dt.date | None
    end: dt.date | None
    page: int
    pages: int
    total_lines: int


def member_statement(
    account_ids,
    start: dt.date | None = None,
    end: dt.date | None = None,
    page: int = 1,
    *,
    per_page: int = 50,
    loaded: list | None = None,
) -> MemberStatement:
    """The history of a member's accounts between ``start`` and ``end`` (inclusive, Jakarta
    business dates), oldest first, ``per_page`` lines per page, each line with its account's
    running balance. Amounts are in the account's natural direction. Reads only the given
    accounts' postings through the (account_id, entry_date, id) index."""
    ids = sorted({int(i) for i in account_ids})
    empty = MemberStatement([], [], start, end, 1, 1, 0)
    if not ids:
        return empty
    if loaded is not None:  # the caller's rows (already read): not read again
        accounts = sorted((a for a in loaded if a.id in set(ids)), key=lambda a: a.code)
    else:
        accounts = list(
            db.session.scalars(select(Account).where(Account.id.in_(ids)).order_by(Account.code))
        )
    if not accounts:
        return empty
    ids = [a.id for a in accounts]
    signs = {a.id: a.normal_sign for a in accounts}

    def sums(*conditions) -> dict[int, int]:
        rows = db.session.execute(
            select(Posting.account_id, func.sum(Posting.amount_idr))
            .where(Posting.account_id.in_(ids), *conditions)
            .group_by(Posting.account_id)
        )
        return {a: int(v or 0) for a, v in rows}

    in_range = [Posting.account_id.in_(ids)]
    if start is not None:
        in_range.append(Posting.entry_date >= start)
    if end is not None:
        in_range.append(Posting.entry_date <= end)
    # Opening (before start), closing (up to end) and the count of lines in the range: one
    # grouped pass over the accounts' postings up to ``end`` (the closing sum read them all).
    amount = Posting.amount_idr
    in_range_count = func.count(case((and_(*in_range[1:]), 1))) if in_range[1:] else func.count()
    before = Posting.entry_date < start if start is not None else literal(False)
    columns = (
        Posting.account_id,
        in_range_count,
        func.count(case((before, 1))),
        func.sum(case((before, amount), else_=0)),
        func.sum(amount),
    )
    scope = [Posting.account_id.in_(ids)] + ([Posting.entry_date <= end] if end else [])
    opening: dict[int, int] = {}
    closing: dict[int, int] = {} if end is not None else {a.id: a.balance_idr for a in accounts}
    total = 0
    for account_id, count, n_before, before_start, up_to_end in db.session.execute(
        select(*columns).where(*scope).group_by(Posting.account_id)
    ):
        total += int(count or 0)
        if start is not None and n_before:
            opening[account_id] = int(before_start or 0)
        if end is not None:
            closing[account_id] = int(up_to_end or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, int(page)), pages)
    rows = db.session.execute(
        select(
            Posting.id,
            Posting.entry_id,
            Posting.entry_date,
            JournalEntry.description,
            Posting.account_id,
            Posting.amount_idr,
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(*in_range)
        .order_by(Posting.entry_date, Posting.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    running = dict(opening)
    if rows and page > 1:  # on page 1 nothing in the range comes before the first line
        first_date, first_id = rows[0][2], rows[0][0]
        before = sums(
            *in_range[1:], tuple_(Posting.entry_date, Posting.id) < tuple_(first_date, first_id)
        )
        for account_id, value in before.items():
            running[account_id] = running.get(account_id, 0) + value
    codes = {a.id: a.code for a in accounts}
    lines = []
    for posting_id, entry_id, day, description, account_id, amount in rows:
        running[account_id] = running.get(account_id, 0) + amount
        sign = signs[account_id]
        lines.append(
            StatementLine(
                posting_id,
                entry_id,
                day,
                description,
                account_id,
                codes[account_id],
                amount * sign,
                running[account_id] * sign,
            )
        )
    statement_accounts = [
        StatementAccount(
            a.id,
            a.code,
            a.name,
            a.type,
            opening.get(a.id, 0) * a.normal_sign,
            closing.get(a.id, 0) * a.normal_sign,
        )
        for a in accounts
    ]
    return MemberStatement(statement_accounts, lines, start, end, page, pages, total)
