"""Applications, admission, identity and the member register (the buku daftar anggota)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.templating import NavItem, register_nav
    from members.register import (  # noqa: F401 - register the tables
        claim_views,  # noqa: F401 - the "Aktifkan akun" pages
        handlers,
        models,
    )
    from members.register.views import bp
    from members.register.web import member_event_label, member_status_label

    app.register_blueprint(bp)
    app.jinja_env.globals["member_status_label"] = member_status_label
    app.jinja_env.globals["member_event_label"] = member_event_label
    handlers.connect(app)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    deciders = (Role.PENGURUS, Role.BENDAHARA)
    register_nav(
        app,
        NavItem("register.register", _l("Daftar anggota"), board, 100),
        NavItem("register.queue", _l("Pendaftaran baru"), deciders, 110),
        NavItem("register.nik_corrections", _l("Koreksi NIK"), deciders, 150),
    )
    from kmp.registry import get_registry
    from members.register import queries

    get_registry(app).add_user_load_option(queries.own_member_load_option)
    todo = get_registry(app).add_todo
    todo(
        "applications",
        _l("Pendaftaran menunggu keputusan"),
        "register.queue",
        deciders,
        queries.applications_waiting_count,
    )
    todo(
        "nik_corrections",
        _l("Koreksi NIK menunggu keputusan"),
        "register.nik_corrections",
        deciders,
        queries.nik_corrections_waiting_count,
    )
