"""Platform partner tables: API keys, worker links (consent), check-off remittances and
patronage batches (the stored result a replayed batch returns)."""

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
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.models import Member


class LineStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ApiKey(db.Model):
    """A partner company's API key. Only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space separated
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    company: Mapped[Member] = relationship()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WorkerLink(db.Model):
    """A worker's consent to link their membership to their account at a platform company.
    While ``withdrawn_at`` is empty the company may see the worker's member number, status and
    arrears, and remit check-off deductions for them."""

    __tablename__ = "worker_links"
    __table_args__ = (
        Index(
            "uq_worker_links_company_worker_active",
            "company_id",
            "platform_worker_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        Index(
            "uq_worker_links_company_member_active",
            "company_id",
            "member_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        CheckConstraint("member_id <> company_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    platform_worker_id: Mapped[str] = mapped_column(String(60))
    consent_text_version: Mapped[str] = mapped_column(String(20), default="1")
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship(foreign_keys=[member_id])
    company: Mapped[Member] = relationship(foreign_keys=[company_id])

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class Remittance(db.Model):
    """One check-off remittance of a partner company: posted as one ledger entry."""

    __tablename__ = "remittances"
    __table_args__ = (
        UniqueConstraint("company_id", "remittance_ref"),
        CheckConstraint("total_idr > 0", name="total_positive"),
        CheckConstraint("accepted_idr >= 0 AND rejected_idr >= 0", name="parts_non_negative"),
        CheckConstraint("accepted_idr + rejected_idr = total_idr", name="parts_sum_to_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    remittance_ref: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10))  # api | csv
    paid_on: Mapped[dt.date] = mapped_column(Date)
    total_idr: Mapped[int] = mapped_column(Rupiah)
    accepted_idr: Mapped[int] = mapped_column(Rupiah)
    rejected_idr: Mapped[int] = mapped_column(Rupiah)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    company: Mapped[Member] = relationship()
    lines: Mapped[list[RemittanceLine]] = relationship(
        back_populates="remittance", order_by="RemittanceLine.line_no"
    )


class RemittanceLine(db.Model):
    __tablename__ = "remittance_lines"
    __table_args__ = (
        UniqueConstraint("remittance_id", "line_no"),
        CheckConstraint("amount_idr > 0", name="amount_positive"),
        CheckConstraint("status = 'rejected' OR member_id IS NOT NULL", name="accepted_has_member"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    platform_worker_id: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[str] = mapped_column(String(12))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    status: Mapped[LineStatus] = mapped_column(StrEnumType(LineStatus, 10))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(300))

    remittance: Mapped[Remittance] = relationship(back_populates="lines")


class PatronageBatch(db.Model):
    """A partner's patronage request and the result it got: a replay returns ``result``."""

    __tablename__ = "patronage_batches"
    __table_args__ = (UniqueConstraint("company_id", "batch_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    batch_key: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict] = mapped_column(JSON)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class PartnerWebhook(db.Model):
    """Where a partner wants signed notifications (HMAC-SHA256 with ``secret``)."""

    __tablename__ = "partner_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(80))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class WebhookDelivery(db.Model):
    """One notification and its delivery attempts (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("partner_webhooks.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(StrEnumType(DeliveryStatus, 10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
