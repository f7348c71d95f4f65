"""The composition root: ``create_app`` is the one place that knows every part."""

from __future__ import annotations

import logging
import os

from flask import Flask, g, has_request_context, request, session
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug import routing

from kmp.config import ConfigError, config_for
from kmp.extensions import babel, csrf, db, limiter, login_manager, migrate

log = logging.getLogger("kmp")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def select_locale() -> str:
    from flask import current_app

    languages = current_app.config["KMP_LANGUAGES"]
    if not has_request_context():  # a job, a CLI command: the cooperative's language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = g.get("kmp_user_locale")  # the user loader ran in this request
    if chosen is not None:
        # the loaded value (a change made in this request included); once a commit has
        # expired the user, the value the loader saw: no reload just to pick a language
        chosen = g.get("_login_user").__dict__.get("locale") or chosen
    elif current_user and current_user.is_authenticated:
        chosen = current_user.locale
    if chosen in languages:
        return chosen
    chosen = session.get("lang") or request.cookies.get("kmp_lang")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # noqa: ARG001
    module = type(dbapi_connection).__module__
    if "sqlite" in module:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


class IntegerConverter(routing.IntegerConverter):
    """``<int:...>`` in every route: at most 2^31 - 1 (ids are 32-bit integer columns; years
    and months are far below). A larger number does not match the route (404) instead of
    reaching the database, where SQLite overflows and PostgreSQL refuses it with a 500.
    (Same class name as Werkzeug's: tools that look at converter names keep working.)"""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(config: str | type | None = None, **overrides) -> Flask:
    """Build the application. ``config`` is a name (development/testing/production) or a class."""
    config_class = config if isinstance(config, type) else config_for(config)
    app = Flask(
        "kmp",
        root_path=ROOT,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
        instance_path=os.environ.get("KMP_INSTANCE_DIR", os.path.join(ROOT, "instance")),
    )
    app.url_map.converters["int"] = IntegerConverter  # a 40-digit id in a URL is a 404, not a 500
    from kmp.api import SafeJSONProvider

    app.json = SafeJSONProvider(app)  # a too-deep JSON body is a 400, never a 500
    app.config.from_object(config_class)
    app.config.update(overrides)
    config_class().validate(app.config)
    if not app.config.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY is not set.")
    _prepare_database_config(app)

    from kmp.registry import init_app as init_registry

    init_registry(app)
    db.init_app(app)
    from kmp.replica import init_replica

    init_replica(app)
    from kmp.db import MIGRATION_OPTIONS

    migrate.init_app(
        app, db, directory=os.path.join(ROOT, "kmp", "migrations"), **MIGRATION_OPTIONS
    )
    login_manager.init_app(app)
    login_manager.login_view = "core.login"
    login_manager.login_message = None
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_timezone="Asia/Jakarta")
    limiter.init_app(app)

    from kmp import (  # noqa: F401
        auth,
        board,
        cli,
        errors,
        guide,
        invitations,
        ledger,
        notify,
        payments,
        pwa,
        scheduler,
        templating,
        views,
    )

    errors.register_error_handlers(app)
    templating.init_app(app)
    views.init_app(app)
    board.init_app(app)  # board roles' home: before the members' own home
    pwa.init_app(app)
    guide.init_app(app)
    ledger.init_app(app)
    payments.init_app(app)
    cli.init_app(app)
    scheduler.init_app(app)
    notify.init_app(app)
    invitations.init_app(app)

    import governance
    import members
    import payouts

    members.init_app(app)
    governance.init_app(app)
    payouts.init_app(app)

    from kmp.proxies import install as install_trusted_proxies

    install_trusted_proxies(app)  # KMP_TRUSTED_PROXIES: who may say the client's address
    from kmp.forms import install_input_guard

    install_input_guard(app)  # NUL characters in the path, query or a form: a 400

    @app.before_request
    def _request_start():
        g.kmp_request_started = True

    @app.before_request
    def _resolve_locale():
        # Fix the request's language up front: a refusal translated inside a failed flush
        # (``except IntegrityError``) must not have to load the user's locale from the
        # database then.
        if request.endpoint != "static":
            from flask_babel import get_locale

            get_locale()

    @app.teardown_request
    def _end_transaction(exc):
        # The boundary owns the transaction: anything not committed by the view is rolled back.
        if exc is not None:
            db.session.rollback()

    return app


def _prepare_database_config(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        path = uri[len("sqlite:///") :]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        options.pop("pool_pre_ping", None)
        options.setdefault("connect_args", {"timeout": 30})
        if ":memory:" in uri:
            from sqlalchemy.pool import StaticPool

            options["poolclass"] = StaticPool
            options["connect_args"] = {"check_same_thread": False}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
