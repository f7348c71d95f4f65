"""Every lookup the member dashboard, the member statement and the member register make is
served by an index (issue 9), checked with ``EXPLAIN`` on PostgreSQL.

The pages' statements are captured as they run (SQLAlchemy event listener), then each is
explained with ``enable_seqscan = off``: the planner still picks a sequential scan when no
index can serve the query, so a ``Seq Scan`` on a table that grows with members means a
missing index. Small configuration tables (AD versions, the chart's own rows are in
``accounts`` and are covered) are not checked.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from bench.generate import generate
from kmp.auth import User
from kmp.extensions import db as _db
from members.register.models import Member

pytestmark = pytest.mark.postgres

#: Tables whose size grows with members or their history.
GROWING = {
    "users",
    "user_roles",
    "members",
    "member_events",
    "member_staff",
    "receipts",
    "exit_cases",
    "nik_corrections",
    "accounts",
    "journal_entries",
    "postings",
    "patronage_records",
}
_SEQ = re.compile(r"Seq Scan on (\w+)")


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN index checks need PostgreSQL (KMP_TEST_DATABASE_URL)")


@contextmanager
def capturing():
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            captured.append((statement, parameters))

    event.listen(_db.engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(_db.engine, "before_cursor_execute", capture)


def _seq_scans(captured) -> list[tuple[str, str]]:
    found = []
    with _db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in captured:
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            for table in _SEQ.findall(plan):
                if table in GROWING:
                    found.append((table, statement.split("FROM", 1)[-1][:160]))
        conn.rollback()
    return found


@pytest.fixture
def cooperative():
    with _db.engine.connect() as conn:
        generate(conn, members=200, months=12, seed=7)
    _db.session.expire_all()
    return _db.session.scalar(
        select(Member).where(Member.status == "active").order_by(Member.id.desc()).limit(1)
    )


def _get(client, login_as, user, path: str) -> None:
    login_as(user=user)
    response = client.get(path)
    assert response.status_code == 200, path


@pytest.mark.parametrize("path", ["/anggota", "/buku-besar/saya", "/buku-besar/saya?halaman=2"])
def test_member_pages_use_indexes(client, login_as, cooperative, path):
    user = _db.session.get(User, cooperative.user_id)
    with capturing() as captured:
        _get(client, login_as, user, path)
    assert len(captured) >= 5
    assert _seq_scans(captured) == []


@pytest.mark.parametrize(
    "query",
    ["", "?q={number}", "?q={number_lower}", "?status=active", "?halaman=3"],
)
def test_register_lookups_use_indexes(client, login_as, make_user, cooperative, query):
    board = make_user("pengurus")
    path = "/pengurus/anggota" + query.format(
        number=cooperative.member_no, number_lower=cooperative.member_no.lower()
    )
    with capturing() as captured:
        _get(client, login_as, board, path)
    assert captured
    assert _seq_scans(captured) == []


@pytest.mark.xfail(
    strict=True,
    reason="substring search on names (ILIKE '%...%') needs a pg_trgm GIN index on "
    "members.full_name (a members migration); until then it scans the register",
)
def test_register_name_search_uses_an_index(client, login_as, make_user, cooperative):
    board = make_user("pengurus")
    with capturing() as captured:
        _get(client, login_as, board, "/pengurus/anggota?q=Sintetis")
    assert _seq_scans(captured) == []
