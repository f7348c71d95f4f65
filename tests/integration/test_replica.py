"""Read replica (issue 9): reports and partner dashboards read ``KMP_READONLY_DATABASE_URL``
inside ``replica_reads()``; everything that decides money (the SHU computation) reads the
primary. The "replica" here is a second SQLite file that lags: it has the schema and the
chart but not the entry posted on the primary afterwards."""

from __future__ import annotations

import datetime as dt

import pytest

from kmp import create_app
from kmp.cli import install_defaults
from kmp.extensions import db
from kmp.ledger.chart import CASH
from kmp.ledger.queries import income_statement, trial_balance
from kmp.ledger.services import EntrySpec, post_entries
from kmp.registry import get_registry
from kmp.replica import read_engine, replica_reads
from kmp.timeutil import business_date

pytestmark = pytest.mark.nodb

INCOME = 750_000


def _app(tmp_path, replica: bool):
    overrides = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/primary.sqlite3"}
    if replica:
        overrides["KMP_READONLY_DATABASE_URL"] = f"sqlite:///{tmp_path}/replica.sqlite3"
    app = create_app("testing", **overrides)
    with app.app_context():
        db.create_all()
        install_defaults()
        db.session.commit()
        if replica:  # the replica as it was before the entry below reached it
            replica_engine = get_registry(app).replica_engine
            db.metadata.create_all(replica_engine)
            with replica_engine.begin() as conn:
                for table in db.metadata.sorted_tables:
                    rows = [r._mapping for r in db.session.execute(table.select())]
                    if rows:
                        conn.execute(table.insert(), [dict(r) for r in rows])
        year = business_date().year - 1
        post_entries(
            [
                EntrySpec(
                    idempotency_key="replica-test-income",
                    description="Pendapatan jasa",
                    lines=[(CASH, INCOME), ("income:member-services", -INCOME)],
                    source_kind="test",
                    entry_date=dt.date(year, 6, 30),
                )
            ]
        )
        db.session.commit()
    return app, year


def _surplus(year: int) -> int:
    return income_statement(dt.date(year, 1, 1), dt.date(year, 12, 31))["surplus_idr"]


def _cash(rows) -> int:
    return next(r.debit_idr - r.credit_idr for r in rows if r.code == CASH)


def test_reports_read_the_replica_only_inside_replica_reads(tmp_path):
    app, year = _app(tmp_path, replica=True)
    with app.app_context():
        assert read_engine() is None
        assert _surplus(year) == INCOME  # outside: the primary
        with replica_reads():
            assert read_engine() is get_registry(app).replica_engine
            assert _surplus(year) == 0  # the lagging replica
            assert _cash(trial_balance()) == 0
        assert _cash(trial_balance()) == INCOME
        assert read_engine() is None  # the flag is restored


def test_money_decisions_read_the_primary_even_inside_replica_reads(tmp_path):
    from payouts.services import ledger_shu

    app, year = _app(tmp_path, replica=True)
    with app.app_context(), replica_reads():
        assert ledger_shu(year) == INCOME


def test_without_a_replica_replica_reads_is_the_primary(tmp_path):
    app, year = _app(tmp_path, replica=False)
    assert get_registry(app).replica_engine is None
    with app.app_context(), replica_reads():
        assert read_engine() is None
        assert _surplus(year) == INCOME


def _income_csv(app, year: int) -> str:
    from kmp.auth import Role, create_user

    with app.app_context():
        user = create_user(
            full_name="Bendahara",
            email="bendahara@example.org",
            password="rahasia-panjang-1",
            roles=(Role.BENDAHARA,),
        )
        db.session.commit()
        user_id = user.get_id()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    page = client.get(f"/buku-besar/hasil-usaha?dari={year}-01-01&sampai={year}-12-31&format=csv")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_the_board_report_page_reads_the_replica(tmp_path):
    app, year = _app(tmp_path, replica=True)
    assert str(INCOME) not in _income_csv(app, year)  # the lagging replica: no income yet


def test_the_board_report_page_reads_the_primary_without_a_replica(tmp_path):
    app, year = _app(tmp_path, replica=False)
    assert str(INCOME) in _income_csv(app, year)
