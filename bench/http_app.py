"""WSGI entry points for the HTTP benchmark (``gunicorn 'bench.http_app:kmp()'``).

``kmp()``: the KMP application on the database named by ``KMP_BENCH_HTTP_DATABASE_URL``
(the "testing" configuration: fixed secret key, fake gateway and notifier). ``bare()``: a bare
Flask application with one endpoint returning a short text, served by the same gunicorn
settings: the floor of the HTTP benchmark. ``bare_vote()``: a bare Flask application whose
``POST /bare/vote`` inserts one ballot participation and one secret choice with bare Core and
commits once (no session, no CSRF, no lock, no census lookup): the floor of the HTTP casting
benchmark (``bench/governance_casting_http.py``).
"""

from __future__ import annotations

import os

from flask import Flask

ENV_URL = "KMP_BENCH_HTTP_DATABASE_URL"


def kmp():
    from kmp import create_app

    return create_app("testing", SQLALCHEMY_DATABASE_URI=os.environ[ENV_URL])


def bare():
    app = Flask("bare")

    @app.get("/bare")
    def bare_endpoint():
        return "ok"

    return app


def bare_vote():
    """``GET /bare`` returns a short text; ``POST /bare/vote`` (form fields ``proposal_id``,
    ``member_id``, ``group_code``, ``option``) inserts the participation and the secret choice a
    vote writes, with bare Core on a pooled connection, and commits once."""
    from flask import request
    from sqlalchemy import create_engine

    from bench.governance_casting import insert_bare_vote

    app = Flask("bare_vote")
    engine = create_engine(os.environ[ENV_URL])  # connects lazily: in each forked worker

    @app.get("/bare")
    def bare_endpoint():
        return "ok"

    @app.post("/bare/vote")
    def bare_vote_endpoint():
        form = request.form
        with engine.connect() as conn:
            insert_bare_vote(
                conn,
                int(form["proposal_id"]),
                int(form["member_id"]),
                form["group_code"],
                form["option"],
            )
            conn.commit()
        return "ok"

    return app
