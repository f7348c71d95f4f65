"""A sent announcement: what was sent, to whom (a group or everyone), how many."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc


class Announcement(db.Model):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The preview's one-time token: a second submit of the same preview sends nothing more.
    token: Mapped[str] = mapped_column(String(40), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: The member group, or NULL for every active member.
    group_code: Mapped[str | None] = mapped_column(String(20))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def campaign(self) -> str:
        return f"announcement:{self.id}"
