"""Test harness: one app per test session, a clean database per test, role logins.

The suite runs on SQLite by default and on PostgreSQL when ``KMP_TEST_DATABASE_URL`` is set
(a fresh database is created per run and per xdist worker, and dropped afterwards).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kmp import create_app
from kmp.config import normalise_database_url
from kmp.extensions import db as _db
from kmp.extensions import limiter
from kmp.timeutil import set_clock

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("KMP_TEST_DATABASE_URL")


def pytest_report_header(config):  # noqa: ARG001
    target = (
        "PostgreSQL "
        + make_url(normalise_database_url(PG_URL)).render_as_string(hide_password=True)
        if PG_URL
        else "SQLite"
    )
    return [f"KMP test database: {target}"]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if not PG_URL:
        folder = tempfile.mkdtemp(prefix="kmp-test-")
        yield f"sqlite:///{folder}/kmp.sqlite3"
        shutil.rmtree(folder, ignore_errors=True)
        return
    base = make_url(normalise_database_url(PG_URL))
    name = f"kmp_test_{_worker()}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001
        admin.dispose()
        message = f"PostgreSQL at KMP_TEST_DATABASE_URL is unreachable: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production: ``g`` (CSRF token cache,
    Flask-Login's user) and the database session never leak from the test body or between
    requests, even though the test body keeps an app context pushed."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url):
    engine_options = {"connect_args": {"timeout": 30}}
    if not database_url.startswith("sqlite"):  # a thrown-away database: no commit waits for
        # its WAL to reach the disk
        engine_options = {
            "pool_pre_ping": True,
            "connect_args": {"options": "-c synchronous_commit=off"},
        }
    application = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=database_url, SQLALCHEMY_ENGINE_OPTIONS=engine_options
    )
    application.test_client_class = IsolatedClient
    with application.app_context():
        _db.create_all()
        if database_url.startswith("sqlite"):
            _clean_tables()
            _install_defaults()
            _SQLITE_TEMPLATES[id(application)] = _snapshot_sqlite()
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _clean_tables() -> None:
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        # Only the tables a test wrote to are emptied (found by one probe), and every
        # sequence starts again at 1.
        probe = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
        )
        dirty = [row[0] for row in _db.session.execute(text(probe))]
        if dirty:
            # DELETE, not TRUNCATE: TRUNCATE makes new files and syncs each of them to disk
            # (most of a PostgreSQL test's time). Replica mode switches off the triggers
            # (foreign keys, the journal's append-only guards) for this cleanup only.
            _db.session.execute(text("SET LOCAL session_replication_role = replica"))
            for table in dirty:
                _db.session.execute(text(f'DELETE FROM "{table}"'))
        _db.session.execute(
            text(
                "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        )
    else:
        from contextlib import nullcontext

        from kmp.ledger.models import journal_guards_suspended, journal_is_empty

        connection = _db.session.connection()
        guards = nullcontext() if journal_is_empty(connection) else None
        with guards or journal_guards_suspended(connection):  # the journal refuses DELETE
            for table in tables:
                _db.session.execute(text(f'DELETE FROM "{table}"'))
        _db.session.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence() else None
    _db.session.commit()


def _has_sqlite_sequence() -> bool:
    return bool(
        _db.session.execute(
            text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")
        ).first()
    )


_SQLITE_TEMPLATES: dict[int, object] = {}  # app id -> the in-memory copy of its fresh database


def _install_defaults() -> None:
    from kmp.cli import install_defaults

    install_defaults()
    _db.session.commit()


def _snapshot_sqlite():
    """The freshly installed database (schema, chart, AD defaults) copied into memory once per
    test process, so each test starts from it by SQLite's backup API (a page copy of a few
    milliseconds) instead of deleting every table and installing the defaults again."""
    import sqlite3

    template = sqlite3.connect(":memory:", check_same_thread=False)
    raw = _db.engine.raw_connection()
    try:
        raw.dbapi_connection.backup(template)
    finally:
        raw.close()
    return template


def _restore_sqlite(template) -> None:
    _db.session.remove()
    raw = _db.engine.raw_connection()
    try:
        template.backup(raw.dbapi_connection)
    finally:
        raw.close()


@pytest.fixture(autouse=True)
def db(request, app):
    """A clean database with the default chart of accounts and AD configuration."""
    if "nodb" in request.keywords:
        yield None
        return
    ctx = app.app_context()
    ctx.push()
    template = _SQLITE_TEMPLATES.get(id(app))
    if template is not None:
        _restore_sqlite(template)
    else:
        _clean_tables()
        _install_defaults()
    limiter.reset()
    try:
        yield _db
    finally:
        _db.session.rollback()
        _db.session.remove()
        set_clock(None)
        ctx.pop()


@pytest.fixture(autouse=True)
def _cheap_password_hashes(request, monkeypatch):
    """The ONE cheap-hash switch: scrypt (~0.1 s and 32 MB a hash) would make every test that
    creates a login slow, so tests hash with a cheap PBKDF2; a test that checks the real
    method says so with ``@pytest.mark.real_password_hash``."""
    if "real_password_hash" not in request.keywords:
        monkeypatch.setattr("kmp.auth.PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(db):  # noqa: ARG001
    from kmp.auth import create_user

    counter = {"n": 0}

    def factory(*roles, email=None, password="rahasia-12345", full_name=None, **kwargs):
        counter["n"] += 1
        n = counter["n"]
        user = create_user(
            full_name=full_name or f"Pengguna Uji {n}",
            email=email or f"user{n}-{secrets.token_hex(2)}@test.kmp.id",
            password=password,
            roles=roles or ("anggota",),
            **kwargs,
        )
        _db.session.commit()
        return user

    return factory


@pytest.fixture
def login_as(client, make_user):
    """``login_as("pengurus")`` creates a user with that role and logs the test client in."""

    def do_login(*roles, user=None):
        user = user or make_user(*roles)
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return user

    return do_login


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token in page"
    return match.group(1)


@pytest.fixture
def csrf_token(client):
    def get(path: str = "/masuk") -> str:
        response = client.get(path)
        return csrf_from(response.get_data(as_text=True))

    return get


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    for item in items:
        if item.get_closest_marker("postgres") and not PG_URL:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (KMP_TEST_DATABASE_URL)"))


def totp_code(secret: str) -> str:
    """The current TOTP code for ``secret`` by KMP's clock (``set_clock`` moves it)."""
    import pyotp

    from kmp.timeutil import now_utc

    return pyotp.TOTP(secret).at(now_utc())


