"""The financial statements of the RAT book, read from the ledger (SAK EP for cooperatives):
neraca with the previous year beside it, perhitungan hasil usaha, arus kas (indirect
method) and perubahan ekuitas. Every amount is a sum of ledger postings; nothing is typed.

Accounts are placed in the fixed groups of ``kmp.ledger.books.groups`` (the system accounts by
code, the board's accounts by their chosen group); the per-member savings accounts are summed
per kind in SQL (``trial_balance(group_members=True)``), so a million members cost one row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select

from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.books.groups import GROUPS, groups_of_type, system_group
from kmp.ledger.books.services import custom_classes
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account, AccountType, Posting
from kmp.ledger.queries import income_statement, member_kind_key, trial_balance

BALANCE_TYPES = (AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY)
RESULT_TYPES = (AccountType.INCOME, AccountType.EXPENSE)
#: Member money held as liabilities: a financing flow, not an operating one.
MEMBER_LIABILITY_PREFIXES = (MEMBER_ACCOUNTS["sukarela"][0], MEMBER_ACCOUNTS["shu"][0])


def year_end(year: int) -> dt.date:
    return dt.date(year, 12, 31)


@dataclass(frozen=True)
class Line:
    code: str
    name: str
    type: AccountType
    group: str
    amount_idr: int  # natural sign (an asset's debit balance, a liability's credit balance)


def _group_of(code: str, account_id: int, type_: AccountType, classes: dict[int, str]) -> str:
    key = classes.get(account_id)
    if key:
        return key
    try:
        return system_group(code)
    except KeyError:
        return groups_of_type(type_)[-1].key


def balances(as_of: dt.date) -> dict[str, Line]:
    """Every account's natural balance at ``as_of`` (member accounts summed per kind)."""
    classes = custom_classes()
    out = {}
    for row in trial_balance(as_of):
        amount = row.balance_idr * row.type.normal_sign
        out[row.code] = Line(
            row.code,
            row.name,
            row.type,
            _group_of(row.code, row.account_id, row.type, classes),
            amount,
        )
    return out


def unclosed_result(lines: dict[str, Line]) -> int:
    """Income minus expenses not yet closed into SHU (0 once every year is closed)."""
    return sum(
        (1 if line.type == AccountType.INCOME else -1) * line.amount_idr
        for line in lines.values()
        if line.type in RESULT_TYPES
    )


def group_total(lines: dict[str, Line], key: str, *, exclude=()) -> int:
    return sum(
        line.amount_idr
        for line in lines.values()
        if line.group == key and not any(line.code.startswith(p) for p in exclude)
    )


def type_total(lines: dict[str, Line], type_: AccountType) -> int:
    return sum(line.amount_idr for line in lines.values() if line.type == type_)


# --------------------------------------------------------------------------- neraca


@dataclass
class BalanceSheet:
    year: int
    groups: list[tuple[str, str, list[tuple[str, str, int, int]], int, int]]
    # (group key, label, [(code, name, this year, last year)], total this year, last year)
    totals: dict[str, int] = field(default_factory=dict)  # assets, liabilities, equity, ...

    @property
    def balances(self) -> bool:
        t = self.totals
        return t["assets"] == t["liabilities_and_equity"] and (
            t["prev_assets"] == t["prev_liabilities_and_equity"]
        )


def balance_sheet(year: int) -> BalanceSheet:
    now, before = balances(year_end(year)), balances(year_end(year - 1))
    sheet = BalanceSheet(year, [])
    for group in GROUPS:
        if group.type not in BALANCE_TYPES:
            continue
        codes = sorted(
            {c for c, line in now.items() if line.group == group.key}
            | {c for c, line in before.items() if line.group == group.key}
        )
        rows = []
        for code in codes:
            cur = now[code].amount_idr if code in now else 0
            prev = before[code].amount_idr if code in before else 0
            if cur or prev:
                rows.append((code, (now.get(code) or before[code]).name, cur, prev))
        if rows:
            sheet.groups.append(
                (
                    group.key,
                    str(group.label),
                    rows,
                    sum(r[2] for r in rows),
                    sum(r[3] for r in rows),
                )
            )
    for prefix, lines in (("", now), ("prev_", before)):
        result = unclosed_result(lines)
        assets = type_total(lines, AccountType.ASSET)
        liabilities = type_total(lines, AccountType.LIABILITY)
        equity = type_total(lines, AccountType.EQUITY)
        sheet.totals.update(
            {
                f"{prefix}assets": assets,
                f"{prefix}liabilities": liabilities,
                f"{prefix}equity": equity,
                f"{prefix}unclosed_result": result,
                f"{prefix}liabilities_and_equity": liabilities + equity + result,
            }
        )
    return sheet


