"""Patronage ingest: validation, idempotent re-import, set-based speed."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from kmp.errors import DomainError
from kmp.extensions import db
from members.register.models import Member, MemberKind
from members.register.states import MemberStatus
from payouts.patronage import PatronageRecord, PatronageRow, ingest_patronage


def _members(n: int) -> list[int]:
    rows = [
        {
            "member_no": f"P-{i:06d}",
            "group_code": "pengemudi",
            "kind": MemberKind.INDIVIDUAL,
            "status": MemberStatus.ACTIVE,
            "full_name": f"Anggota {i}",
            "nik": f"3174011505{i:06d}",
        }
        for i in range(n)
    ]
    db.session.execute(db.insert(Member), rows)
    db.session.flush()
    return list(db.session.scalars(select(Member.id).order_by(Member.id)))


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(PatronageRecord))


def test_reimport_never_double_counts():
    ids = _members(2)
    rows = [
        PatronageRow(ids[0], "2025-01", "trips", 10, "a"),
        PatronageRow(ids[1], "2025-01", "trips", 5, "b"),
    ]
    first = ingest_patronage(rows, source="csv", source_ref="csv:1")
    assert first.inserted == 2 and first.duplicates == []
    again = ingest_patronage(
        [*rows, PatronageRow(ids[0], "2025-02", "trips", 3, "c")], source="csv", source_ref="csv:1"
    )
    assert again.inserted == 1
    assert again.duplicates == ["a", "b"]
    assert _count() == 3
    # another source may reuse the same external id
    other = ingest_patronage(rows[:1], source="api", source_ref="partner:7")
    assert other.inserted == 1
    # duplicates within one batch count once
    dup = ingest_patronage([PatronageRow(ids[0], "2025-03", "trips", 1, "z")] * 2, source="manual")
    assert dup.inserted == 1 and dup.duplicates == ["z"]
    db.session.commit()
    rec = db.session.scalars(
        select(PatronageRecord).where(PatronageRecord.external_id == "z")
    ).one()
    assert rec.source_ref == "" and rec.value == 1


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        (PatronageRow(1, "2025-13", "trips", 1, "x"), "periode"),
        (PatronageRow(1, "2025-1", "trips", 1, "x"), "periode"),
        (PatronageRow(1, "2025-01", "kilometres", 1, "x"), "ukuran"),
        (PatronageRow(1, "2025-01", "trips", -1, "x"), "negatif"),
        (PatronageRow(1, "2025-01", "trips", 1.5, "x"), "bulat"),
        (PatronageRow(1, "2025-01", "trips", 1, ""), "external_id"),
    ],
)
def test_bad_row_refused_naming_index_and_nothing_written(row, fragment):
    ids = _members(1)
    good = PatronageRow(ids[0], "2025-01", "trips", 1, "ok")
    row.member_id = ids[0]
    with pytest.raises(DomainError) as err:
        ingest_patronage([good, row], source="csv")
    assert "Baris 1" in err.value.message
    assert fragment in err.value.message
    assert _count() == 0


def test_unknown_source_refused():
    with pytest.raises(DomainError):
        ingest_patronage([], source="fax")


def test_ten_thousand_rows_set_based_and_fast():
    from sqlalchemy import event

    ids = _members(100)
    rows = [
        PatronageRow(ids[i % 100], f"2025-{(i // 100) % 12 + 1:02d}", "trips", i, f"e{i}")
        for i in range(10_000)
    ]
    statements = []

    def count(conn, cursor, statement, *args):  # noqa: ARG001
        if "patronage_records" in statement:
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        start = time.perf_counter()
        report = ingest_patronage(rows, source="api", source_ref="partner:1")
        elapsed = time.perf_counter() - start
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.inserted == 10_000
    assert _count() == 10_000
    # multi-row INSERTs, not one statement per row (~0.3 s alone; generous for a busy box)
    assert len(statements) <= 40, len(statements)
    assert elapsed < 5.0, elapsed
    again = ingest_patronage(rows, source="api", source_ref="partner:1")
    assert again.inserted == 0 and len(again.duplicates) == 10_000
