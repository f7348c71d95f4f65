"""Parsing the loan forms (bare POST forms carrying the CSRF token): a problem is returned as
a clear Indonesian message, never raised as a 500."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kmp.i18n import gettext as _
from kmp.money import MoneyError, parse_rupiah_input

MAX_IDR = 10**12


@dataclass
class ApplicationInput:
    product_id: int | None = None
    principal_idr: int | None = None
    months: int | None = None
    purpose: str = ""
    guarantors: tuple[str, ...] = ()
    principal_text: str = ""


def parse_amount(text: str | None) -> int | None:
    """A Rupiah amount typed by a person, or None when it is not one."""
    try:
        value = parse_rupiah_input((text or "").strip())
    except (MoneyError, ValueError, ArithmeticError):
        return None
    return value if 0 < value <= MAX_IDR else None


def parse_int(text: str | None, low: int, high: int) -> int | None:
    text = (text or "").strip()
    if not text.isdigit() or len(text) > 6:
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def parse_application(form) -> tuple[ApplicationInput, str | None]:
    data = ApplicationInput(
        product_id=parse_int(form.get("product"), 1, 2**31 - 1),
        principal_text=(form.get("principal") or "")[:30],
        purpose=(form.get("purpose") or "").strip()[:300],
        guarantors=tuple(
            g.strip()[:30] for g in (form.get("guarantors") or "").replace(";", ",").split(",")
        )[:3],
    )
    data.principal_idr = parse_amount(form.get("principal"))
    data.months = parse_int(form.get("months"), 1, 600)
    if data.product_id is None:
        return data, _("Pilih produk pinjaman.")
    if data.principal_idr is None:
        return data, _("Tulis jumlah pinjaman dalam Rupiah, mis. 1.500.000.")
    if data.months is None:
        return data, _("Tulis jangka waktu dalam bulan.")
    return data, None
