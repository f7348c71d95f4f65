"""Small helpers shared by the ledger pages and its sub-features' pages."""

from __future__ import annotations

import secrets

from flask import request, url_for
from flask_babel import lazy_gettext as _l

from kmp.ledger.models import AccountType

TYPE_LABELS = {
    AccountType.ASSET: _l("Aset"),
    AccountType.LIABILITY: _l("Kewajiban"),
    AccountType.EQUITY: _l("Ekuitas"),
    AccountType.INCOME: _l("Pendapatan"),
    AccountType.EXPENSE: _l("Beban"),
}


def export_format() -> str | None:
    return request.args.get("format") or None


def export_urls() -> dict[str, str]:
    """The current page's URL with ``format=csv`` / ``format=xlsx``."""
    args = {k: v for k, v in request.args.items() if k not in ("format", "sebelum", "halaman")}
    view_args = dict(request.view_args or {})
    return {
        fmt: url_for(request.endpoint, **view_args, **args, format=fmt) for fmt in ("csv", "xlsx")
    }


def type_label(type_: AccountType) -> str:
    return str(TYPE_LABELS[AccountType(type_)])


def new_request_key() -> str:
    """A one-time key for a form, so a double submit records its document once."""
    return secrets.token_hex(16)
