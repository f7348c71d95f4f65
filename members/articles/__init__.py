"""Amending the cooperative's articles (AD): the editor, its history and each version."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.templating import NavItem, register_nav
    from members.articles.views import bp

    app.register_blueprint(bp)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(app, NavItem("ad.ad_view", _l("Anggaran Dasar (AD)"), board, 160))
