"""Read side of reconciliation: unmatched items on both sides, matches, the monthly report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import JournalEntry, Posting
from kmp.ledger.queries import balance_of
from kmp.ledger.reconcile.models import (
    BankImport,
    BankLine,
    BankMatch,
    BankMatchLine,
    GatewaySettlementRow,
)
from kmp.ledger.reconcile.services import unmatched_lines_query, unmatched_postings_query


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def unmatched_lines(account_id: int, start=None, end=None, limit: int = 500) -> list[BankLine]:
    query = unmatched_lines_query(account_id, start, end).order_by(BankLine.line_date, BankLine.id)
    return list(db.session.scalars(query.limit(limit)))


def unmatched_postings(account_id: int, start=None, end=None, limit: int = 500):
    """(posting, entry) pairs not matched to a bank line."""
    query = unmatched_postings_query(account_id, start, end).order_by(
        Posting.entry_date, Posting.id
    )
    return list(db.session.execute(query.limit(limit)).all())


def matches(account_id: int, start=None, end=None, limit: int = 200) -> list[BankMatch]:
    """Matches with at least one bank line in the period, newest first."""
    lines = select(BankMatchLine.match_id).join(BankLine, BankLine.id == BankMatchLine.bank_line_id)
    if start is not None:
        lines = lines.where(BankLine.line_date >= start)
    if end is not None:
        lines = lines.where(BankLine.line_date <= end)
    query = (
        select(BankMatch)
        .where(BankMatch.account_id == account_id, BankMatch.id.in_(lines))
        .order_by(BankMatch.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def bank_lines_by_id(ids) -> dict[int, BankLine]:
    ids = list(ids)
    if not ids:
        return {}
    return {b.id: b for b in db.session.scalars(select(BankLine).where(BankLine.id.in_(ids)))}


def postings_by_id(ids) -> dict[int, tuple[Posting, JournalEntry]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(Posting, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.id.in_(ids))
    )
    return {p.id: (p, e) for p, e in rows}


def imports(account_id: int, limit: int = 20) -> list[BankImport]:
    return list(
        db.session.scalars(
            select(BankImport)
            .where(BankImport.account_id == account_id)
            .order_by(BankImport.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class MonthlyReport:
    account_id: int
    start: dt.date
    end: dt.date
    bank_in_idr: int
    bank_out_idr: int
    bank_lines: int
    matched_lines: int
    bank_balance_idr: int | None  # the statement's closing balance, when the export has one
    ledger_balance_idr: int
    #: Unmatched items from the first statement line up to the month's end.
    open_bank_lines: list[BankLine]
    open_postings: list[tuple[Posting, JournalEntry]]

    @property
    def open_bank_total_idr(self) -> int:
        return sum(b.amount_idr for b in self.open_bank_lines)

    @property
    def open_postings_total_idr(self) -> int:
        return sum(p.amount_idr for p, _ in self.open_postings)

    @property
    def expected_bank_balance_idr(self) -> int:
        """The ledger balance corrected by the unmatched items: what the bank should show."""
        return self.ledger_balance_idr - self.open_postings_total_idr + self.open_bank_total_idr

    @property
    def difference_idr(self) -> int | None:
        if self.bank_balance_idr is None:
            return None
        return self.bank_balance_idr - self.expected_bank_balance_idr

    @property
    def is_reconciled(self) -> bool:
        return not self.open_bank_lines and not self.open_postings and not self.difference_idr


def monthly_report(account_id: int, year: int, month: int) -> MonthlyReport:
    start, end = month_bounds(year, month)
    in_month = (BankLine.account_id == account_id, BankLine.line_date.between(start, end))
    totals = db.session.execute(
        select(
            func.coalesce(func.sum(BankLine.amount_idr).filter(BankLine.amount_idr > 0), 0),
            func.coalesce(func.sum(BankLine.amount_idr).filter(BankLine.amount_idr < 0), 0),
            func.count(BankLine.id),
        ).where(*in_month)
    ).one()
    matched = db.session.scalar(
        select(func.count(BankMatchLine.id))
        .join(BankLine, BankLine.id == BankMatchLine.bank_line_id)
        .where(*in_month)
    )
    last = db.session.scalar(
        select(BankLine.balance_idr)
        .where(*in_month, BankLine.balance_idr.is_not(None))
        .order_by(BankLine.line_date.desc(), BankLine.id.desc())
        .limit(1)
    )
    first_line = db.session.scalar(
        select(func.min(BankLine.line_date)).where(BankLine.account_id == account_id)
    )
    since = first_line or start
    return MonthlyReport(
        account_id=account_id,
        start=start,
        end=end,
        bank_in_idr=int(totals[0] or 0),
        bank_out_idr=-int(totals[1] or 0),
        bank_lines=int(totals[2] or 0),
        matched_lines=int(matched or 0),
        bank_balance_idr=last,
        ledger_balance_idr=balance_of(account_id, as_of=end),
        open_bank_lines=unmatched_lines(account_id, since, end, limit=5000),
        open_postings=unmatched_postings(account_id, since, end, limit=5000),
    )


def settlement_rows(status: str | None = None, limit: int = 300) -> list[GatewaySettlementRow]:
    query = select(GatewaySettlementRow).order_by(GatewaySettlementRow.id.desc())
    if status == "problem":
        query = query.where(GatewaySettlementRow.status != "booked")
    return list(db.session.scalars(query.limit(limit)))
