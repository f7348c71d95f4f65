"""Patronage records: a member's work through the cooperative, per month and measure.

``ingest_patronage`` is the one writer. It is set-based (``INSERT ... ON CONFLICT DO
NOTHING``) so a re-import of the same rows never double counts: ``(source_ref, external_id)``
is unique. On PostgreSQL one statement per chunk takes the columns as arrays
(``INSERT ... SELECT ... FROM unnest(...)``): a handful of parameters instead of eight per row,
so the driver neither builds nor parses a huge statement. On SQLite the chunk travels as one
JSON text unpacked by ``json_each`` (no per-row parameter binding in Python).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    bindparam,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import StrEnumType, UTCDateTime
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import business_date, now_utc


class Measure(enum.StrEnum):
    TRIPS = "trips"
    DELIVERIES = "deliveries"
    SPEND_IDR = "spend_idr"
    CONTRIBUTION_IDR = "contribution_idr"


class PatronageSource(enum.StrEnum):
    API = "api"
    CSV = "csv"
    MANUAL = "manual"


MEASURES = frozenset(m.value for m in Measure)
_MEASURE_VALUE = {m.value: m.value for m in Measure}  # plain ``str`` for any equal value
SOURCES = frozenset(s.value for s in PatronageSource)
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")  # fullmatch: see kmp.api.Pattern
#: Plausibility per worker and month, whatever the channel (API, CSV, by hand): a driver does
#: not make 10,000 trips in a month, nor spend Rp 10 billion through one platform.
PLAUSIBLE_PER_MONTH = {
    Measure.TRIPS.value: 10_000,
    Measure.DELIVERIES.value: 10_000,
    Measure.SPEND_IDR.value: 10_000_000_000,
    Measure.CONTRIBUTION_IDR.value: 10_000_000_000,
}


def latest_period() -> str:
    """The current month (``YYYY-MM``, business date): no period after it is accepted."""
    return business_date().strftime("%Y-%m")


class PatronageRecord(db.Model):
    __tablename__ = "patronage_records"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value_non_negative"),
        CheckConstraint(
            "measure IN ('trips', 'deliveries', 'spend_idr', 'contribution_idr')",
            name="measure_valid",
        ),
        CheckConstraint("source IN ('api', 'csv', 'manual')", name="source_valid"),
        UniqueConstraint("source_ref", "external_id"),
        Index("ix_patronage_records_period_member", "period", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    period: Mapped[str] = mapped_column(String(7))
    measure: Mapped[Measure] = mapped_column(StrEnumType(Measure, 20))
    value: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[PatronageSource] = mapped_column(StrEnumType(PatronageSource, 10))
    source_ref: Mapped[str] = mapped_column(String(80), default="")
    external_id: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


@dataclass
class PatronageRow:
    member_id: int
    period: str
    measure: str
    value: int
    external_id: str


@dataclass
class IngestReport:
    inserted: int = 0
    duplicates: list[str] = field(default_factory=list)


CHUNK = 10_000  # rows per INSERT statement


def valid_period(period: object) -> bool:
    return isinstance(period, str) and PERIOD_RE.fullmatch(period) is not None


def _check_row(index: int, row: PatronageRow) -> None:
    def refuse(message: str, fld: str) -> DomainError:
        return DomainError(message, code="invalid_patronage", field=fld)

    if isinstance(row.member_id, bool) or not isinstance(row.member_id, int):
        raise refuse(gettext("Baris %(index)s: anggota tidak dikenal.", index=index), "member_id")
    if not valid_period(row.period):
        raise refuse(
            gettext(
                "Baris %(index)s: periode harus berbentuk TTTT-BB, misalnya 2025-03.", index=index
            ),
            "period",
        )
    if row.period > latest_period():
        raise refuse(
            gettext("Baris %(index)s: periode %(p)s belum terjadi.", index=index, p=row.period),
            "period",
        )
    if row.measure not in MEASURES:
        raise refuse(
            gettext(
                "Baris %(index)s: ukuran '%(measure)s' tidak dikenal (pilih trips, "
                "deliveries, spend_idr atau contribution_idr).",
                index=index,
                measure=row.measure,
            ),
            "measure",
        )
    if isinstance(row.value, bool) or not isinstance(row.value, int):
        raise refuse(gettext("Baris %(index)s: nilai harus bilangan bulat.", index=index), "value")
    if row.value < 0:
        raise refuse(gettext("Baris %(index)s: nilai tidak boleh negatif.", index=index), "value")
    if row.value > PLAUSIBLE_PER_MONTH[row.measure]:
        raise refuse(
            gettext(
                "Baris %(index)s: nilai %(v)s tidak wajar untuk satu pengemudi sebulan "
                "(paling banyak %(n)s).",
                index=index,
                v=row.value,
                n=PLAUSIBLE_PER_MONTH[row.measure],
            ),
            "value",
        )
    if not isinstance(row.external_id, str) or not row.external_id.strip():
        raise refuse(
            gettext("Baris %(index)s: external_id wajib diisi.", index=index), "external_id"
        )
    if len(row.external_id) > 120:
        raise refuse(
            gettext("Baris %(index)s: external_id terlalu panjang.", index=index), "external_id"
        )


def _check_rows(rows: Sequence[PatronageRow]) -> None:
    """``_check_row`` for every row, cheaply: a row that plainly passes (exact types) is not
    looked at again; any other row goes through ``_check_row``, which decides and words the
    refusal."""
    match = PERIOD_RE.fullmatch
    latest, plausible = latest_period(), PLAUSIBLE_PER_MONTH
    for index, row in enumerate(rows):
        member_id, period, value, external_id = (
            row.member_id,
            row.period,
            row.value,
            row.external_id,
        )
        if (
            type(member_id) is int
            and type(period) is str
            and match(period) is not None
            and period <= latest
            and row.measure in MEASURES
            and type(value) is int
            and 0 <= value <= plausible[row.measure]
            and type(external_id) is str
            and len(external_id) <= 120
            and not external_id.isspace()
            and external_id
        ):
            continue
        _check_row(index, row)


# PostgreSQL: the chunk's columns travel as five array literals, unnested into rows
# server-side. The literals are built here (one join per column) rather than by the driver,
# whose list adaptation costs microseconds per element.
_PG_INSERT = text(
    "INSERT INTO patronage_records "
    "(member_id, period, measure, value, source, source_ref, external_id, created_at) "
    "SELECT t.member_id, t.period, t.measure, t.value, :source, :source_ref, t.external_id, "
    ":created_at "
    "FROM unnest(CAST(:member_ids AS INTEGER[]), CAST(:periods AS VARCHAR[]), "
    "CAST(:measures AS VARCHAR[]), CAST(:vals AS BIGINT[]), CAST(:external_ids AS VARCHAR[])) "
    "AS t(member_id, period, measure, value, external_id) "
    "ON CONFLICT (source_ref, external_id) DO NOTHING "
    "RETURNING external_id"
).bindparams(
    bindparam("source", type_=String),
    bindparam("source_ref", type_=String),
    bindparam("created_at", type_=UTCDateTime),
)


def pg_int_array(values) -> str:
    """A PostgreSQL array literal of integers, ``{1,2,3}`` (bind it untyped and CAST it)."""
    return "{" + ",".join(map(int.__repr__, values)) + "}"


def pg_text_array(values) -> str:
    """A PostgreSQL array literal of strings, every element double-quoted (so ``NULL``, spaces,
    commas and braces are plain text); inside the quotes only ``\\`` and ``"`` need a
    backslash. Bind it untyped and CAST it to ``VARCHAR[]``."""
    if not values:
        return "{}"
    plain = "".join(values)
    if "\\" in plain or '"' in plain:
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


# SQLite: the chunk travels as one JSON array of [member_id, period, measure, value,
# external_id] rows, unpacked by json_each (the WHERE keeps ON CONFLICT unambiguous).
_SQLITE_INSERT = text(
    "INSERT INTO patronage_records "
    "(member_id, period, measure, value, source, source_ref, external_id, created_at) "
    "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), "
    "json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'), :source, :source_ref, "
    "json_extract(j.value, '$[4]'), :created_at "
    "FROM json_each(:data) AS j WHERE true "
    "ON CONFLICT (source_ref, external_id) DO NOTHING "
    "RETURNING external_id"
).bindparams(
    bindparam("data", type_=String),
    bindparam("source", type_=String),
    bindparam("source_ref", type_=String),
    bindparam("created_at", type_=UTCDateTime),
)
_SQLITE_MAX_INT = 2**63 - 1


def _insert_chunk_pg(connection, chunk, *, source: str, source_ref: str, created) -> list[str]:
    params = {
        "member_ids": pg_int_array([r.member_id for r in chunk]),
        "periods": pg_text_array([r.period for r in chunk]),
        "measures": pg_text_array([_MEASURE_VALUE[r.measure] for r in chunk]),
        "vals": pg_int_array([r.value for r in chunk]),
        "external_ids": pg_text_array([r.external_id for r in chunk]),
        "source": source,
        "source_ref": source_ref,
        "created_at": created,
    }
    return connection.execute(_PG_INSERT, params).scalars().all()


def _insert_chunk_sqlite(connection, chunk, *, source: str, source_ref: str, created) -> list[str]:
    data = json.dumps(
        [(r.member_id, r.period, _MEASURE_VALUE[r.measure], r.value, r.external_id) for r in chunk],
        ensure_ascii=False,
    )
    if "\\u0000" in data or max(max(r.value, r.member_id) for r in chunk) > _SQLITE_MAX_INT:
        # NUL characters and integers past 64 bits do not survive SQLite's JSON functions
        # the way they survive a bound parameter: take the plain path.
        return _insert_chunk_rows(
            connection, chunk, source=source, source_ref=source_ref, created=created
        )
    params = {"data": data, "source": source, "source_ref": source_ref, "created_at": created}
    return connection.execute(_SQLITE_INSERT, params).scalars().all()


def _insert_chunk_rows(connection, chunk, *, source: str, source_ref: str, created) -> list[str]:
    table = PatronageRecord.__table__
    stmt = (
        sqlite_insert(table)
        .on_conflict_do_nothing(index_elements=["source_ref", "external_id"])
        .returning(table.c.external_id)
    )
    values = [
        {
            "member_id": r.member_id,
            "period": r.period,
            "measure": r.measure,
            "value": r.value,
            "source": source,
            "source_ref": source_ref,
            "external_id": r.external_id,
            "created_at": created,
        }
        for r in chunk
    ]
    # executemany + RETURNING: SQLAlchemy batches it into multi-row INSERTs
    return connection.execute(stmt, values).scalars().all()


def ingest_patronage(
    rows: Sequence[PatronageRow], *, source: str, source_ref: str = ""
) -> IngestReport:
    """Insert the rows that are new; report the external ids already present.

    Validates every row first (nothing written on a bad row; the error names the row index,
    counted from 0). Members are resolved by the caller. Flushes, never commits.
    """
    if source not in SOURCES:
        raise DomainError(
            gettext("Sumber data jasa usaha tidak dikenal."), code="invalid_patronage"
        )
    source_ref = source_ref or ""
    _check_rows(rows)
    report = IngestReport()
    if not rows:
        return report
    db.session.flush()
    created = now_utc()
    connection = db.session.connection()
    insert_chunk = (
        _insert_chunk_pg if connection.dialect.name == "postgresql" else _insert_chunk_sqlite
    )
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        inserted = Counter(
            insert_chunk(
                connection,
                chunk,
                source=PatronageSource(source).value,
                source_ref=source_ref,
                created=created,
            )
        )
        report.inserted += sum(inserted.values())
        for r in chunk:
            if inserted[r.external_id] > 0:
                inserted[r.external_id] -= 1
            else:
                report.duplicates.append(r.external_id)
    return report
