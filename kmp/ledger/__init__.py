"""The double-entry ledger: ``post_entry`` is the only writer of money."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from kmp.auth import BOARD_ROLES, Role
    from kmp.ledger import models  # noqa: F401 - register the tables
    from kmp.ledger.views import bp
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    board = tuple(BOARD_ROLES)
    register_nav(
        app,
        NavItem("ledger.accounts", lazy_gettext("Buku besar"), board, 400),
        NavItem("ledger.journal", lazy_gettext("Jurnal"), board, 410),
        NavItem("ledger.trial_balance", lazy_gettext("Neraca saldo"), board, 420),
        NavItem("ledger.balance_sheet", lazy_gettext("Neraca"), board, 430),
        NavItem("ledger.income_statement", lazy_gettext("Laporan hasil usaha"), board, 440),
        NavItem("ledger.periods", lazy_gettext("Tutup buku"), board, 450),
        NavItem("ledger.my_accounts", lazy_gettext("Riwayat simpanan saya"), (Role.ANGGOTA,), 60),
    )
