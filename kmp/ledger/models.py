"""Accounts, journal entries and postings. Entries and postings are append-only."""

from __future__ import annotations

import datetime as dt
import enum
from contextlib import contextmanager

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

from kmp.audit import audit_money_table
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
        CheckConstraint("posting_count >= 2", name="two_postings"),
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
    #: How many postings the writer adds (set by ``post_entries``): the database closes the
    #: entry when the last one arrives and refuses it unless they sum to zero (see below).
    posting_count: Mapped[int] = mapped_column(Integer)

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
    skip the mapper events above; refuse them here (raw SQL meets the database triggers)."""
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


# =========================================================================== database guards
#
# The zero-sum and append-only rules are held by the database itself, so raw SQL cannot break
# them either (``ledger-check`` stays as the second line):
#
# PostgreSQL
#   * ``journal_entries_append_only`` / ``postings_append_only``: BEFORE UPDATE OR DELETE, refused.
#   * ``journal_entries_balanced`` / ``postings_balanced``: DEFERRABLE INITIALLY DEFERRED
#     constraint triggers; at COMMIT every entry the transaction wrote, and the entry of every
#     posting it wrote, must have exactly ``posting_count`` (>= 2) postings summing to zero. Each
#     row only notes the lowest entry id the transaction touched (``kmp_note_journal_write`` in
#     the trigger's WHEN, a transaction-local setting); the first row queues the one deferred
#     event, which checks every entry from that id on in one set-based query (a superset: other
#     transactions' committed entries in the range were checked by their own commit).
# SQLite (no deferred triggers): an entry is *open* from its INSERT (a row in
#   ``ledger_open_entries``) until its ``posting_count``-th posting arrives, which closes it and
#   is refused unless the running total is zero; a posting to a closed entry is refused. An
#   open row carries a DEFERRABLE INITIALLY DEFERRED foreign key to the always-empty
#   ``ledger_entry_seals``, so a transaction that leaves an entry incomplete fails at COMMIT.
#   UPDATE and DELETE are refused by BEFORE triggers.
#
# ``db.create_all()`` installs them (``after_create`` of ``postings``); the initial migration
# calls ``install_pg_triggers(op)`` (both dialects, despite the historical name).

_REFUSED = "the journal is append-only (post a reversal)"

#: PostgreSQL triggers that refuse UPDATE and DELETE on the journal, whoever sends them.
APPEND_ONLY_FUNCTION = DDL(
    f"""
CREATE OR REPLACE FUNCTION kmp_refuse_journal_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'kmp: %% on %% is refused: {_REFUSED}',
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


def _pg_balance_trigger(name: str, table: str, entry: str) -> str:
    """A row whose entry is already covered by this transaction's check costs two settings
    reads in the WHEN (no function call); only a first or lower entry id calls the function."""
    return (
        f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (CASE "
        "WHEN current_setting('kmp.journal_tx', true) IS DISTINCT FROM txid_current()::text "
        f"THEN kmp_note_journal_write({entry}) "
        f"WHEN {entry} < current_setting('kmp.journal_low')::bigint "
        f"THEN kmp_note_journal_write({entry}) "
        "ELSE false END) EXECUTE FUNCTION kmp_check_journal()"
    )


_PG_BALANCE = (
    """
CREATE OR REPLACE FUNCTION kmp_note_journal_write(entry BIGINT) RETURNS boolean AS $$
BEGIN
    IF current_setting('kmp.journal_tx', true) IS DISTINCT FROM txid_current()::text THEN
        PERFORM set_config('kmp.journal_tx', txid_current()::text, true);
        PERFORM set_config('kmp.journal_low', entry::text, true);
        RETURN true;  -- the first journal row of the transaction queues the one check
    END IF;
    IF entry < current_setting('kmp.journal_low')::bigint THEN
        PERFORM set_config('kmp.journal_low', entry::text, true);
    END IF;
    RETURN false;
END;
$$ LANGUAGE plpgsql VOLATILE
""",
    """
CREATE OR REPLACE FUNCTION kmp_check_journal() RETURNS trigger AS $$
DECLARE
    low BIGINT := current_setting('kmp.journal_low')::bigint;
    bad RECORD;
BEGIN
    SELECT e.id, e.posting_count, coalesce(p.n, 0) AS n, coalesce(p.total, 0) AS total
        INTO bad
        FROM journal_entries e
        LEFT JOIN (
            SELECT entry_id, count(*) AS n, sum(amount_idr) AS total
            FROM postings WHERE entry_id >= low GROUP BY entry_id
        ) p ON p.entry_id = e.id
        WHERE e.id >= low
          AND (p.n IS NULL OR p.n < 2 OR p.n <> e.posting_count OR p.total <> 0)
        ORDER BY e.id
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'kmp: journal entry %% is refused: %% posting(s) of %% declared, sum %%; '
            'an entry needs its two or more postings, summing to zero',
            bad.id, bad.n, bad.posting_count, bad.total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SET enable_nestloop = off SET enable_hashjoin = off
""",
    _pg_balance_trigger("journal_entries_balanced", "journal_entries", "NEW.id"),
    _pg_balance_trigger("postings_balanced", "postings", "NEW.entry_id"),
)

_SQLITE_TABLES = (
    "CREATE TABLE IF NOT EXISTS ledger_entry_seals (id INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS ledger_open_entries ("
    "entry_id INTEGER PRIMARY KEY, remaining INTEGER NOT NULL, total INTEGER NOT NULL, "
    "seal INTEGER REFERENCES ledger_entry_seals (id) DEFERRABLE INITIALLY DEFERRED)",
)


def _sqlite_refusal(table: str, verb: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'kmp: {verb} on {table} is refused: {_REFUSED}'); END"
    )


