"""Reads that may go to a PostgreSQL streaming replica (issue 9: growing past one machine).

Set ``KMP_READONLY_DATABASE_URL`` and ``create_app`` opens a second engine on it. A *boundary*
(a report page, the partner dashboard) opts in with ``replica_reads()`` — as a ``with`` block
or a decorator — and the query functions it calls run their ``SELECT`` through
``read_execute``, which then uses the replica. Everything else reads the primary, because a
replica may lag a few seconds behind: every write, and every service that decides money or
votes pins the primary with ``primary_reads()`` even when called from inside
``replica_reads()`` (the SHU computation does). Without the setting, or outside
``replica_reads()``, ``read_execute`` is ``db.session.execute``.
"""

from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import create_engine

from kmp.extensions import db

_FLAG = "kmp_replica_reads"


def init_replica(app: Flask) -> None:
    """Open the replica engine when ``KMP_READONLY_DATABASE_URL`` is set (lazily connects)."""
    url = app.config.get("KMP_READONLY_DATABASE_URL")
    if not url:
        return
    from kmp.config import normalise_database_url

    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    from kmp.registry import get_registry

    get_registry(app).replica_engine = create_engine(normalise_database_url(url), **options)


@contextmanager
def _reads(replica: bool):
    previous = g.get(_FLAG, False)
    setattr(g, _FLAG, replica)
    try:
        yield
    finally:
        setattr(g, _FLAG, previous)


def replica_reads():
    """Inside, ``read_execute`` reads from the replica when one is configured."""
    return _reads(True)


def primary_reads():
    """Inside, ``read_execute`` reads the primary even within ``replica_reads()``."""
    return _reads(False)


def read_engine():
    """The engine ``read_execute`` uses now: the replica inside ``replica_reads()`` when one is
    configured, else ``None`` (the session's own, the primary)."""
    if not g.get(_FLAG, False):
        return None
    from kmp.registry import get_registry

    return get_registry(current_app).replica_engine


def read_execute(statement, params=None):
    """``db.session.execute`` for a read-only report query (see the module docstring)."""
    engine = read_engine()
    if engine is None:
        return db.session.execute(statement, params)
    return db.session.execute(statement, params, bind_arguments={"bind": engine})
