"""The RAT accountability book (laporan pertanggungjawaban pengurus) and the ministry data
export. ``sections.BUILDERS`` is the book, in order; ``render`` prints it as PDF and XLSX;
``ministry`` is the Kemenkop annual data export; ``models`` holds the texts the pengurus and
the pengawas write and the cooperative's profile."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.cli import register_seed_hook
    from kmp.templating import NavItem, register_nav
    from payouts.ratbook import models  # noqa: F401 - register the tables
    from payouts.ratbook.seed import seed_ratbook
    from payouts.ratbook.views import READ, bp

    app.register_blueprint(bp)
    register_nav(
        app,
        NavItem("ratbook.index", _l("Buku RAT"), READ, 305),
        NavItem("ratbook.profile", _l("Profil koperasi"), READ, 306),
    )
    register_seed_hook(app, seed_ratbook)
