"""The cooperative's articles (Anggaran Dasar) as versioned, validated configuration."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.cli import register_init_hook
    from kmp.templating import NavItem, register_nav
    from members.ad import models  # noqa: F401 - register the tables
    from members.ad.services import install_member_defaults
    from members.ad.views import bp

    app.register_blueprint(bp)
    register_init_hook(app, install_member_defaults)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(app, NavItem("ad.ad_view", _l("Anggaran Dasar (AD)"), board, 160))
