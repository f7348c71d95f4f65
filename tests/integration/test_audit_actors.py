"""Every write audited (issue 24): CLI commands with ``cli:<command> (<os user>)``, scheduled
jobs with ``job:<id>``, bulk statements with a summary record; on PostgreSQL the money tables'
trail is kept by triggers, so raw SQL leaves a record that ``audit-verify`` checks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from kmp.audit import AuditRecord, acting_as, verify_chain
from kmp.extensions import db
from kmp.ledger.chart import CASH, open_member_accounts
from kmp.ledger.services import EntrySpec, post_entries
from kmp.scheduler import run_job
from tests.integration.savings_support import active_member

OBLIGATIONS = "obligations"  # members.savings: the wajib bills are its rows


def _records(prefix: str = "") -> list[AuditRecord]:
    db.session.expire_all()
    query = select(AuditRecord).order_by(AuditRecord.id)
    if prefix:
        query = query.where(AuditRecord.actor.startswith(prefix))
    return list(db.session.scalars(query))


def _tamper(record_id: int) -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
    db.session.execute(
        text("UPDATE audit_records SET changes = '{}' WHERE id = :i"), {"i": record_id}
    )
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
    db.session.commit()


def test_seed_demo_is_recorded_with_the_operator_as_actor(app):
    result = app.test_cli_runner().invoke(args=["kmp", "seed-demo"])
    assert result.exit_code == 0, result.output
    records = _records("cli:kmp seed-demo (")
    assert records, "seed-demo left no audit record"
    assert {r.roles for r in records} == {"cli"}
    tables = {r.table_name for r in records}
    assert {"users", "members"} <= tables
    assert any(r.action == "bulk_insert:journal_entries" for r in records)  # ledger postings
    assert verify_chain().ok


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


def test_bill_wajib_leaves_a_summary_with_its_actor(app, board):
    for n in range(1, 4):
        active_member(n, *board)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["members", "bill-wajib"])
    assert result.exit_code == 0, result.output
    (summary,) = [r for r in _records("cli:members bill-wajib (") if r.table_name == OBLIGATIONS]
    assert summary.action == f"bulk_insert:{OBLIGATIONS}"
    assert summary.changes_dict["rows"] == 3
    again = app.test_cli_runner().invoke(args=["members", "bill-wajib"])
    assert again.exit_code == 0
    assert len([r for r in _records("cli:members") if r.table_name == OBLIGATIONS]) == 1
    assert verify_chain().ok


def test_the_member_import_is_recorded_with_its_actor(app, tmp_path):
    from tests.integration.test_members_import import _file, _good_rows

    path = tmp_path / "anggota.csv"
    path.write_bytes(_file(_good_rows()))
    result = app.test_cli_runner().invoke(args=["members", "import", str(path)])
    assert result.exit_code == 0, result.output
    records = _records("cli:members import (")
    assert records, "the import left no audit record"
    summaries = {r.action: r.changes_dict for r in records if r.action.startswith("bulk_")}
    assert summaries["bulk_insert:members"] == {"rows": 10}
    assert summaries["bulk_insert:journal_entries"]["rows"] == 10  # the opening balances
    assert verify_chain().ok


def test_a_scheduled_job_run_is_recorded_with_the_job_as_actor(app, board):
    for n in range(1, 3):
        active_member(n, *board)
    db.session.commit()
    from kmp.registry import get_registry

    (job,) = [j for j in get_registry(app).jobs if j.id == "members.bill_wajib"]
    assert run_job(app, job) is True
    records = _records("job:members.bill_wajib")
    assert {r.action for r in records} >= {f"bulk_insert:{OBLIGATIONS}"}
    assert all(r.roles == "job" for r in records)
    assert verify_chain().ok


def test_bulk_ledger_posting_leaves_one_summary():
    open_member_accounts(1, "A-0001")
    db.session.commit()
    specs = [
        EntrySpec(
            idempotency_key=f"cli:deposit:{i}",
            description="Setoran",
            lines=[(CASH, 1_000 + i), ("liability:savings:voluntary:A-0001", -1_000 - i)],
            source_kind="deposit",
        )
        for i in range(5)
    ]
    with acting_as("cli:kmp import (uji)", roles="cli"):
        post_entries(specs)
        db.session.commit()
    (summary,) = _records("cli:kmp import")
    assert summary.action == "bulk_insert:journal_entries"
    assert summary.changes_dict == {
        "rows": 5,
        "postings": 10,
        "source_kinds": {"deposit": 5},
        "first_key": "cli:deposit:0",
        "last_key": "cli:deposit:4",
    }


def test_audit_verify_detects_a_tampered_cli_record(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["kmp", "seed-demo"]).exit_code == 0
    victim = _records("cli:")[3]
    assert runner.invoke(args=["kmp", "audit-verify"]).exit_code == 0
    _tamper(victim.id)
    result = runner.invoke(args=["kmp", "audit-verify"])
    assert result.exit_code == 1
    assert f"#{victim.id}" in result.output


# --------------------------------------------------------------------------- PostgreSQL


def _pg_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: the money tables' triggers")


def _raw_deposit(key: str) -> None:
    cash = db.session.scalar(text("SELECT id FROM accounts WHERE code = :c"), {"c": CASH})
    income = db.session.scalar(text("SELECT id FROM accounts WHERE code = 'income:platform-fees'"))
    entry = db.session.scalar(
        text(
            "INSERT INTO journal_entries (idempotency_key, entry_date, recorded_at, "
            "description, source_kind, fingerprint, posting_count) "
            "VALUES (:k, :d, now(), 'raw', 'raw', 'x', 2) RETURNING id"
        ),
        {"k": key, "d": dt.date(2026, 3, 15)},
    )
    for account, amount in ((cash, 700), (income, -700)):
        db.session.execute(
            text(
                "INSERT INTO postings (entry_id, account_id, amount_idr, entry_date) "
                "VALUES (:e, :a, :v, :d)"
            ),
            {"e": entry, "a": account, "v": amount, "d": dt.date(2026, 3, 15)},
        )


@pytest.mark.postgres
def test_raw_sql_on_the_journal_leaves_a_record_audit_verify_checks(app):
    _pg_only()
    before = len(_records())
    _raw_deposit("raw:1")
    db.session.commit()
    (record,) = _records()[before:]
    assert record.action == "db.money_write" and record.actor.startswith("db:")
    assert record.roles == "db"
    assert record.changes_dict["ops"] == ["insert:journal_entries", "insert:postings"]
    runner = app.test_cli_runner()
    assert runner.invoke(args=["kmp", "audit-verify"]).exit_code == 0
    _tamper(record.id)
    result = runner.invoke(args=["kmp", "audit-verify"])
    assert result.exit_code == 1 and f"#{record.id}" in result.output


@pytest.mark.postgres
def test_one_record_per_transaction_and_a_rollback_leaves_none(app):  # noqa: ARG001
    _pg_only()
    before = len(_records())
    _raw_deposit("raw:1")
    _raw_deposit("raw:2")
    db.session.commit()
    assert len(_records()) == before + 1
    _raw_deposit("raw:3")
    db.session.rollback()
    assert len(_records()) == before + 1
    assert verify_chain().ok


@pytest.mark.postgres
def test_raw_sql_on_a_payment_table_is_recorded(app, make_user):  # noqa: ARG001
    _pg_only()
    user = make_user("anggota")
    before = len(_records())
    db.session.execute(
        text(
            "INSERT INTO payment_intents (member_id, purpose, description, amount_idr, "
            "credit_lines, metadata, status, created_by_id, created_at) VALUES (1, 'sukarela', "
            "'raw', 5000, '[]', '{}', 'open', :u, now())"
        ),
        {"u": user.id},
    )
    db.session.commit()
    (record,) = _records()[before:]
    assert record.changes_dict["ops"] == ["insert:payment_intents"]
    assert verify_chain().ok
