"""Officer terms (pengurus, pengawas). Their competence certificates are the one
``certificates`` table of ``members.training.models.Certificate``."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.models import Member


class OfficerBody(enum.StrEnum):
    PENGURUS = "pengurus"
    PENGAWAS = "pengawas"


class OfficerFunction(enum.StrEnum):
    KETUA = "ketua"
    SEKRETARIS = "sekretaris"
    BENDAHARA = "bendahara"
    ANGGOTA_PENGURUS = "anggota_pengurus"
    PENGAWAS = "pengawas"


#: Portable "term_end is at most 5 years after term_start" (ISO date strings compare in order;
#: PostgreSQL renders dates as ISO with the default DateStyle).
_TERM_LIMIT = (
    "CAST(term_end AS VARCHAR(10)) <= "
    "CAST(CAST(SUBSTR(CAST(term_start AS VARCHAR(10)), 1, 4) AS INTEGER) + 5 AS VARCHAR(4)) "
    "|| SUBSTR(CAST(term_start AS VARCHAR(10)), 5, 6)"
)


class Officer(db.Model):
    """A seat on the board (pengurus) or the supervisors (pengawas) for one term."""

    __tablename__ = "officers"
    __table_args__ = (
        CheckConstraint("member_id IS NOT NULL OR user_id IS NOT NULL", name="has_holder"),
        CheckConstraint("term_end > term_start", name="term_positive"),
        CheckConstraint(_TERM_LIMIT, name="term_max_5_years"),
        CheckConstraint(
            "(body = 'pengawas' AND function = 'pengawas') OR "
            "(body = 'pengurus' AND function <> 'pengawas')",
            name="function_matches_body",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[OfficerBody] = mapped_column(StrEnumType(OfficerBody, 12))
    function: Mapped[OfficerFunction] = mapped_column(StrEnumType(OfficerFunction, 20))
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the term's roles were given to / taken from the officer's login (each once:
    #: ``members.officers.services.sync_officer_roles``).
    roles_granted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    roles_removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    user = relationship("User", foreign_keys=[user_id])

    def is_live(self, on_date: dt.date) -> bool:
        return self.term_start <= on_date <= self.term_end and (
            self.ended_on is None or self.ended_on > on_date
        )

    def is_over(self, on_date: dt.date) -> bool:
        return self.term_end < on_date or (self.ended_on is not None and self.ended_on <= on_date)

    @property
    def holder_name(self) -> str:
        if self.member is not None:
            return self.member.full_name
        return self.user.full_name if self.user is not None else "–"
