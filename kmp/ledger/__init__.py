"""The double-entry ledger: ``post_entry`` is the only writer of money.

The core (``models``, ``services``, ``queries``, ``chart``) knows nothing of its sub-features,
which build on it side by side, each with its models, services, views, forms and templates:

* ``kmp.ledger.books``: the board's chart of accounts, income and expense entries with
  receipts and maker-checker approval, manual journals (jurnal umum / penyesuaian);
* ``kmp.ledger.reconcile``: bank statements (BCA, BRI, Mandiri, BNI, saved mappings),
  automatic and manual matching, the monthly report, the Midtrans settlement report;
* ``kmp.ledger.closing``: month locks, the year-end close into SHU, the budget (RAPB).
"""

from __future__ import annotations

from flask import Flask


def closed_year_shu(fiscal_year: int) -> int | None:
    """The SHU (PHU figure) of a fiscal year closed by the year-end close, else None: the
    default of the SHU distribution."""
    from kmp.ledger.closing.services import closed_year_shu as figure

    return figure(fiscal_year)


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from kmp.auth import BOARD_ROLES, Role
    from kmp.ledger import books, closing, models, reconcile  # noqa: F401 - register the tables
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
    books.init_app(app)
    reconcile.init_app(app)
    closing.init_app(app)
