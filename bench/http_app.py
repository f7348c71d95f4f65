"""WSGI entry points for the HTTP benchmark (``gunicorn 'bench.http_app:kmp()'``).

``kmp()``: the KMP application on the database named by ``KMP_BENCH_HTTP_DATABASE_URL``
(the "testing" configuration: fixed secret key, fake gateway and notifier). ``bare()``: a bare
Flask application with one endpoint returning a short text, served by the same gunicorn
settings: the floor of the HTTP benchmark.
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
