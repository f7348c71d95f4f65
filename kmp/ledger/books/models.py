"""Bookkeeping documents: the board's own accounts, receipts, income/expense entries and manual
journals. None of them moves money by itself: a document posts through ``post_entries`` when
it is approved (or at once, below the approval threshold), and is corrected by a reversal."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.ledger.books.approval import ApprovalMixin, approval_constraints
from kmp.ledger.books.groups import check_sql
from kmp.ledger.models import Account
from kmp.timeutil import now_utc


class AccountClass(db.Model):
    """An account the board added to the chart, with its group. System accounts have no row:
    they are placed by their code (``groups.system_group``) and cannot be renamed or deleted."""

    __tablename__ = "account_classes"
    __table_args__ = (CheckConstraint(check_sql(), name="group_of_type"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    account_type: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    account: Mapped[Account] = relationship()


RECEIPT_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")


class ReceiptFile(db.Model):
    """A receipt (photo or PDF) stored privately under the instance folder, by content hash."""

    __tablename__ = "receipt_files"
    __table_args__ = (
        CheckConstraint(
            "media_type IN (" + ", ".join(f"'{m}'" for m in RECEIPT_MEDIA_TYPES) + ")",
            name="media_type_valid",
        ),
        CheckConstraint("size_bytes > 0", name="positive_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(200))
    #: Path relative to the receipts folder (``ab/abcdef....jpg``); never served statically.
    storage_name: Mapped[str] = mapped_column(String(120))
    reencoded: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


class CashKind(enum.StrEnum):
    INCOME = "income"
    EXPENSE = "expense"


class CashEntry(ApprovalMixin, db.Model):
    """Money the cooperative itself receives or spends (rent, salaries, fees, other income)."""

    __tablename__ = "cash_entries"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive_amount"),
        CheckConstraint("kind IN ('income', 'expense')", name="kind_valid"),
        CheckConstraint("category_account_id <> money_account_id", name="two_accounts"),
        *approval_constraints(),
        Index("ix_cash_entries_status_date", "status", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CashKind] = mapped_column(StrEnumType(CashKind, 16))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    entry_date: Mapped[dt.date] = mapped_column(Date)
    #: The income or expense account (the category).
    category_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    #: Where the money went out of / came into: cash, a bank account or the gateway clearing.
    money_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    counterparty: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(60))  # nomor bukti / faktur
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipt_files.id"))

    category: Mapped[Account] = relationship(foreign_keys=[category_account_id])
    money_account: Mapped[Account] = relationship(foreign_keys=[money_account_id])
    receipt: Mapped[ReceiptFile | None] = relationship()
    created_by = relationship("User", foreign_keys="CashEntry.created_by_id")
    decided_by = relationship("User", foreign_keys="CashEntry.decided_by_id")


class JournalKind(enum.StrEnum):
    GENERAL = "general"  # jurnal umum
    ADJUSTING = "adjusting"  # jurnal penyesuaian


class ManualJournal(ApprovalMixin, db.Model):
    """A journal the board writes by hand: posted only when a second board member approves."""

    __tablename__ = "manual_journals"
    __table_args__ = (
        CheckConstraint("kind IN ('general', 'adjusting')", name="kind_valid"),
        CheckConstraint("length(description) >= 5", name="reason_given"),
        *approval_constraints(),
        Index("ix_manual_journals_status_date", "status", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[JournalKind] = mapped_column(StrEnumType(JournalKind, 16))
    entry_date: Mapped[dt.date] = mapped_column(Date)
    #: The reason (why this journal is needed): shown on the journal entry.
    description: Mapped[str] = mapped_column(Text)
    total_idr: Mapped[int] = mapped_column(Rupiah)

    lines: Mapped[list[ManualJournalLine]] = relationship(
        back_populates="journal", order_by="ManualJournalLine.line_no", lazy="selectin"
    )
    created_by = relationship("User", foreign_keys="ManualJournal.created_by_id")
    decided_by = relationship("User", foreign_keys="ManualJournal.decided_by_id")


class ManualJournalLine(db.Model):
    __tablename__ = "manual_journal_lines"
    __table_args__ = (
        CheckConstraint("debit_idr >= 0 AND credit_idr >= 0", name="not_negative"),
        CheckConstraint("(debit_idr > 0) <> (credit_idr > 0)", name="debit_or_credit"),
        UniqueConstraint("journal_id", "line_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("manual_journals.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    debit_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    credit_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    memo: Mapped[str | None] = mapped_column(String(200))

    journal: Mapped[ManualJournal] = relationship(back_populates="lines")
    account: Mapped[Account] = relationship()
