"""Patronage records: a member's work through the cooperative, per month and measure.

``ingest_patronage`` is the one writer. It is set-based (chunked multi-row
``INSERT ... ON CONFLICT DO NOTHING``) so a re-import of the same rows never double counts:
``(source_ref, external_id)`` is unique.
"""

from __future__ import annotations

import datetime as dt
import enum
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
)
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import StrEnumType, UTCDateTime
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc


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
SOURCES = frozenset(s.value for s in PatronageSource)
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


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


CHUNK = 5000  # rows per executemany; SQLAlchemy pages them into multi-row INSERTs


def valid_period(period: object) -> bool:
    return isinstance(period, str) and PERIOD_RE.match(period) is not None


def _check_row(index: int, row: PatronageRow) -> None:
    def refuse(message: str, fld: str) -> DomainError:
        return DomainError(message, code="invalid_patronage", field=fld)

    if isinstance(row.member_id, bool) or not isinstance(row.member_id, int):
        raise refuse(f"Baris {index}: anggota tidak dikenal.", "member_id")
    if not valid_period(row.period):
        raise refuse(f"Baris {index}: periode harus berbentuk TTTT-BB, misalnya 2025-03.", "period")
    if row.measure not in MEASURES:
        raise refuse(
            f"Baris {index}: ukuran '{row.measure}' tidak dikenal (pilih trips, deliveries, "
            "spend_idr atau contribution_idr).",
            "measure",
        )
    if isinstance(row.value, bool) or not isinstance(row.value, int):
        raise refuse(f"Baris {index}: nilai harus bilangan bulat.", "value")
    if row.value < 0:
        raise refuse(f"Baris {index}: nilai tidak boleh negatif.", "value")
    if not isinstance(row.external_id, str) or not row.external_id.strip():
        raise refuse(f"Baris {index}: external_id wajib diisi.", "external_id")
    if len(row.external_id) > 120:
        raise refuse(f"Baris {index}: external_id terlalu panjang.", "external_id")


def _dialect_insert(table):
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def ingest_patronage(
    rows: Sequence[PatronageRow], *, source: str, source_ref: str = ""
) -> IngestReport:
    """Insert the rows that are new; report the external ids already present.

    Validates every row first (nothing written on a bad row; the error names the row index,
    counted from 0). Members are resolved by the caller. Flushes, never commits.
    """
    if source not in SOURCES:
        raise DomainError("Sumber data jasa usaha tidak dikenal.", code="invalid_patronage")
    source_ref = source_ref or ""
    for index, row in enumerate(rows):
        _check_row(index, row)
    report = IngestReport()
    if not rows:
        return report
    db.session.flush()
    table = PatronageRecord.__table__
    created = now_utc()
    stmt = (
        _dialect_insert(table)
        .on_conflict_do_nothing(index_elements=["source_ref", "external_id"])
        .returning(table.c.external_id)
    )
    connection = db.session.connection()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
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
        inserted = Counter(connection.execute(stmt, values).scalars().all())
        report.inserted += sum(inserted.values())
        for r in chunk:
            if inserted[r.external_id] > 0:
                inserted[r.external_id] -= 1
            else:
                report.duplicates.append(r.external_id)
    return report
