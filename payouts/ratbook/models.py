"""The texts the officers write for the RAT book, and the cooperative's identity.

``RatText``: one text per fiscal year and author body — the board's report (``board``,
written by the pengurus) and the supervisors' report (``supervisory``, written by the
pengawas). ``CoopProfile``: the single row of the cooperative's identity and legal numbers
that the book's cover and the ministry export print.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc


class TextKind(enum.StrEnum):
    BOARD = "board"  # laporan pengurus
    SUPERVISORY = "supervisory"  # laporan pengawas


class RatText(db.Model):
    __tablename__ = "rat_texts"
    __table_args__ = (
        UniqueConstraint("fiscal_year", "kind"),
        CheckConstraint("fiscal_year BETWEEN 2000 AND 2999", name="year_sane"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[TextKind] = mapped_column(StrEnumType(TextKind, 12))
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CoopProfile(db.Model):
    """The cooperative's identity (one row, id 1)."""

    __tablename__ = "coop_profile"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(200))
    legal_number: Mapped[str | None] = mapped_column(String(100))  # nomor badan hukum (AHU)
    legal_date: Mapped[dt.date | None] = mapped_column(Date)
    nik_koperasi: Mapped[str | None] = mapped_column(String(30))  # Nomor Induk Koperasi
    nib: Mapped[str | None] = mapped_column(String(13))
    npwp: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(100))
    regency: Mapped[str | None] = mapped_column(String(100))  # kabupaten / kota
    province: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    business_field: Mapped[str | None] = mapped_column(String(200))  # bidang usaha
    employees: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