# --------------------------------------------------------------------------- hasil usaha


def _result_groups(start: dt.date, end: dt.date) -> tuple[dict[str, list], int, int]:
    report = income_statement(start, end)
    classes = custom_classes()
    ids = dict(
        db.session.execute(
            select(Account.code, Account.id).where(
                Account.owner_id.is_(None),
                Account.type.in_([t.value for t in RESULT_TYPES]),
            )
        ).all()
    )
    by_group: dict[str, list[tuple[str, str, int]]] = {}
    for key, type_ in (("income", AccountType.INCOME), ("expense", AccountType.EXPENSE)):
        for code, name, amount in report[key].rows:
            group = _group_of(code, ids.get(code, 0), type_, classes)
            by_group.setdefault(group, []).append((code, name, amount))
    return by_group, report["income"].total_idr, report["expense"].total_idr


@dataclass
class ResultStatement:
    year: int
    groups: list[tuple[str, str, AccountType, list[tuple[str, str, int, int]], int, int]]
    totals: dict[str, int] = field(default_factory=dict)


def result_statement(year: int) -> ResultStatement:
    """Perhitungan hasil usaha of ``year`` beside the previous year (income by business
    unit, expenses by nature; the year-end closing entries left out)."""
    now, income, expense = _result_groups(dt.date(year, 1, 1), year_end(year))
    before, prev_income, prev_expense = _result_groups(dt.date(year - 1, 1, 1), year_end(year - 1))
    statement = ResultStatement(year, [])
    for group in GROUPS:
        if group.type not in RESULT_TYPES:
            continue
        cur = {c: (n, a) for c, n, a in now.get(group.key, [])}
        prev = {c: (n, a) for c, n, a in before.get(group.key, [])}
        rows = [
            (
                code,
                (cur.get(code) or prev[code])[0],
                cur.get(code, ("", 0))[1],
                prev.get(code, ("", 0))[1],
            )
            for code in sorted(set(cur) | set(prev))
        ]
        rows = [r for r in rows if r[2] or r[3]]
        if rows:
            statement.groups.append(
                (
                    group.key,
                    str(group.label),
                    group.type,
                    rows,
                    sum(r[2] for r in rows),
                    sum(r[3] for r in rows),
                )
            )
    statement.totals = {
        "income": income,
        "expense": expense,
        "shu": income - expense,
        "prev_income": prev_income,
        "prev_expense": prev_expense,
        "prev_shu": prev_income - prev_expense,
        "depreciation": sum(
            r[2] for g in statement.groups if g[0] == "expense_depreciation" for r in g[3]
        ),
    }
    return statement


# --------------------------------------------------------------------------- arus kas


@dataclass
class CashFlow:
    year: int
    operating: list[tuple[str, int]]
    investing: list[tuple[str, int]]
    financing: list[tuple[str, int]]
    totals: dict[str, int] = field(default_factory=dict)


