"""Accounts, journal entries and postings. Entries and postings are append-only."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc


class AccountType(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_sign(self) -> int:
        """+1 for debit-normal accounts (asset, expense), -1 for credit-normal ones."""
        return 1 if self in (AccountType.ASSET, AccountType.EXPENSE) else -1


class Account(db.Model):
    """A ledger account. ``balance_idr`` is the signed sum of its postings (debit positive),
    maintained in the same transaction as every posting and verified by ``ledger-check``."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "NOT no_negative OR (normal_sign * balance_idr) >= 0", name="no_negative_balance"
        ),
        CheckConstraint("normal_sign IN (1, -1)", name="normal_sign_valid"),
        Index("ix_accounts_owner", "owner_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[AccountType] = mapped_column(StrEnumType(AccountType, 16))
    normal_sign: Mapped[int] = mapped_column(Integer)
    #: The member who owns the account (members.id; no FK so the core stays feature-free).
    owner_id: Mapped[int | None] = mapped_column(Integer)
    no_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    balance_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    @property
    def natural_balance_idr(self) -> int:
        """The balance in the account's normal direction (savings shown as positive)."""
        return self.balance_idr * self.normal_sign


class JournalEntry(db.Model):
    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_date", "entry_date", "id"),
        Index("ix_journal_entries_source", "source_kind", "source_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    entry_date: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    description: Mapped[str] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str | None] = mapped_column(String(120))
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))

    postings: Mapped[list[Posting]] = relationship(
        back_populates="entry", order_by="Posting.id", lazy="selectin"
    )
    posted_by = relationship("User")
    reverses: Mapped[JournalEntry | None] = relationship(
        remote_side="JournalEntry.id", foreign_keys=[reverses_id]
    )


class Posting(db.Model):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount_idr <> 0", name="non_zero"),
        Index("ix_postings_account_date", "account_id", "entry_date", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    #: Copied from the entry so statements and as-of balances read one index range.
    entry_date: Mapped[dt.date] = mapped_column(Date)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship()


class ClosedPeriod(db.Model):
    """A closed period (tutup buku): no entry may be dated in it any more.

    ``month`` 0 is the whole fiscal year; 1..12 one calendar month of it (a monthly lock)."""

    __tablename__ = "closed_periods"
    __table_args__ = (
        UniqueConstraint("fiscal_year", "month"),
        CheckConstraint("month BETWEEN 0 AND 12", name="month_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)


class AppendOnlyError(RuntimeError):
    """Journal entries and postings are never updated or deleted: post a reversal instead."""


def _refuse_change(mapper, connection, target):  # noqa: ARG001
    raise AppendOnlyError(
        f"{type(target).__name__} {target.id} is append-only: post a reversal instead"
    )


for _model in (JournalEntry, Posting):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)

_APPEND_ONLY_TABLES = frozenset({"journal_entries", "postings"})


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state) -> None:
    """``session.execute(update(Posting)...)`` / ``delete(...)`` and ``query(...).delete()``
    skip the mapper events above; refuse them here (raw SQL is left to the PG trigger)."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name is None:  # an ORM entity: look at its mapped table
        name = getattr(getattr(table, "__table__", None), "name", None)
    if name in _APPEND_ONLY_TABLES or any(
        m.class_ in (JournalEntry, Posting) for m in state.all_mappers
    ):
        verb = "UPDATE" if state.is_update else "DELETE"
        raise AppendOnlyError(f"{verb} on {name} is refused: the journal is append-only")


#: PostgreSQL triggers that refuse UPDATE and DELETE on the journal, whoever sends them.
APPEND_ONLY_FUNCTION = DDL(
    """
CREATE OR REPLACE FUNCTION kmp_refuse_journal_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'kmp: %% on %% is refused: the journal is append-only (post a reversal)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
)


def append_only_trigger(table: str) -> DDL:
    return DDL(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION kmp_refuse_journal_change()"
    )


event.listen(
    JournalEntry.__table__, "after_create", APPEND_ONLY_FUNCTION.execute_if(dialect="postgresql")
)
for _table in (JournalEntry.__table__, Posting.__table__):
    event.listen(
        _table, "after_create", append_only_trigger(_table.name).execute_if(dialect="postgresql")
    )


def install_pg_triggers(op) -> None:
    """Called from the migration that creates the journal tables (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(APPEND_ONLY_FUNCTION)
    for table in ("journal_entries", "postings"):
        op.execute(append_only_trigger(table))
