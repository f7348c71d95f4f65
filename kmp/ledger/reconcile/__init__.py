"""Reconciliation (rekonsiliasi): bank statements against the bank accounts, the Midtrans
settlement report against the gateway clearing account."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from kmp.auth import BOARD_ROLES
    from kmp.ledger.reconcile import models  # noqa: F401 - register the tables
    from kmp.templating import NavItem, register_nav

    register_nav(
        app,
        NavItem("ledger.reconcile.index", lazy_gettext("Rekonsiliasi"), tuple(BOARD_ROLES), 455),
    )
