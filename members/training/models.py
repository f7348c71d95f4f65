"""Training programmes, enrolments and attendance, competence certificates (the ONE
certificate table, for members and officers alike), expiry warnings, education-fund payments."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.ledger.books.approval import ApprovalMixin, approval_constraints
from kmp.ledger.books.models import ReceiptFile
from kmp.timeutil import now_utc
from members.register.models import Member


class ProgrammeKind(enum.StrEnum):
    BLK = "blk"  # a course of a Balai Latihan Kerja (BLK / BLK Komunitas)
    BNSP = "bnsp"  # a BNSP competence scheme (SKKNI), ending in a certificate of an LSP
    OWN = "own"  # the cooperative's own course


class Payer(enum.StrEnum):
    MEMBER = "member"  # the participant pays the provider
    FUND = "fund"  # the cooperative's education fund (dana pendidikan)
    SPONSOR = "sponsor"  # a sponsor (ministry, platform company, ...)


class Programme(db.Model):
    """A course or competence scheme in the catalogue."""

    __tablename__ = "training_programmes"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("seats_taken >= 0 AND seats_taken <= seats", name="seats_within_limit"),
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint("cost_idr >= 0", name="cost_not_negative"),
        CheckConstraint("kind IN ('blk', 'bnsp', 'own')", name="kind_valid"),
        CheckConstraint("payer IN ('member', 'fund', 'sponsor')", name="payer_valid"),
        CheckConstraint("kind <> 'bnsp' OR skkni_ref IS NOT NULL", name="bnsp_has_skkni"),
        CheckConstraint("payer <> 'sponsor' OR sponsor IS NOT NULL", name="sponsor_named"),
        CheckConstraint("is_online OR place IS NOT NULL", name="place_or_online"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProgrammeKind] = mapped_column(StrEnumType(ProgrammeKind, 8))
    #: The SKKNI (Kepmenaker) reference of a BNSP scheme, e.g. "Kepmenaker 189/2019".
    skkni_ref: Mapped[str | None] = mapped_column(String(120))
    #: The certificate scheme the programme leads to (matches the AD's competence rule).
    scheme: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200))
    place: Mapped[str | None] = mapped_column(String(200))
    is_online: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    seats: Mapped[int] = mapped_column(Integer)
    #: Seats held by enrolments; changed only by conditional UPDATEs (services.py), and the
    #: CHECK above holds it within ``seats``: two enrolments cannot take the last seat twice.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    cost_idr: Mapped[int] = mapped_column(Rupiah, default=0)  # per participant
    payer: Mapped[Payer] = mapped_column(StrEnumType(Payer, 8))
    sponsor: Mapped[str | None] = mapped_column(String(200))
    #: Member group codes it is meant for (empty: every group) and offices (informative).
    target_groups: Mapped[list] = mapped_column(JSON, default=list)
    target_roles: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)  # enrolment open
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def seats_left(self) -> int:
        return max(self.seats - self.seats_taken, 0)

    @property
    def where(self) -> str:
        return self.place or "daring"


class EnrolmentStatus(enum.StrEnum):
    ENROLLED = "enrolled"  # holds a seat
    WAITLISTED = "waitlisted"  # waits for a seat (first come, first served)
    COMPLETED = "completed"  # finished (holds its seat)
    NOT_COMPLETED = "not_completed"  # did not finish (holds its seat)
    CANCELLED = "cancelled"  # withdrew or was removed (seat freed)


#: Statuses that hold one of the programme's seats.
SEATED = (EnrolmentStatus.ENROLLED, EnrolmentStatus.COMPLETED, EnrolmentStatus.NOT_COMPLETED)


class Enrolment(db.Model):
    __tablename__ = "training_enrolments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('enrolled', 'waitlisted', 'completed', 'not_completed', 'cancelled')",
            name="status_valid",
        ),
        CheckConstraint(
            "status NOT IN ('completed', 'not_completed') OR completed_at IS NOT NULL",
            name="completion_recorded",
        ),
        # One live enrolment per member and programme (a cancelled one may be followed by a new).
        Index(
            "uq_training_enrolments_live",
            "programme_id",
            "member_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
            sqlite_where=text("status <> 'cancelled'"),
        ),
        Index("ix_training_enrolments_queue", "programme_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("training_programmes.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(StrEnumType(EnrolmentStatus, 16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    seated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result_note: Mapped[str | None] = mapped_column(String(300))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    programme: Mapped[Programme] = relationship()
    member: Mapped[Member] = relationship()
    attendance: Mapped[list[TrainingAttendance]] = relationship(
        back_populates="enrolment", order_by="TrainingAttendance.day"
    )

    @property
    def holds_seat(self) -> bool:
        return EnrolmentStatus(self.status) in SEATED


class TrainingAttendance(db.Model):
    """The organiser's tick: the participant attended on ``day``."""

    __tablename__ = "training_attendance"
    __table_args__ = (UniqueConstraint("enrolment_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("training_enrolments.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    enrolment: Mapped[Enrolment] = relationship(lambda: Enrolment, back_populates="attendance")


class CertificateStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, waits for a pengurus to check it
    VERIFIED = "verified"  # checked by a pengurus other than the one who recorded it
    REJECTED = "rejected"


class Certificate(db.Model):
    """A competence or course certificate of a member or an officer's login. Only a verified
    certificate counts for the AD's competence rule (``members.training.competence``)."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("member_id IS NOT NULL OR user_id IS NOT NULL", name="has_holder"),
        CheckConstraint("expires_on IS NULL OR expires_on > issued_on", name="expiry_after_issue"),
        CheckConstraint("status IN ('pending', 'verified', 'rejected')", name="status_valid"),
        CheckConstraint(
            "(status = 'pending') = (decided_by_id IS NULL)", name="decision_has_decider"
        ),
        CheckConstraint(
            "decided_by_id IS NULL OR created_by_id IS NULL OR decided_by_id <> created_by_id",
            name="checker_is_not_recorder",
        ),
        # The same number of the same issuer is one certificate (a rejected one may be redone).
        Index(
            "uq_certificates_number",
            "issuer",
            "lsp_bnsp_number",
            unique=True,
            postgresql_where=text("status <> 'rejected'"),
            sqlite_where=text("status <> 'rejected'"),
        ),
        Index("ix_certificates_expiry", "status", "expires_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(200))
    skkni_ref: Mapped[str | None] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(200))  # the LSP (or BLK, or the cooperative)
    lsp_bnsp_number: Mapped[str] = mapped_column(String(100))  # the certificate number
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)  # None: does not expire
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("receipt_files.id"))
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_enrolments.id"), unique=True
    )
    status: Mapped[CertificateStatus] = mapped_column(
        StrEnumType(CertificateStatus, 10), default=CertificateStatus.PENDING
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(String(300))

    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    user = relationship("User", foreign_keys=[user_id])
    scan: Mapped[ReceiptFile | None] = relationship()
    enrolment: Mapped[Enrolment | None] = relationship(lambda: Enrolment)
    created_by = relationship("User", foreign_keys=[created_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    @property
    def holder_name(self) -> str:
        if self.member is not None:
            return self.member.display_name
        return self.user.full_name if self.user is not None else "–"

    @property
    def is_verified(self) -> bool:
        return CertificateStatus(self.status) is CertificateStatus.VERIFIED


class CertificateWarning(db.Model):
    """An expiry warning sent (``days`` = 90 or 30 before ``expires_on``): once per threshold."""

    __tablename__ = "certificate_warnings"
    __table_args__ = (UniqueConstraint("certificate_id", "days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    days: Mapped[int] = mapped_column(Integer)
    sent_on: Mapped[dt.date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class FundPayment(ApprovalMixin, db.Model):
    """Paying a course from the education fund: waits for a second board member, then posts
    Dr ``liability:shu-fund:pendidikan`` / Cr cash or bank."""

    __tablename__ = "training_fund_payments"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive_amount"),
        *approval_constraints(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("training_programmes.id"), index=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    money_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    counterparty: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(60))

    programme: Mapped[Programme] = relationship()
    money_account = relationship("Account")
    created_by = relationship("User", foreign_keys="FundPayment.created_by_id")
    decided_by = relationship("User", foreign_keys="FundPayment.decided_by_id")
