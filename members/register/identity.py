"""Pure checks of Indonesian identity numbers (no Flask, no database).

* NIK (Nomor Induk Kependudukan), 16 digits: ``PP KK CC DDMMYY SSSS`` — province (a valid
  2-digit code), regency/city, district, birth date (women: day + 40), serial.
* NIB (Nomor Induk Berusaha), 13 digits.
* NPWP, 15 digits (old format) or 16 digits (since 2024: a person's NPWP is the NIK).

Every check raises ``IdentityError`` (a ``ValueError``) with an Indonesian message and the
name of the offending field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from kmp.i18n import gettext

#: Kemendagri province codes (incl. the Papua provinces created in 2022).
PROVINCE_CODES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

_SEPARATORS = re.compile(r"[\s.\-/]")


class IdentityError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class NikInfo:
    nik: str
    province_code: str
    province: str
    birth_date: dt.date
    is_female: bool


def clean_digits(text: str | None) -> str:
    return _SEPARATORS.sub("", text or "")


def parse_nik(text: str | None, today: dt.date, field: str = "nik") -> NikInfo:
    """Validate a NIK's structure; ``today`` decides the century and refuses future births."""
    nik = clean_digits(text)
    if not nik:
        raise IdentityError(gettext("NIK wajib diisi."), field)
    if not nik.isdigit() or len(nik) != 16:
        raise IdentityError(gettext("NIK harus 16 angka, sesuai KTP."), field)
    province = nik[:2]
    if province not in PROVINCE_CODES:
        raise IdentityError(
            gettext(
                "NIK tidak valid: kode provinsi %(province)s tidak dikenal.", province=province
            ),
            field,
        )
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise IdentityError(
            gettext("NIK tidak valid: kode kabupaten/kota atau kecamatan 00."), field
        )
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    is_female = day > 40
    if is_female:
        day -= 40
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        birth = dt.date(year, month, day)
    except ValueError:
        raise IdentityError(
            gettext(
                "NIK tidak valid: tanggal lahir di dalam NIK (angka ke-7 sampai ke-12) bukan "
                "tanggal yang ada."
            ),
            field,
        ) from None
    if birth > today:
        raise IdentityError(gettext("NIK tidak valid: tanggal lahir di masa depan."), field)
    if nik[12:] == "0000":
        raise IdentityError(gettext("NIK tidak valid: nomor urut 0000."), field)
    return NikInfo(nik, province, PROVINCE_CODES[province], birth, is_female)


def parse_nib(text: str | None, field: str = "nib") -> str:
    nib = clean_digits(text)
    if not nib.isdigit() or len(nib) != 13:
        raise IdentityError(gettext("NIB harus 13 angka (dari OSS)."), field)
    return nib


def parse_npwp(text: str | None, field: str = "npwp") -> str:
    npwp = clean_digits(text)
    if not npwp.isdigit() or len(npwp) not in (15, 16):
        raise IdentityError(gettext("NPWP harus 15 atau 16 angka."), field)
    return npwp


MEMBER_NO_RE = re.compile(r"^([A-Z]{2,5})-(\d{4})-(\d{6,9})\Z")
LEGACY_MEMBER_NO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/.]{0,39}\Z")


def format_member_no(prefix: str, year: int, seq: int) -> str:
    """``('DRV', 2026, 123) -> 'DRV-2026-000123'``."""
    return f"{prefix}-{year:04d}-{seq:06d}"


def split_member_no(member_no: str) -> tuple[str, int, int] | None:
    """``'DRV-2026-000123' -> ('DRV', 2026, 123)``; ``None`` for any other shape."""
    match = MEMBER_NO_RE.match(member_no or "")
    if not match:
        return None
    return match.group(1), int(match.group(2)), int(match.group(3))
