"""Bank and gateway statements and their matches to ledger postings.

* ``BankLine``: one line of a bank statement, stored once per account (``fingerprint``
  UNIQUE per account: importing the same statement again adds nothing).
* ``BankMatch``: a group of bank lines matched to a group of postings on the same account
  whose amounts sum to the same total (one to one, one to many, many to one); a line or a
  posting belongs to at most one match (UNIQUE).
* ``GatewaySettlementRow``: one settled order of a Midtrans settlement report, stored once
  per ``order_id``; booked rows carry the batch entry that cleared them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
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

from kmp.db import Rupiah, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc

AMOUNT_MODES = ("debit_credit", "indicator", "signed")
DECIMAL_STYLES = ("auto", "id", "en")


class StatementMapping(db.Model):
    """A column mapping the user saved for a bank export KMP does not know."""

    __tablename__ = "statement_mappings"
    __table_args__ = (
        CheckConstraint(
            "amount_mode IN (" + ", ".join(f"'{m}'" for m in AMOUNT_MODES) + ")",
            name="amount_mode_valid",
        ),
        CheckConstraint("header_row >= 0", name="header_row_valid"),
        CheckConstraint(
            "(amount_mode = 'debit_credit' AND debit_column IS NOT NULL "
            "AND credit_column IS NOT NULL) OR (amount_mode <> 'debit_credit' "
            "AND amount_column IS NOT NULL)",
            name="amount_columns_given",
        ),
        CheckConstraint(
            "amount_mode <> 'indicator' OR indicator_column IS NOT NULL",
            name="indicator_column_given",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    #: 0: no header row (columns by number); n: the header is row n.
    header_row: Mapped[int] = mapped_column(Integer, default=1)
    delimiter: Mapped[str | None] = mapped_column(String(2))
    date_column: Mapped[str] = mapped_column(String(80))
    description_column: Mapped[str] = mapped_column(String(80))
    reference_column: Mapped[str | None] = mapped_column(String(80))
    amount_mode: Mapped[str] = mapped_column(String(16))
    debit_column: Mapped[str | None] = mapped_column(String(80))
    credit_column: Mapped[str | None] = mapped_column(String(80))
    amount_column: Mapped[str | None] = mapped_column(String(80))
    indicator_column: Mapped[str | None] = mapped_column(String(80))
    credit_marks: Mapped[str] = mapped_column(String(80), default="CR,C,K")
    balance_column: Mapped[str | None] = mapped_column(String(80))
    date_format: Mapped[str] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class BankImport(db.Model):
    """One upload of a bank statement file."""

    __tablename__ = "bank_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    layout: Mapped[str] = mapped_column(String(100))
    mapping_id: Mapped[int | None] = mapped_column(ForeignKey("statement_mappings.id"))
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    new_count: Mapped[int] = mapped_column(Integer)
    duplicate_count: Mapped[int] = mapped_column(Integer)
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class BankLine(db.Model):
    __tablename__ = "bank_lines"
    __table_args__ = (
        UniqueConstraint("account_id", "fingerprint"),
        CheckConstraint("amount_idr <> 0", name="non_zero"),
        Index("ix_bank_lines_account_date", "account_id", "line_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("bank_imports.id"))
    line_date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(100))
    #: Money into the account positive, out negative (the sign of a posting on the account).
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    balance_idr: Mapped[int | None] = mapped_column(Rupiah)
    fingerprint: Mapped[str] = mapped_column(String(64))


class BankMatch(db.Model):
    __tablename__ = "bank_matches"
    __table_args__ = (
        CheckConstraint("method IN ('auto', 'manual')", name="method_valid"),
        Index("ix_bank_matches_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    method: Mapped[str] = mapped_column(String(10))
    total_idr: Mapped[int] = mapped_column(Rupiah)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    lines: Mapped[list[BankMatchLine]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    postings: Mapped[list[BankMatchPosting]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class BankMatchLine(db.Model):
    __tablename__ = "bank_match_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("bank_matches.id"), index=True)
    bank_line_id: Mapped[int] = mapped_column(ForeignKey("bank_lines.id"), unique=True)


class BankMatchPosting(db.Model):
    __tablename__ = "bank_match_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("bank_matches.id"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)


SETTLEMENT_STATUSES = ("booked", "unknown_order", "amount_mismatch", "reversed")


class GatewaySettlementImport(db.Model):
    __tablename__ = "gateway_settlement_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(Integer)
    booked_count: Mapped[int] = mapped_column(Integer)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class GatewaySettlementRow(db.Model):
    __tablename__ = "gateway_settlement_rows"
    __table_args__ = (
        CheckConstraint("gross_idr > 0 AND fee_idr >= 0 AND net_idr >= 0", name="amounts_valid"),
        CheckConstraint("gross_idr = fee_idr + net_idr", name="gross_is_fee_plus_net"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in SETTLEMENT_STATUSES) + ")",
            name="status_valid",
        ),
        CheckConstraint("(status = 'booked') = (entry_id IS NOT NULL)", name="booked_has_entry"),
        Index("ix_gateway_settlement_rows_batch", "batch_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    transaction_id: Mapped[str | None] = mapped_column(String(100))
    batch_key: Mapped[str] = mapped_column(String(100))
    settlement_date: Mapped[dt.date] = mapped_column(Date)
    gross_idr: Mapped[int] = mapped_column(Rupiah)
    fee_idr: Mapped[int] = mapped_column(Rupiah)
    net_idr: Mapped[int] = mapped_column(Rupiah)
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("gateway_settlement_imports.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