_SQLITE_TRIGGERS = (
    *(_sqlite_refusal(t, v) for t in ("journal_entries", "postings") for v in ("UPDATE", "DELETE")),
    "CREATE TRIGGER ledger_entry_seals_empty BEFORE INSERT ON ledger_entry_seals "
    "BEGIN SELECT RAISE(ABORT, 'kmp: ledger_entry_seals stays empty'); END",
    "CREATE TRIGGER journal_entries_open AFTER INSERT ON journal_entries BEGIN "
    "INSERT INTO ledger_open_entries (entry_id, remaining, total, seal) "
    "VALUES (NEW.id, NEW.posting_count, 0, 0); END",
    "CREATE TRIGGER postings_balanced AFTER INSERT ON postings BEGIN "
    "UPDATE ledger_open_entries SET remaining = remaining - 1, total = total + NEW.amount_idr "
    "WHERE entry_id = NEW.entry_id; "
    "SELECT RAISE(ABORT, 'kmp: a posting to a closed journal entry is refused (post a new entry)') "
    "WHERE changes() = 0; END",
    "CREATE TRIGGER ledger_open_entries_close AFTER UPDATE ON ledger_open_entries "
    "WHEN NEW.remaining = 0 BEGIN "
    "SELECT RAISE(ABORT, 'kmp: journal entry refused: its postings do not sum to zero') "
    "WHERE NEW.total <> 0; "
    "DELETE FROM ledger_open_entries WHERE entry_id = NEW.entry_id; END",
)
_SQLITE_TRIGGER_NAMES = tuple(s.split()[2] for s in _SQLITE_TRIGGERS)


def journal_guard_ddl(dialect: str) -> list[DDL]:
    """The statements that install the journal's database guards on ``dialect``."""
    if dialect == "postgresql":
        return [
            APPEND_ONLY_FUNCTION,
            *(append_only_trigger(t) for t in ("journal_entries", "postings")),
            *(DDL(s) for s in _PG_BALANCE),
        ]
    if dialect == "sqlite":
        return [DDL(s) for s in (*_SQLITE_TABLES, *_SQLITE_TRIGGERS)]
    return []


@event.listens_for(Posting.__table__, "after_create")
def _install_guards(target, connection, **kw) -> None:  # noqa: ARG001
    for statement in journal_guard_ddl(connection.dialect.name):
        connection.execute(statement)


@event.listens_for(JournalEntry.__table__, "after_drop")
def _drop_sqlite_guard_tables(target, connection, **kw) -> None:  # noqa: ARG001
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TABLE IF EXISTS ledger_open_entries")
        connection.exec_driver_sql("DROP TABLE IF EXISTS ledger_entry_seals")


def install_pg_triggers(op) -> None:
    """Called from the migration that creates the journal tables (PostgreSQL and SQLite)."""
    for statement in journal_guard_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def uninstall_journal_guards(op) -> None:
    """The initial migration's downgrade: what ``install_pg_triggers`` added outside tables."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for function in (
            "kmp_refuse_journal_change()",
            "kmp_check_journal()",
            "kmp_note_journal_write(BIGINT)",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    elif dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS ledger_open_entries")
        op.execute("DROP TABLE IF EXISTS ledger_entry_seals")


@contextmanager
def journal_guards_suspended(connection):
    """Empty or bulk-load the journal with its guards off, inside the caller's transaction:
    the test harness's clean-up and the benchmark data generator only, never the app.

    SQLite: the triggers are dropped and re-created around the block (when the journal holds
    rows; a DELETE of nothing fires no trigger). PostgreSQL: ``SET LOCAL
    session_replication_role = replica`` (superuser) for the rest of the transaction.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield
        return
    if dialect != "sqlite":
        yield
        return
    for name in _SQLITE_TRIGGER_NAMES:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    try:
        yield
    finally:
        connection.exec_driver_sql("DELETE FROM ledger_open_entries")
        for statement in _SQLITE_TRIGGERS:
            connection.exec_driver_sql(statement)


def journal_is_empty(connection) -> bool:
    return connection.exec_driver_sql("SELECT 1 FROM journal_entries LIMIT 1").first() is None


# PostgreSQL records every write to the journal in the audit trail (kmp.audit).
audit_money_table(JournalEntry.__table__, ("INSERT",))
audit_money_table(Posting.__table__, ("INSERT",))
