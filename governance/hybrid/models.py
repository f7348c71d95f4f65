"""Tables of the hybrid meeting: tellers, paper ballot entries, third-teller decisions, merges.

Paper ballots stay secret: a member who asks for a paper ballot at the hall gets a
``ballot_participations`` row (``channel = 'paper'``; who voted, not how) and an *unnumbered*
sheet of their group's colour. The tellers number the sheets only when they take them out of
the box (``serial``), so no entry below can be traced to a member: an entry holds the sheet's
number, the group printed on it, the option marked and the teller who read it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc


class MeetingTeller(db.Model):
    """A login assigned as teller (penghitung suara) of one meeting."""

    __tablename__ = "meeting_tellers"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user = relationship("User", foreign_keys=[user_id])


class PaperBallotEntry(db.Model):
    """One teller's reading of one paper sheet. Two tellers enter every sheet independently."""

    __tablename__ = "paper_ballot_entries"
    __table_args__ = (
        UniqueConstraint("proposal_id", "serial", "teller_id"),
        Index("ix_paper_ballot_entries_sheet", "proposal_id", "serial"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    serial: Mapped[int] = mapped_column(Integer)
    group_code: Mapped[str] = mapped_column(String(20))
    option: Mapped[str] = mapped_column(String(60))
    teller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class PaperBallotDecision(db.Model):
    """A third teller's reading of a sheet the first two read differently."""

    __tablename__ = "paper_ballot_decisions"
    __table_args__ = (UniqueConstraint("proposal_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    serial: Mapped[int] = mapped_column(Integer)
    group_code: Mapped[str] = mapped_column(String(20))
    option: Mapped[str] = mapped_column(String(60))
    teller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class PaperBallotMerge(db.Model):
    """The paper count of a ballot added to its tally (once)."""

    __tablename__ = "paper_ballot_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    sheets: Mapped[int] = mapped_column(Integer)
    merged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
