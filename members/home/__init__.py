"""The member's home (dashboard, next steps, card, profile, own data) and the board's member
file: the pages that show a member across every sub-feature."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.cli import register_seed_hook
    from kmp.templating import NavItem, register_nav
    from kmp.views import register_home
    from members.home import company_views  # noqa: F401 - the company pages
    from members.home.history import seed_year
    from members.home.seed import seed_members
    from members.home.views import bp
    from members.protection import seed_protection

    app.register_blueprint(bp)
    # The demo, in order: the register, the year behind it (bills, payments, check-off, the
    # closed books), then the BPJS enrolments of members who exist by then.
    register_seed_hook(app, seed_members)
    register_seed_hook(app, seed_year)
    register_seed_hook(app, seed_protection)
    register_nav(
        app,
        NavItem("members.dashboard", _l("Keanggotaan saya"), (Role.ANGGOTA,), 10),
        NavItem("members.company", _l("Perusahaan saya"), (Role.PARTNER,), 10),
    )
    register_home(app, Role.ANGGOTA, "members.dashboard")
    register_home(app, Role.PARTNER, "members.company")
