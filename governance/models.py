"""Governance tables: meetings, attendance, minutes, proposals, census, ballots, resolutions.

Secret-ballot storage (issue 6, "no link from a receipt or a secret choice to a member")
---------------------------------------------------------------------------------------
Who voted and how they voted live in two tables that share no key:

* ``ballot_participations`` (proposal, member, group, cast_at): one row per voter per proposal;
  ``UNIQUE (proposal_id, member_id)`` is the database's guard of "one vote per member", and a
  composite foreign key to ``ballot_census`` makes it impossible to record a participation of
  someone outside the frozen census.
* ``ballot_choices`` (random UUID, proposal, group, option, receipt_code, change_hash): no member
  id, no timestamp, no autoincrement. The primary key is a random UUID and on SQLite the table
  is ``WITHOUT ROWID`` (no hidden insertion counter); its rows are re-written in random order
  with fresh ids when the ballot closes, and the change hashes are erased then.

Changing a vote (``allow_change``) needs to find the voter's previous choice without storing a
link. The voter's *change token* is ``HMAC(secret, "ballot-change:<proposal>:<member>")``; the
choice row stores ``SHA-256(token)``. Reading the database without the server secret does not
tell whose row it is.

Trust assumption, stated honestly: the board, the pengawas and anyone using the app cannot link
a choice or a receipt to a member. The server operator who holds ``SECRET_KEY`` (or
``KMP_BALLOT_SECRET``) *and* the database can, while the ballot is open, recompute a member's
change token and find their row (only on ballots that allow changing a vote); a database
superuser can also correlate rows of the same transaction (PostgreSQL ``xmin``) or the WAL and
backups taken while the ballot was open. The re-write at close removes the change hashes and
the transaction/physical order from the live tables, not from old backups or WAL.

Open (roll-call) ballots are public by design: ``open_ballot_votes`` stores the member with the
choice.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.i18n import as_text
from kmp.timeutil import now_utc


class MeetingKind(enum.StrEnum):
    RAT = "rat"
    RALB = "ralb"
    RA_KELOMPOK = "ra_kelompok"
    RA_PARIPURNA = "ra_paripurna"

    @property
    def label(self) -> str:
        return as_text(MEETING_KIND_LABELS[self])


MEETING_KIND_LABELS = {
    MeetingKind.RAT: _l("Rapat Anggota Tahunan (RAT)"),
    MeetingKind.RALB: _l("Rapat Anggota Luar Biasa (RALB)"),
    MeetingKind.RA_KELOMPOK: _l("RA Kelompok"),
    MeetingKind.RA_PARIPURNA: _l("RA Paripurna"),
}


class MeetingMode(enum.StrEnum):
    ONLINE = "online"
    IN_PERSON = "in_person"
    HYBRID = "hybrid"

    @property
    def label(self) -> str:
        labels = {"online": _l("Daring"), "in_person": _l("Tatap muka"), "hybrid": _l("Hibrida")}
        return as_text(labels[self.value])


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return as_text(
            {
                "planned": _l("Direncanakan"),
                "held": _l("Sudah diadakan"),
                "cancelled": _l("Dibatalkan"),
            }[self.value]
        )


class AttendanceHow(enum.StrEnum):
    ONLINE = "online"
    CHECKIN = "checkin"


class ProposalKind(enum.StrEnum):
    ORDINARY = "ordinary"
    AD_AMENDMENT = "ad_amendment"
    MERGER_DISSOLUTION = "merger_dissolution"
    SHU_ALLOCATION = "shu_allocation"
    ELECTION = "election"

    @property
    def label(self) -> str:
        return as_text(PROPOSAL_KIND_LABELS[self])

    @property
    def is_special(self) -> bool:
        """Needs the AD's special threshold (2/3 by default)."""
        return self in (ProposalKind.AD_AMENDMENT, ProposalKind.MERGER_DISSOLUTION)


