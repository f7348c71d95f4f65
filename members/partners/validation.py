"""One validation of a check-off remittance whatever its channel: the partner API
(``POST /api/v1/remittances``), the portal's CSV upload and anything else that submits one
load the same marshmallow schema, so the bounds cannot drift apart again (the CSV once took
any amount: a line of 9x10^18 credited a driver and overflowed the balances).

Bounds: each amount 1..10^15 (the database's own CHECK bound on money columns); ``paid_on``
not in the future and not older than the AD's ``backdate_days``; at most 10,000 lines. The
per-worker plausibility limit (the AD's ``max_remittance_per_worker_month_idr``) is applied
line by line in ``members.partners.remittances.submit_remittance`` (it needs the month's
earlier remittances): a line beyond it is rejected and goes back to the partner.
"""

from __future__ import annotations

import datetime as dt
import re

import marshmallow as ma

from kmp.api import Date, Int, List, Nested, Pattern, Str, StrictSchema
from kmp.db import RUPIAH_BOUND
from kmp.i18n import gettext
from kmp.timeutil import business_date
from members.ad.services import current_ad
from members.savings.allocator import remittance_purposes

MAX_IDR = RUPIAH_BOUND
MAX_REMITTANCE_LINES = 10_000

WORKER_ID = Pattern(
    r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,59}$",
    error="ID mitra: 1-60 huruf, angka, titik, titik dua, garis bawah atau tanda hubung.",
)
REF = Pattern(
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$",
    error="ID remitansi: 1-80 huruf, angka, titik, titik dua, garis miring, garis bawah "
    "atau tanda hubung.",
)
AMOUNT = ma.validate.Range(1, MAX_IDR, error="Harus antara 1 dan 10^15 Rupiah.")


def known_purpose(value: str) -> str:
    """pokok, sukarela or any registered obligation family (wajib, bpjs, ...), read when the
    request arrives: sub-features register their families at start-up."""
    choices = sorted(remittance_purposes())
    if value not in choices:
        raise ma.ValidationError(
            gettext("Pilih salah satu: %(choices)s.", choices=", ".join(choices))
        )
    return value


def paid_on_window(value: dt.date) -> dt.date:
    """Not in the future, not before the AD's back-dating window."""
    today = business_date()
    if value > today:
        raise ma.ValidationError("Tanggal bayar tidak boleh di masa depan.")
    days = current_ad().backdate_days
    if value < today - dt.timedelta(days=days):
        raise ma.ValidationError(f"Tanggal bayar paling lama {days} hari ke belakang (aturan AD).")
    return value


class RemittanceLineLoadSchema(StrictSchema):
    platform_worker_id = Str(required=True, validate=WORKER_ID)
    purpose = Str(required=True, validate=known_purpose)
    amount_idr = Int(required=True, validate=AMOUNT)


class RemittanceLoadSchema(StrictSchema):
    remittance_id = Str(required=True, validate=REF)
    total_idr = Int(required=True, validate=AMOUNT)
    paid_on = Date(load_default=None, validate=paid_on_window)
    lines = List(
        Nested(RemittanceLineLoadSchema),
        required=True,
        validate=ma.validate.Length(1, MAX_REMITTANCE_LINES, error="1 sampai 10.000 baris."),
    )


_DIGITS = re.compile(r"[0-9]{1,40}")


def csv_amount(text: str):
    """A CSV cell as the schema's strict integer when it is plain digits (any length: the
    schema's bound refuses the huge ones with its message), else the text (refused too)."""
    text = (text or "").strip()
    return int(text) if _DIGITS.fullmatch(text) else text


def messages_text(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested error dict as readable lines: ``lines.3.amount_idr: ...``."""
    out: list[str] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out += messages_text(value, f"{prefix}{key}." if key != "_schema" else prefix)
    elif isinstance(messages, list):
        for item in messages:
            out += messages_text(item, prefix)
    else:
        out.append(f"{prefix.rstrip('.')}: {messages}" if prefix else str(messages))
    return out
