"""Read side of bookkeeping: lists of documents and the chart grouped as the statements need."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from kmp.extensions import db
from kmp.ledger.books.groups import GROUPS, AccountGroup
from kmp.ledger.books.models import CashEntry, CashKind, ManualJournal
from kmp.ledger.books.services import account_group, custom_classes
from kmp.ledger.models import Account

LIST_LIMIT = 200


def cash_entries(
    *,
    status: str | None = None,
    kind: CashKind | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    limit: int = LIST_LIMIT,
) -> list[CashEntry]:
    query = select(CashEntry).order_by(CashEntry.entry_date.desc(), CashEntry.id.desc())
    if status:
        query = query.where(CashEntry.status == status)
    if kind:
        query = query.where(CashEntry.kind == kind)
    if period:
        query = query.where(CashEntry.entry_date.between(*period))
    return list(db.session.scalars(query.limit(limit)))


def manual_journals(*, status: str | None = None, limit: int = LIST_LIMIT) -> list[ManualJournal]:
    query = select(ManualJournal).order_by(ManualJournal.entry_date.desc(), ManualJournal.id.desc())
    if status:
        query = query.where(ManualJournal.status == status)
    return list(db.session.scalars(query.limit(limit)))


def journal_accounts() -> list[Account]:
    """Accounts a manual journal may use: every open account that is not a member's."""
    return list(
        db.session.scalars(
            select(Account)
            .where(Account.owner_id.is_(None), Account.is_closed.is_(False))
            .order_by(Account.code)
        )
    )


@dataclass(frozen=True)
class ChartGroup:
    group: AccountGroup
    accounts: list[tuple[Account, bool]]  # (account, is a board account)


def chart_by_group() -> list[ChartGroup]:
    """Every non-member account under its group (member accounts are summed elsewhere)."""
    classes = custom_classes()
    accounts = db.session.scalars(
        select(Account).where(Account.owner_id.is_(None)).order_by(Account.code)
    )
    by_group: dict[str, list[tuple[Account, bool]]] = {g.key: [] for g in GROUPS}
    for account in accounts:
        by_group[account_group(account, classes)].append((account, account.id in classes))
    return [ChartGroup(g, by_group[g.key]) for g in GROUPS]
