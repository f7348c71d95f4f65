"""Bringing an existing register in: the spreadsheet import of members and opening balances."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.templating import NavItem, register_nav
    from members.importer import cli  # noqa: F401 - the `flask members import` command
    from members.importer.views import bp

    app.register_blueprint(bp)
    deciders = (Role.PENGURUS, Role.BENDAHARA)
    register_nav(
        app, NavItem("importer.import_page", _l("Impor anggota"), (*deciders, Role.ADMIN), 130)
    )
