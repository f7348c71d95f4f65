"""Declarative base, constraint naming convention and the shared column types."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    TypeDecorator,
    event,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """An aware UTC instant. Refuses naive datetimes on the way in; always aware on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC instants")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Rupiah(TypeDecorator):
    """Whole Rupiah as BigInteger; refuses floats and other non-integers."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"Rupiah amounts must be int, got {type(value).__name__}")
        return value


#: The largest amount any money column may hold (Rp 10^15, a thousand trillion): far above any
#: cooperative's books, far below int64, so sums of maintained balances never overflow.
RUPIAH_BOUND = 10**15


@event.listens_for(Column, "after_parent_attach")
def _bound_rupiah_column(column: Column, table) -> None:
    """Every ``Rupiah`` column gets a named CHECK ``-10^15 <= value <= 10^15`` in the database
    (``ck_<table>_<column>_bounded``): an amount can never overflow silently (SQLite would turn
    an int64 overflow into a REAL), whichever feature declares the column."""
    if not isinstance(table, Table) or not isinstance(column.type, Rupiah) or not column.name:
        return
    if table.metadata is not Base.metadata:  # a copy (Alembic's to_metadata) brings its own
        return
    table.append_constraint(
        CheckConstraint(
            f"{column.name} BETWEEN -{RUPIAH_BOUND} AND {RUPIAH_BOUND}",
            name=f"{column.name}_bounded",
        )
    )


class StrEnumType(TypeDecorator):
    """Store a ``StrEnum`` as its string value (portable, readable in SQL)."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_class: type[enum.StrEnum], length: int = 32):
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return self.enum_class(value)


def render_item(type_, obj, autogen_context):
    """Alembic hook: write our TypeDecorators into migrations as plain SQLAlchemy types, so
    migrations never import application code for column types."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        autogen_context.imports.add("import sqlalchemy as sa")
        impl = obj.impl if not isinstance(obj.impl, type) else obj.impl()
        if isinstance(impl, DateTime):
            return "sa.DateTime(timezone=True)"
        if isinstance(impl, BigInteger):
            return "sa.BigInteger()"
        if isinstance(impl, String):
            return f"sa.String(length={impl.length})"
        return f"sa.{impl!r}"
    return False


#: Tables the database guards create for themselves (SQLite's open journal entries, see
#: ``kmp.ledger.models``): not models, so autogenerate must neither drop nor create them.
UNMANAGED_TABLES = frozenset({"ledger_open_entries", "ledger_entry_seals"})


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ARG001 - Alembic's hook
    return not (type_ == "table" and name in UNMANAGED_TABLES)


MIGRATION_OPTIONS = {
    "render_as_batch": True,
    "compare_type": True,
    "render_item": render_item,
    "include_object": include_object,
}


# --------------------------------------------------------------------------- rows kept for
# the transaction

_KEEP_KEY = "kmp_keep"


def keep_for_transaction(obj):
    """Hold a strong reference to ``obj`` until the session's transaction ends, so a later
    ``session.get`` of the same row in this transaction (another signal receiver, a hook) is
    served from the identity map instead of reading the row again (the identity map itself
    holds rows only weakly). Returns ``obj``."""
    from kmp.extensions import db

    db.session.info.setdefault(_KEEP_KEY, []).append(obj)
    return obj


def _release_kept(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_KEEP_KEY, None)


def _install_keep_listeners() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_transaction_end", _release_kept)


_install_keep_listeners()