@pytest.fixture
def login_with_totp(client, make_user, app, monkeypatch):
    """``login_with_totp("bendahara")``: the second factor switched on, a user enrolled
    (secret set), logged in through the real password + code steps; returns the user."""

    def do(*roles, password: str = "rahasia-12345"):
        from kmp.auth import enable_totp, new_totp_secret

        monkeypatch.setitem(app.config, "KMP_REQUIRE_TOTP", True)
        user = make_user(*roles, password=password)
        secret = new_totp_secret()
        enable_totp(user, secret, totp_code(secret))
        user.totp_last_step = None  # let the same 30-second code log in right away
        _db.session.commit()
        user.kmp_test_totp_secret = secret
        token = csrf_from(client.get("/masuk").get_data(as_text=True))
        response = client.post(
            "/masuk", data={"csrf_token": token, "login": user.email, "password": password}
        )
        assert response.headers["Location"].endswith("/masuk/kode"), response.status_code
        token = csrf_from(client.get("/masuk/kode").get_data(as_text=True))
        response = client.post("/masuk/kode", data={"csrf_token": token, "code": totp_code(secret)})
        assert response.status_code == 302, response.status_code
        return user

    return do


# The notifier's fixtures (fresh fake outbox, movable clock, real providers faked at HTTP level).
from tests.integration.notify_support import clock, fresh_notifier, real_providers  # noqa: E402, F401
