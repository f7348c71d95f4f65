"""Template filters, the navigation registry and fingerprinted static assets."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass

from flask import Flask, current_app, url_for
from flask_babel import format_date, lazy_gettext
from flask_login import current_user

from kmp.auth import Role
from kmp.money import format_rupiah
from kmp.registry import get_registry
from kmp.timeutil import JAKARTA


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string
    roles: tuple[str, ...]  # empty = every logged-in user
    order: int = 100


def register_nav(app: Flask, *items: NavItem) -> None:
    get_registry(app).add_nav(*items)


def nav_for_user(user) -> list[NavItem]:
    """The navigation ``user`` may see: memoised per role set (the list depends only on the
    roles and the registered endpoints, both fixed once the app is built)."""
    if not user.is_authenticated:
        return []
    roles = user.roles
    registry = get_registry()
    visible = registry.nav_cache.get(roles)
    if visible is None:
        endpoints = current_app.view_functions
        visible = [
            item
            for item in registry.nav
            if item.endpoint in endpoints
            and (not item.roles or any(Role(r) in roles for r in item.roles))
        ]
        registry.nav_cache[roles] = visible
    return visible


_asset_hashes: dict[str, str] = {}


def asset_url(filename: str) -> str:
    """A static URL with a content hash, so assets can be cached for a year."""
    digest = _asset_hashes.get(filename)
    if digest is None or current_app.debug:
        path = os.path.join(current_app.static_folder, filename)
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()[:12]
        except OSError:
            digest = "missing"
        _asset_hashes[filename] = digest
    return url_for("static", filename=filename, v=digest)


def jakarta_datetime(value: dt.datetime | None, fmt: str = "d MMMM y, HH.mm") -> str:
    if value is None:
        return "–"
    from flask_babel import format_datetime

    return format_datetime(value.astimezone(JAKARTA), fmt) + " WIB"


def long_date(value: dt.date | None) -> str:
    """``17 Agustus 2026`` in Indonesian, ``17 August 2026`` in English."""
    if value is None:
        return "–"
    return format_date(value, "d MMMM y")


def mask_tail(value: str | None, keep: int = 4) -> str:
    if not value:
        return "–"
    if len(value) <= keep:
        return "•" * len(value)
    return "•" * (len(value) - keep) + value[-keep:]


def _translations():
    """The request's translations for template ``_()``: Flask-Babel's, looked up once per
    app context and locale (Flask-Babel walks its proxies and caches on every call; a list
    page calls ``_()`` hundreds of times). ``force_locale`` changes the locale, so the
    remembered translations are only used for the locale they were looked up for."""
    from flask.globals import _cv_app
    from flask_babel import get_translations

    ctx = _cv_app.get(None)
    space = getattr(ctx.g, "_flask_babel", None) if ctx is not None else None
    if space is not None:
        locale = getattr(space, "babel_locale", None)
        remembered = getattr(space, "kmp_translations", None)
        if locale is not None and remembered is not None and remembered[0] is locale:
            return remembered[1]
    translations = get_translations()
    space = getattr(ctx.g, "_flask_babel", None) if ctx is not None else None
    locale = getattr(space, "babel_locale", None) if space is not None else None
    if locale is not None:
        space.kmp_translations = (locale, translations)
    return translations


def init_app(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["rupiah"] = format_rupiah
    app.jinja_env.filters["jakarta"] = jakarta_datetime
    app.jinja_env.filters["longdate"] = long_date
    app.jinja_env.filters["mask"] = mask_tail
    from kmp.labels import code_label

    app.jinja_env.filters["label"] = code_label  # words instead of internal codes
    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.autoescape = True

    register_nav(
        app,
        NavItem("core.home", lazy_gettext("Beranda"), (), 0),
        NavItem("core.account", lazy_gettext("Akun"), (), 900),
    )

    @app.context_processor
    def inject_common():
        from flask_babel import get_locale

        return {
            "nav_items": nav_for_user(current_user._get_current_object()),
            "coop_name": current_app.config["KMP_COOP_NAME"],
            "current_locale": str(get_locale() or "id"),
            "languages": current_app.config["KMP_LANGUAGES"],
            "has_endpoint": lambda name: name in current_app.view_functions,
        }
