"""Versions of the cooperative's articles (AD): append-only rows, the newest is in force."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc


class ADVersion(db.Model):
    """One version of the AD configuration. Append-only: a change is a new version."""

    __tablename__ = "ad_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by = relationship("User")


def _ad_in_force_on_user() -> None:
    """``User.kmp_ad_in_force``: the id of the AD version in force, read in the login user's
    query when asked for (``members.ad.services.ad_in_force_load_option``)."""
    from sqlalchemy.orm import query_expression

    from kmp.auth import User

    User.kmp_ad_in_force = query_expression()


_ad_in_force_on_user()
