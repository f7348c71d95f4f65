"""Writing the RAT book's texts and the cooperative's profile (flush, never commit)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from kmp.auth import user_id_of
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import business_date, now_utc
from payouts.ratbook.models import CoopProfile, RatText, TextKind

MAX_TEXT = 50_000


class RatBookError(DomainError):
    code = "ratbook_error"


def check_book_year(year: object) -> int:
    if (
        isinstance(year, bool)
        or not isinstance(year, int)
        or not 2000 <= year < business_date().year
    ):
        raise RatBookError(
            _("Buku RAT hanya untuk tahun buku yang sudah lewat."), field="year", status=404
        )
    return year


def save_rat_text(year: int, kind: TextKind, body: str, *, by_user=None) -> RatText:
    """The board's (``board``) or the pengawas' (``supervisory``) report for ``year``."""
    check_book_year(year)
    body = (body or "").replace("\r\n", "\n").strip()
    if len(body) > MAX_TEXT:
        raise RatBookError(
            _("Laporan paling panjang %(n)s karakter.", n=f"{MAX_TEXT:,}".replace(",", ".")),
            field="body",
        )
    text = db.session.scalar(
        select(RatText).where(RatText.fiscal_year == year, RatText.kind == kind)
    )
    if text is None:
        text = RatText(fiscal_year=year, kind=kind)
        db.session.add(text)
    text.body = body
    text.updated_at = now_utc()
    text.updated_by_id = user_id_of(by_user)
    db.session.flush()
    return text


_DIGITS = re.compile(r"^[0-9]+$")


def save_coop_profile(data: dict, *, by_user=None) -> CoopProfile:
    """Create or update the one profile row; ``data`` keys are the model's columns."""
    name = (data.get("name") or "").strip()
    if not 3 <= len(name) <= 200:
        raise RatBookError(_("Nama koperasi 3 sampai 200 karakter."), field="name")
    for key, lengths, label in (("nib", (13,), "NIB"), ("npwp", (15, 16), "NPWP")):
        value = (data.get(key) or "").strip()
        if value and (not _DIGITS.match(value) or len(value) not in lengths):
            raise RatBookError(
                _("%(label)s harus %(n)s angka.", label=label, n="/".join(map(str, lengths))),
                field=key,
            )
    legal_date = data.get("legal_date")
    if legal_date is not None and (
        not isinstance(legal_date, dt.date) or legal_date > business_date()
    ):
        raise RatBookError(_("Tanggal badan hukum tidak boleh di masa depan."), field="legal_date")
    employees = data.get("employees")
    if employees is not None and (not isinstance(employees, int) or employees < 0):
        raise RatBookError(_("Jumlah karyawan tidak boleh negatif."), field="employees")
    profile = db.session.get(CoopProfile, 1)
    if profile is None:
        profile = CoopProfile(id=1, name=name)
        db.session.add(profile)
    for key in (
        "legal_number",
        "nik_koperasi",
        "nib",
        "npwp",
        "address",
        "village",
        "district",
        "regency",
        "province",
        "phone",
        "email",
        "business_field",
    ):
        value = data.get(key)
        setattr(profile, key, (value or "").strip() or None)
    profile.name = name
    profile.legal_date = legal_date
    profile.employees = employees
    profile.updated_at = now_utc()
    profile.updated_by_id = user_id_of(by_user)
    db.session.flush()
    return profile
