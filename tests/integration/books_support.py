"""Helpers for the bookkeeping, reconciliation and closing tests (issue 20)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import Account, JournalEntry
from kmp.ledger.services import get_account, post_entry
from kmp.timeutil import set_clock

TODAY = dt.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def books_env(app, tmp_path, monkeypatch):
    """Import this (autouse) fixture into a test module: the clock at 15 March 2026 (Jakarta)
    and receipts stored in a temporary folder (``app.config['KMP_RECEIPT_DIR']``)."""
    set_clock(lambda: dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))
    monkeypatch.setitem(app.config, "KMP_RECEIPT_DIR", str(tmp_path / "receipts"))
    yield tmp_path / "receipts"
    set_clock(None)


def make_board(make_user) -> dict:
    """The treasurer (maker; holds pengurus too) and a second board member (checker)."""
    return {
        "bendahara": make_user("pengurus", "bendahara", full_name="Budi Bendahara"),
        "pengurus": make_user("pengurus", full_name="Siti Ketua"),
    }


def account_id(code: str) -> int:
    return get_account(code).id


def count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def entries() -> int:
    return count(JournalEntry)


def book(key: str, lines, day: dt.date, description: str = "Transaksi uji", kind="test"):
    return post_entry(
        idempotency_key=key,
        description=description,
        lines=lines,
        source_kind=kind,
        source_id=key,
        entry_date=day,
    )


def natural(code: str) -> int:
    account = db.session.scalar(select(Account).where(Account.code == code))
    db.session.refresh(account)
    return account.natural_balance_idr


def jpeg_with_gps(size=(64, 48)) -> bytes:
    """A small JPEG carrying EXIF with a GPS block (what a phone camera writes)."""
    from PIL import Image

    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel X"  # Model
    gps = {1: "S", 2: (6.0, 12.0, 30.0), 3: "E", 4: (106.0, 49.0, 10.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_bytes(size=(20, 20)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (0, 128, 0)).save(out, format="PNG")
    return out.getvalue()


MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
