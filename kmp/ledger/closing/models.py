"""Year-end close records and the budget (RAPB). The period locks themselves are
``kmp.ledger.models.ClosedPeriod`` rows (one per closed year or month)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, UTCDateTime
from kmp.extensions import db
from kmp.ledger.models import Account
from kmp.timeutil import now_utc


class YearEndClose(db.Model):
    """A fiscal year closed into SHU: its result (the PHU figure) and the closing entry."""

    __tablename__ = "year_end_closes"
    __table_args__ = (CheckConstraint("shu_idr = income_idr - expense_idr", name="shu_is_result"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, unique=True)
    income_idr: Mapped[int] = mapped_column(Rupiah)
    expense_idr: Mapped[int] = mapped_column(Rupiah)
    shu_idr: Mapped[int] = mapped_column(Rupiah)
    #: None when the year had no income or expense at all (nothing to close).
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), unique=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    note: Mapped[str | None] = mapped_column(Text)


class BudgetLine(db.Model):
    """The plan (RAPB) for one income or expense account in one fiscal year."""

    __tablename__ = "budget_lines"
    __table_args__ = (
        UniqueConstraint("fiscal_year", "account_id"),
        CheckConstraint("amount_idr >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)

    account: Mapped[Account] = relationship()