PROPOSAL_KIND_LABELS = {
    ProposalKind.ORDINARY: _l("Keputusan biasa"),
    ProposalKind.AD_AMENDMENT: _l("Perubahan Anggaran Dasar"),
    ProposalKind.MERGER_DISSOLUTION: _l("Penggabungan / pembubaran"),
    ProposalKind.SHU_ALLOCATION: _l("Pembagian SHU"),
    ProposalKind.ELECTION: _l("Pemilihan pengurus/pengawas"),
}


class ProposalStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return as_text(
            {
                "draft": _l("Draf"),
                "open": _l("Dibuka"),
                "closed": _l("Ditutup"),
                "cancelled": _l("Dibatalkan"),
            }[self.value]
        )


class Office(enum.StrEnum):
    PENGURUS = "pengurus"
    PENGAWAS = "pengawas"


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return as_text(_l("Diterima") if self is Outcome.PASSED else _l("Tidak diterima"))


class NominationStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"


def _uuid_hex() -> str:
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- meetings


class Meeting(db.Model):
    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint("kind <> 'rat' OR fiscal_year IS NOT NULL", name="rat_has_fiscal_year"),
        CheckConstraint(
            "kind <> 'ra_kelompok' OR group_code IS NOT NULL", name="kelompok_has_group"
        ),
        CheckConstraint("mode = 'online' OR location IS NOT NULL", name="in_person_has_location"),
        Index("ix_meetings_starts", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(StrEnumType(MeetingKind, 16))
    title: Mapped[str] = mapped_column(String(200))
    agenda: Mapped[str] = mapped_column(Text, default="")
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    group_code: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    mode: Mapped[MeetingMode] = mapped_column(StrEnumType(MeetingMode, 12))
    location: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    notice_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notice_period_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[MeetingStatus] = mapped_column(
        StrEnumType(MeetingStatus, 12), default=MeetingStatus.PLANNED
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    proposals: Mapped[list[Proposal]] = relationship(
        back_populates="meeting", order_by="Proposal.id"
    )
    minutes: Mapped[Minutes | None] = relationship(back_populates="meeting", uselist=False)

    @property
    def notice_late(self) -> bool:
        """Was the notice sent less than the AD's notice period before the meeting?"""
        if self.notice_sent_at is None or self.notice_period_days is None:
            return False
        return self.starts_at - self.notice_sent_at < dt.timedelta(days=self.notice_period_days)


class Attendance(db.Model):
    __tablename__ = "meeting_attendances"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    how: Mapped[AttendanceHow] = mapped_column(StrEnumType(AttendanceHow, 10))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    member = relationship("Member")


MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")


class Minutes(db.Model):
    """The notulen of a meeting; members see it once published."""

    __tablename__ = "meeting_minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), unique=True)
    text: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    meeting: Mapped[Meeting] = relationship(back_populates="minutes")
    attachments: Mapped[list[MinutesAttachment]] = relationship(
        back_populates="minutes", order_by="MinutesAttachment.id"
    )


class MinutesAttachment(db.Model):
    __tablename__ = "minutes_attachments"
    __table_args__ = (
        CheckConstraint(
            f"size_bytes > 0 AND size_bytes <= {MAX_ATTACHMENT_BYTES}", name="size_limit"
        ),
        CheckConstraint(
            "content_type IN (" + ", ".join(f"'{t}'" for t in ATTACHMENT_TYPES) + ")",
            name="allowed_type",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("meeting_minutes.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    minutes: Mapped[Minutes] = relationship(back_populates="attachments")


# --------------------------------------------------------------------------- proposals


class Proposal(db.Model):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window_order"),
        CheckConstraint(
            "kind <> 'election' OR (seats IS NOT NULL AND seats > 0 AND office IS NOT NULL "
            "AND term_start IS NOT NULL AND term_end IS NOT NULL)",
            name="election_fields",
        ),
        CheckConstraint(
            "nominations_close_at IS NULL OR nominations_close_at <= opens_at",
            name="nominations_before_voting",
        ),
        CheckConstraint(
            "status NOT IN ('open', 'closed') OR census_fingerprint IS NOT NULL",
            name="opened_has_census",
        ),
        Index("ix_proposals_status_opens", "status", "opens_at"),
        Index("ix_proposals_status_closes", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)
    kind: Mapped[ProposalKind] = mapped_column(StrEnumType(ProposalKind, 20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    #: ``[{"key": "yes", "label": "Setuju"}, ...]``; candidates: ``{"key": member_no,
    #: "label": name, "group": code}``. The abstain option has key ``"abstain"``.
    options: Mapped[list] = mapped_column(JSON, default=list)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    secret: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_change: Mapped[bool] = mapped_column(Boolean, default=False)
    reference: Mapped[str | None] = mapped_column(String(80), index=True)
    status: Mapped[ProposalStatus] = mapped_column(
        StrEnumType(ProposalStatus, 12), default=ProposalStatus.DRAFT
    )
    # Elections
    seats: Mapped[int | None] = mapped_column(Integer)
    office: Mapped[Office | None] = mapped_column(StrEnumType(Office, 12))
    term_start: Mapped[dt.date | None] = mapped_column(Date)
    term_end: Mapped[dt.date | None] = mapped_column(Date)
    nominations_open_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    nominations_close_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Snapshot of the AD taken when the ballot opens
    ad_version_id: Mapped[int | None] = mapped_column(ForeignKey("ad_versions.id"))
    quorum_num: Mapped[int | None] = mapped_column(Integer)
    quorum_den: Mapped[int | None] = mapped_column(Integer)
    quorum_inclusive: Mapped[bool | None] = mapped_column(Boolean)
    require_group_quorum: Mapped[bool | None] = mapped_column(Boolean)
    threshold_num: Mapped[int | None] = mapped_column(Integer)
    threshold_den: Mapped[int | None] = mapped_column(Integer)
    threshold_inclusive: Mapped[bool | None] = mapped_column(Boolean)
    group_weights: Mapped[dict | None] = mapped_column(JSON)  # {code: weight_bp}
    reserved_seats: Mapped[dict | None] = mapped_column(JSON)  # {code: seats}
    # Census
    census_fingerprint: Mapped[str | None] = mapped_column(String(64))
    census_size: Mapped[int | None] = mapped_column(Integer)
    # Lifecycle
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the reminder to members who had not voted was queued (``governance.notices``).
    reminder_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str | None] = mapped_column(Text)

    meeting: Mapped[Meeting | None] = relationship(back_populates="proposals")
    resolution: Mapped[Resolution | None] = relationship(back_populates="proposal", uselist=False)
    nominations: Mapped[list[Nomination]] = relationship(
        back_populates="proposal", order_by="Nomination.id"
    )

    @property
    def is_election(self) -> bool:
        return self.kind is ProposalKind.ELECTION

    def option_label(self, key: str) -> str:
        for option in self.options or ():
            if option["key"] == key:
                return option["label"]
        return key

    @property
    def option_keys(self) -> list[str]:
        return [o["key"] for o in self.options or ()]

    def is_open_at(self, instant: dt.datetime) -> bool:
        return self.status is ProposalStatus.OPEN and self.opens_at <= instant < self.closes_at


class Nomination(db.Model):
    __tablename__ = "nominations"
    __table_args__ = (UniqueConstraint("proposal_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    group_code: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str | None] = mapped_column(Text)
    status: Mapped[NominationStatus] = mapped_column(
        StrEnumType(NominationStatus, 12), default=NominationStatus.ACCEPTED
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    nominated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    proposal: Mapped[Proposal] = relationship(back_populates="nominations")
    member = relationship("Member")


class CensusEntry(db.Model):
    """One eligible voter of a proposal, frozen when the ballot opened."""

    __tablename__ = "ballot_census"
    __table_args__ = (
        UniqueConstraint("proposal_id", "member_id"),
        Index("ix_ballot_census_group", "proposal_id", "group_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    member_no: Mapped[str] = mapped_column(String(40))
    group_code: Mapped[str] = mapped_column(String(20))


class CensusExclusion(db.Model):
    """An active member left out of the census, and why (shown to them and to the pengawas)."""

    __tablename__ = "census_exclusions"
    __table_args__ = (UniqueConstraint("proposal_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    group_code: Mapped[str] = mapped_column(String(20))
    #: arrears | group_no_vote | joined_after | pokok_unpaid (``members.census.services``)
    reason: Mapped[str] = mapped_column(String(20))
    arrears_months: Mapped[int | None] = mapped_column(Integer)
    #: For ``pokok_unpaid``: the principal balance and the AD pokok when the ballot opened.
    pokok_paid_idr: Mapped[int | None] = mapped_column(Rupiah)
    pokok_required_idr: Mapped[int | None] = mapped_column(Rupiah)


class BallotParticipation(db.Model):
    """Who voted (not how). The unique constraint is the final guard of one vote per member."""

    __tablename__ = "ballot_participations"
    __table_args__ = (
        UniqueConstraint("proposal_id", "member_id"),
        ForeignKeyConstraint(
            ["proposal_id", "member_id"],
            ["ballot_census.proposal_id", "ballot_census.member_id"],
        ),
        CheckConstraint("change_count >= 0", name="change_count_not_negative"),
        CheckConstraint("channel IN ('online', 'paper')", name="known_channel"),
        Index("ix_ballot_participations_group", "proposal_id", "group_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    group_code: Mapped[str] = mapped_column(String(20))
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    change_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The login that cast it: the member's own, a platform company's representative, or
    #: the teller who handed out a paper ballot.
    cast_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: ``online`` or ``paper`` (a paper ballot handed out at the hall). With the unique key
    #: above, a member who voted online cannot get a paper ballot and the reverse.
    channel: Mapped[str] = mapped_column(String(10), default="online", server_default="online")


class BallotChoice(db.Model):
    """A secret choice: no member, no time, no insertion order (see the module docstring)."""

    __tablename__ = "ballot_choices"
    __table_args__ = (
        UniqueConstraint("receipt_code"),
        UniqueConstraint("proposal_id", "change_hash"),
        Index("ix_ballot_choices_tally", "proposal_id", "group_code", "option"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_uuid_hex)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    group_code: Mapped[str] = mapped_column(String(20))
    option: Mapped[str] = mapped_column(String(60))
    receipt_code: Mapped[str] = mapped_column(String(20))
    change_hash: Mapped[str | None] = mapped_column(String(64))


class OpenBallotVote(db.Model):
    """A roll-call (open) vote: the member and the choice together, public by design."""

    __tablename__ = "open_ballot_votes"
    __table_args__ = (
        UniqueConstraint("proposal_id", "member_id"),
        ForeignKeyConstraint(
            ["proposal_id", "member_id"],
            ["ballot_participations.proposal_id", "ballot_participations.member_id"],
        ),
        Index("ix_open_ballot_votes_tally", "proposal_id", "group_code", "option"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    group_code: Mapped[str] = mapped_column(String(20))
    option: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    member = relationship("Member")


class Resolution(db.Model):
    """The decision (keputusan) of a closed proposal with the tally it was based on."""

    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    outcome: Mapped[Outcome] = mapped_column(StrEnumType(Outcome, 8))
    tally: Mapped[dict] = mapped_column(JSON)
    adopted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    proposal: Mapped[Proposal] = relationship(back_populates="resolution")


# --------------------------------------------------------------------------- outbox, audit


class GovernanceEvent(db.Model):
    """The audit trail of governance acts (never a vote's content)."""

    __tablename__ = "governance_events"
    __table_args__ = (Index("ix_governance_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    by_user = relationship("User")
