"""Bookkeeping (pembukuan): the board's chart of accounts, income and expense entries with
receipts, manual journals; maker-checker above the approval threshold."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from kmp.auth import BOARD_ROLES, Role
    from kmp.ledger.books import models  # noqa: F401 - register the tables
    from kmp.ledger.books.services import pending_count
    from kmp.registry import get_registry
    from kmp.templating import NavItem, register_nav

    board = tuple(BOARD_ROLES)
    register_nav(
        app,
        NavItem("ledger.books.entries", lazy_gettext("Kas masuk & keluar"), board, 402),
        NavItem("ledger.books.journals", lazy_gettext("Jurnal umum"), board, 412),
    )
    get_registry(app).add_todo(
        "books_pending",
        lazy_gettext("Pembukuan menunggu persetujuan"),
        "ledger.books.pending",
        (Role.PENGURUS, Role.BENDAHARA),
        pending_count,
    )
