"""Issue 10, must show 5: backup and restore round trip (SQLite backup API here, pg_dump /
pg_restore on PostgreSQL): identical counts and ledger totals, ledger-check and audit-verify
pass after the restore, and a damaged backup is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from kmp.audit import AuditRecord, record_event, verify_chain
from kmp.extensions import db


def _snapshot() -> dict:
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    balances = dict(
        db.session.execute(
            text("SELECT account_id, SUM(amount_idr) FROM postings GROUP BY account_id")
        ).all()
    )
    last_hash = db.session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()))
    db.session.rollback()
    return {"counts": counts, "balances": balances, "last_hash": last_hash}


@pytest.fixture
def seeded(app):
    from kmp.demo import seed_demo

    seed_demo()
    for i in range(3):
        record_event(f"uji.cadangan.{i}", f"target:{i}", before=None, after=i)
    db.session.commit()
    snapshot = _snapshot()
    assert snapshot["counts"]["journal_entries"] > 0, "the demo should have ledger entries"
    assert snapshot["counts"]["audit_records"] >= 3
    return snapshot


def test_backup_restore_round_trip(app, seeded, tmp_path, make_user):
    runner = app.test_cli_runner()
    path = tmp_path / "kmp.backup"
    result = runner.invoke(args=["kmp", "backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0

    # life goes on after the backup: a new user, a new audit record
    make_user("anggota")
    record_event("setelah.cadangan")
    db.session.commit()
    assert _snapshot() != seeded

    db.session.remove()
    result = runner.invoke(args=["kmp", "restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Audit chain OK" in result.output
    db.session.remove()
    assert _snapshot() == seeded
    for command in (["kmp", "ledger-check"], ["kmp", "audit-verify"]):
        outcome = runner.invoke(args=command)
        assert outcome.exit_code == 0, outcome.output
    assert verify_chain().ok


def test_restore_refuses_a_damaged_file(app, seeded, tmp_path):
    runner = app.test_cli_runner()
    bad = tmp_path / "rusak.backup"
    bad.write_bytes(b"bukan cadangan" * 100)
    db.session.remove()
    result = runner.invoke(args=["kmp", "restore", str(bad), "--yes"])
    assert result.exit_code != 0
    db.session.remove()
    assert _snapshot() == seeded  # nothing changed
    result = runner.invoke(args=["kmp", "restore", str(tmp_path / "tidak-ada"), "--yes"])
    assert result.exit_code != 0 and "No backup file" in result.output


def test_restore_asks_for_confirmation(app, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "kmp.backup"
    assert runner.invoke(args=["kmp", "backup", str(path)]).exit_code == 0
    result = runner.invoke(args=["kmp", "restore", str(path)], input="n\n")
    assert result.exit_code != 0
    assert "REPLACES" in result.output