def cash_flow(year: int, result: ResultStatement | None = None) -> CashFlow:
    """Arus kas, indirect method: the year's SHU adjusted for depreciation and the changes in
    every non-cash balance. Operating + investing + financing = the change in cash and bank."""
    result = result or result_statement(year)
    now, before = balances(year_end(year)), balances(year_end(year - 1))

    def delta(key: str, *, exclude=(), only=None) -> int:
        def total(lines):
            return sum(
                line.amount_idr
                for line in lines.values()
                if (line.group == key if only is None else line.code.startswith(only))
                and not any(line.code.startswith(p) for p in exclude)
            )

        return total(now) - total(before)

    shu = result.totals["shu"]
    dep = result.totals["depreciation"]
    member_liabilities = sum(delta("", only=prefix) for prefix in MEMBER_LIABILITY_PREFIXES)
    operating = [
        (_("Sisa hasil usaha tahun berjalan"), shu),
        (_("Beban penyusutan (bukan kas)"), dep),
        (_("Perubahan piutang dan aset lancar lain"), -delta("other_current_assets")),
        (
            _("Perubahan kewajiban jangka pendek"),
            delta("current_liabilities", exclude=MEMBER_LIABILITY_PREFIXES),
        ),
        (_("Perubahan dana titipan dan dana SHU"), delta("trust_funds")),
    ]
    investing = [
        (_("Perolehan (pelepasan) aset tidak lancar"), -(delta("non_current_assets") + dep))
    ]
    surplus_change = delta("surplus") + unclosed_result(now) - unclosed_result(before) - shu
    financing = [
        (_("Simpanan pokok, wajib dan modal anggota lain"), delta("member_equity")),
        (_("Simpanan sukarela dan SHU anggota belum dibayar"), member_liabilities),
        (_("Kewajiban jangka panjang"), delta("non_current_liabilities")),
        (_("Cadangan"), delta("reserves")),
        (_("SHU tahun lalu yang dibagikan"), surplus_change),
    ]
    opening, closing = group_total(before, "cash_bank"), group_total(now, "cash_bank")
    flow = CashFlow(year, operating, investing, financing)
    flow.totals = {
        "operating": sum(a for _, a in operating),
        "investing": sum(a for _, a in investing),
        "financing": sum(a for _, a in financing),
        "opening_cash": opening,
        "closing_cash": closing,
    }
    flow.totals["net"] = sum(flow.totals[k] for k in ("operating", "investing", "financing"))
    return flow


# --------------------------------------------------------------------------- perubahan ekuitas


@dataclass
class EquityChanges:
    year: int
    rows: list[tuple[str, str, int, int, int, int]]  # code, name, opening, +, -, closing
    totals: dict[str, int] = field(default_factory=dict)


def equity_changes(year: int) -> EquityChanges:
    """Every equity account (member savings per kind) from 31 December of the previous year to
    31 December: opening, increases (credits), decreases (debits), closing."""
    start, end = dt.date(year, 1, 1), year_end(year)
    now, before = balances(end), balances(start - dt.timedelta(days=1))
    key = member_kind_key()
    moves = dict(
        (code, (int(up or 0), int(down or 0)))
        for code, up, down in db.session.execute(
            select(
                key,
                func.sum(case((Posting.amount_idr < 0, -Posting.amount_idr), else_=0)),
                func.sum(case((Posting.amount_idr > 0, Posting.amount_idr), else_=0)),
            )
            .join(Posting, Posting.account_id == Account.id)
            .where(
                Account.type == AccountType.EQUITY.value,
                Posting.account_id.in_(
                    select(Account.id).where(Account.type == AccountType.EQUITY.value)
                ),
                Posting.entry_date >= start,
                Posting.entry_date <= end,
            )
            .group_by(key)
        ).all()
    )
    codes = sorted(
        {c for c, line in now.items() if line.type == AccountType.EQUITY}
        | {c for c, line in before.items() if line.type == AccountType.EQUITY}
    )
    rows = []
    for code in codes:
        opening = before[code].amount_idr if code in before else 0
        closing = now[code].amount_idr if code in now else 0
        up, down = moves.get(code, (0, 0))
        if opening or closing or up or down:
            rows.append((code, (now.get(code) or before[code]).name, opening, up, down, closing))
    unclosed_open, unclosed_close = unclosed_result(before), unclosed_result(now)
    if unclosed_open or unclosed_close:
        change = unclosed_close - unclosed_open
        rows.append(
            (
                "",
                _("Hasil usaha belum ditutup"),
                unclosed_open,
                max(change, 0),
                max(-change, 0),
                unclosed_close,
            )
        )
    changes = EquityChanges(year, rows)
    changes.totals = {
        "opening": sum(r[2] for r in rows),
        "increases": sum(r[3] for r in rows),
        "decreases": sum(r[4] for r in rows),
        "closing": sum(r[5] for r in rows),
    }
    return changes


__all__ = [
    "balance_sheet",
    "balances",
    "cash_flow",
    "equity_changes",
    "result_statement",
]
