"""Leaving the cooperative: exit requests, decisions, refunds of pokok and wajib."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.templating import NavItem, register_nav
    from members.exits.views import bp

    app.register_blueprint(bp)
    deciders = (Role.PENGURUS, Role.BENDAHARA)
    register_nav(app, NavItem("exits.exits", _l("Anggota keluar"), (*deciders, Role.PENGAWAS), 120))
    from kmp.registry import get_registry
    from members.register.queries import exits_waiting_count

    get_registry(app).add_todo(
        "exits",
        _l("Anggota keluar: menunggu keputusan atau pengembalian"),
        "exits.exits",
        deciders,
        exits_waiting_count,
    )
