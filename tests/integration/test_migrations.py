"""The migrations produce exactly the schema the models declare (no drift), on both databases."""

from __future__ import annotations

import os
import secrets
import tempfile

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from kmp import create_app
from kmp.config import normalise_database_url
from kmp.db import MIGRATION_OPTIONS
from kmp.extensions import db


@pytest.fixture
def fresh_url():
    pg = os.environ.get("KMP_TEST_DATABASE_URL")
    if not pg:
        folder = tempfile.mkdtemp(prefix="kmp-mig-")
        yield f"sqlite:///{folder}/mig.sqlite3"
        return
    base = make_url(normalise_database_url(pg))
    name = f"kmp_mig_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": MIGRATION_OPTIONS["compare_type"],
                "render_item": MIGRATION_OPTIONS["render_item"],
                "include_object": MIGRATION_OPTIONS["include_object"],
            },
        )
        return compare_metadata(context, db.metadata)


def test_migrations_match_models(fresh_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=fresh_url)
    with app.app_context():
        upgrade()
    assert _diff(app) == []
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "accounts", "journal_entries", "postings"} <= tables
        if db.engine.dialect.name == "postgresql":
            triggers = {
                r[0]
                for r in db.session.execute(
                    text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                )
            }
            assert {"journal_entries_append_only", "postings_append_only"} <= triggers
        downgrade(revision="base")
        db.session.remove()
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()
