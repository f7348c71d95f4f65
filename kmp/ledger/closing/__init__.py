"""Closing (tutup buku): month and year locks, the year-end close into SHU, the budget."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from kmp.auth import BOARD_ROLES
    from kmp.ledger.closing import models  # noqa: F401 - register the tables
    from kmp.templating import NavItem, register_nav

    register_nav(
        app,
        NavItem("ledger.closing.budget", lazy_gettext("Anggaran (RAPB)"), tuple(BOARD_ROLES), 460),
    )
