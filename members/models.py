"""Membership tables: AD versions, members, staff logins, numbers, receipts, exits, officers."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.states import MemberStatus


class MemberKind(enum.StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"


class SavingsPurpose(enum.StrEnum):
    POKOK = "pokok"
    WAJIB = "wajib"
    SUKARELA = "sukarela"


class PaymentMethod(enum.StrEnum):
    CASH = "cash"
    BANK = "bank"


class ExitKind(enum.StrEnum):
    EXIT = "exit"  # keluar atas permintaan sendiri / pengurus
    DEATH = "death"  # meninggal dunia: dibayarkan kepada ahli waris
    APPLICATION = "application"  # pendaftaran ditolak/dibatalkan: simpanan pokok dikembalikan


class ExitStatus(enum.StrEnum):
    REQUESTED = "requested"
    PAYABLE = "payable"  # approved: refund computed and posted as a payable
    PAID = "paid"
    CANCELLED = "cancelled"


class OfficerBody(enum.StrEnum):
    PENGURUS = "pengurus"
    PENGAWAS = "pengawas"


class OfficerFunction(enum.StrEnum):
    KETUA = "ketua"
    SEKRETARIS = "sekretaris"
    BENDAHARA = "bendahara"
    ANGGOTA_PENGURUS = "anggota_pengurus"
    PENGAWAS = "pengawas"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


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


class MemberNumberCounter(db.Model):
    """The last sequence number handed out per (prefix, year); bumped atomically, never reset."""

    __tablename__ = "member_number_counters"
    __table_args__ = (CheckConstraint("last_value >= 0", name="not_negative"),)

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("platform", "platform_worker_id"),
        CheckConstraint("kind = 'company' OR nik IS NOT NULL", name="individual_has_nik"),
        CheckConstraint(
            "kind = 'individual' OR (company_name IS NOT NULL AND nib IS NOT NULL)",
            name="company_has_registration",
        ),
        CheckConstraint(
            "status NOT IN ('active', 'exit_requested', 'deceased', 'exited') "
            "OR member_no IS NOT NULL",
            name="numbered_when_admitted",
        ),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejection_has_reason"
        ),
        Index("ix_members_group_status", "group_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    group_code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[MemberKind] = mapped_column(StrEnumType(MemberKind, 12))
    status: Mapped[MemberStatus] = mapped_column(StrEnumType(MemberStatus, 16), index=True)
    full_name: Mapped[str] = mapped_column(String(200), index=True)
    nik: Mapped[str | None] = mapped_column(String(16), unique=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str | None] = mapped_column(String(40))
    platform_worker_id: Mapped[str | None] = mapped_column(String(60))
    company_name: Mapped[str | None] = mapped_column(String(200))
    nib: Mapped[str | None] = mapped_column(String(13), unique=True)
    npwp: Mapped[str | None] = mapped_column(String(16))
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_nik: Mapped[str | None] = mapped_column(String(16))
    is_extraordinary: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consent_version: Mapped[str | None] = mapped_column(String(20))
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    joined_date: Mapped[dt.date | None] = mapped_column(Date)
    exited_date: Mapped[dt.date | None] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    ad_version_id: Mapped[int | None] = mapped_column(ForeignKey("ad_versions.id"))
    is_imported: Mapped[bool] = mapped_column(default=False)

    user = relationship("User", foreign_keys=[user_id])
    staff: Mapped[list[MemberStaff]] = relationship(
        back_populates="member", cascade="all, delete-orphan", order_by="MemberStaff.id"
    )

    @property
    def display_name(self) -> str:
        return self.company_name or self.full_name

    @property
    def is_company(self) -> bool:
        return self.kind == MemberKind.COMPANY


class MemberStaff(db.Model):
    """A staff login of a platform company (the representative is one of them)."""

    __tablename__ = "member_staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    title: Mapped[str | None] = mapped_column(String(100))
    is_representative: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    member: Mapped[Member] = relationship(back_populates="staff")
    user = relationship("User")


class MemberEvent(db.Model):
    """The member's history (buku daftar anggota): every status change and notable act."""

    __tablename__ = "member_events"
    __table_args__ = (Index("ix_member_events_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    by_user = relationship("User")


class Receipt(db.Model):
    """A numbered receipt (kwitansi) for money the bendahara took in cash or by transfer."""

    __tablename__ = "receipts"
    __table_args__ = (CheckConstraint("amount_idr > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    request_token: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    purpose: Mapped[SavingsPurpose] = mapped_column(StrEnumType(SavingsPurpose, 12))
    method: Mapped[PaymentMethod] = mapped_column(StrEnumType(PaymentMethod, 8))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    reference: Mapped[str | None] = mapped_column(String(120))
    received_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))

    member: Mapped[Member] = relationship()
    recorded_by = relationship("User")


class ExitCase(db.Model):
    """Leaving the cooperative (or a refused application): the refund, its payable, its payment."""

    __tablename__ = "exit_cases"
    __table_args__ = (
        CheckConstraint(
            "refund_idr >= 0 AND pokok_idr >= 0 AND wajib_idr >= 0 AND arrears_idr >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint("kind <> 'death' OR heir_name IS NOT NULL", name="death_has_heir"),
        Index("ix_exit_cases_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[ExitKind] = mapped_column(StrEnumType(ExitKind, 12))
    status: Mapped[ExitStatus] = mapped_column(StrEnumType(ExitStatus, 12))
    reason: Mapped[str | None] = mapped_column(Text)
    heir_name: Mapped[str | None] = mapped_column(String(200))
    heir_relationship: Mapped[str | None] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pokok_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    wajib_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    arrears_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    refund_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    payable_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    payment_method: Mapped[PaymentMethod | None] = mapped_column(StrEnumType(PaymentMethod, 8))
    payment_reference: Mapped[str | None] = mapped_column(String(120))
    payment_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    ad_version_id: Mapped[int | None] = mapped_column(ForeignKey("ad_versions.id"))

    member: Mapped[Member] = relationship()


class NikCorrection(db.Model):
    """A member asks the board to correct their NIK (members cannot edit it themselves)."""

    __tablename__ = "nik_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    new_nik: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[RequestStatus] = mapped_column(StrEnumType(RequestStatus, 12))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)

    member: Mapped[Member] = relationship()


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

    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    user = relationship("User", foreign_keys=[user_id])

    @property
    def holder_name(self) -> str:
        if self.member is not None:
            return self.member.full_name
        return self.user.full_name if self.user is not None else "–"


class Certificate(db.Model):
    """A competence certificate (LSP/BNSP) of an officer or candidate."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("member_id IS NOT NULL OR user_id IS NOT NULL", name="has_holder"),
        CheckConstraint("expires_on > issued_on", name="expiry_after_issue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(200))
    lsp_bnsp_number: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_type: Mapped[str | None] = mapped_column(String(60))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# =========================================================================== savings (issue 5)


class WajibObligation(db.Model):
    """One member's simpanan wajib bill for one month (``period`` = the month's first day).

    Created set-based by ``members.billing.bill_wajib`` (one per member and month: the unique
    constraint makes a second run a no-op). Open while ``paid_idr < amount_idr``; payments
    settle the oldest open obligations first (``settle_obligations``). Arrears = open ones.
    """

    __tablename__ = "wajib_obligations"
    __table_args__ = (
        UniqueConstraint("member_id", "period", name="one_per_month"),
        CheckConstraint("amount_idr > 0", name="positive"),
        CheckConstraint("paid_idr >= 0 AND paid_idr <= amount_idr", name="paid_in_range"),
        CheckConstraint(
            "(is_open AND paid_idr < amount_idr) OR (NOT is_open AND paid_idr = amount_idr)",
            name="open_flag_consistent",
        ),
        Index("ix_wajib_obligations_open", "member_id", "is_open", "period"),
        Index("ix_wajib_obligations_period", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    period: Mapped[dt.date] = mapped_column(Date)
    group_code: Mapped[str] = mapped_column(String(20))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    paid_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    #: Denormalised ``paid_idr < amount_idr`` so "open obligations of a member" is one index range.
    is_open: Mapped[bool] = mapped_column(default=True)
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    ad_version_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    member: Mapped[Member] = relationship()

    @property
    def remaining_idr(self) -> int:
        return self.amount_idr - self.paid_idr


class ObligationPayment(db.Model):
    """Money applied to an obligation by ``settle_obligations`` (``source`` names who paid:
    ``payment:<intent id>``, ``receipt:<number>``, ``remittance:<id>``...). Undone by
    ``unsettle_obligations(source)`` (``reversed_at`` set), never deleted."""

    __tablename__ = "wajib_obligation_payments"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive"),
        Index("ix_wajib_obligation_payments_source", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("wajib_obligations.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    obligation: Mapped[WajibObligation] = relationship()


class ReceiptVoid(db.Model):
    """A cash receipt cancelled by a reversal entry, by a second board member, with a reason."""

    __tablename__ = "receipt_voids"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    reversal_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    voided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    receipt: Mapped[Receipt] = relationship(backref=backref("void", uselist=False))
    voided_by = relationship("User")


class WithdrawalStatus(enum.StrEnum):
    REQUESTED = "requested"
    PAID = "paid"  # approved by the bendahara and paid out (cash / transfer)
    REJECTED = "rejected"


class SukarelaWithdrawal(db.Model):
    """A member's request to take out simpanan sukarela; maker-checker: the approver is never
    the requester. Approval posts ``sukarela +X / cash (or bank) -X``."""

    __tablename__ = "sukarela_withdrawals"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive"),
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="maker_checker"
        ),
        CheckConstraint(
            "status <> 'rejected' OR decision_reason IS NOT NULL", name="rejection_has_reason"
        ),
        CheckConstraint("status <> 'paid' OR entry_id IS NOT NULL", name="paid_has_entry"),
        Index("ix_sukarela_withdrawals_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    status: Mapped[WithdrawalStatus] = mapped_column(
        StrEnumType(WithdrawalStatus, 12), default=WithdrawalStatus.REQUESTED
    )
    note: Mapped[str | None] = mapped_column(String(200))
    request_token: Mapped[str] = mapped_column(String(64), unique=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    method: Mapped[PaymentMethod | None] = mapped_column(StrEnumType(PaymentMethod, 8))
    reference: Mapped[str | None] = mapped_column(String(120))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    member: Mapped[Member] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
