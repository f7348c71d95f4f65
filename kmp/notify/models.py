"""The outbox and what the notifier remembers about recipients and providers.

``notifications`` is the outbox: one row per message, written by features inside their own
transaction (``queue_notification`` / ``queue_bulk``, or an ``INSERT ... SELECT`` of their own,
as the wajib billing does), delivered by the ``notifications-deliver`` job. Columns added after
the first version all have a server default or are nullable, so such set-based inserts that name
only the original columns keep working.

``member_id`` and ``user_id`` are plain numbers: ``kmp`` knows no features. Preferences and
opt-outs are keyed by a login (``user_id``) or by an address (a phone number or e-mail of a
member without a login).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc

_ID = BigInteger().with_variant(Integer, "sqlite")


class Channel(enum.StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"


class NotificationStatus(enum.StrEnum):
    """queued -> sent -> delivered -> read; failed; skipped (the recipient opted out).

    The queued state is stored as ``pending`` (the value the first version wrote)."""

    PENDING = "pending"
    QUEUED = "pending"  # an alias: the board calls it "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"


#: Progress of a message; a status update never moves a message down this scale.
STATUS_RANK = {
    NotificationStatus.PENDING: 0,
    NotificationStatus.SENT: 1,
    NotificationStatus.DELIVERED: 2,
    NotificationStatus.READ: 3,
}


class Notification(db.Model):
    """One message in the outbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The delivery query: due messages in id order, urgent ones first.
        Index("ix_notifications_due", "status", "urgent", "id"),
        # Counts per campaign and status (the meeting page, the campaign page).
        Index("ix_notifications_campaign_status", "campaign", "status"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    #: The channel planned at queue time, then the one that carried the message.
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 10))
    #: The address as queued, then the address of the channel that carried the message.
    address: Mapped[str] = mapped_column(String(254), index=True)
    #: A second address for the fallback chain (the e-mail of a phone recipient or the reverse).
    alt_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    #: Named values for the WhatsApp template's parameters (``{"code": "123456"}``).
    params: Mapped[dict | None] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    #: What the message belongs to, for counts per campaign (``meeting:12``, ``ballot:7``).
    campaign: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[NotificationStatus] = mapped_column(
        StrEnumType(NotificationStatus, 10), default=NotificationStatus.PENDING
    )
    #: Sent during quiet hours too (security codes, receipts of the member's own payment).
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Attempts on the current channel (the backoff and the per-channel limit count these).
    channel_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: Channels that failed for good, comma-separated (the fallback chain skips them).
    channels_tried: Mapped[str] = mapped_column(String(60), default="", server_default="")
    #: Not before this instant (a retry's backoff, a provider's throttling); NULL: now.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: The address the provider was given (a fallback may use the other one).
    sent_to: Mapped[str | None] = mapped_column(String(254))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The last status change (queue time until the first one).
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def tried(self) -> list[str]:
        return [c for c in (self.channels_tried or "").split(",") if c]


class NotificationPreference(db.Model):
    """The channel a recipient wants messages on (none: WhatsApp, or e-mail when they have one)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint("user_id IS NOT NULL OR address IS NOT NULL", name="has_recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    address: Mapped[str | None] = mapped_column(String(254), unique=True)
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 10))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


#: ``NotificationOptOut.kind`` meaning every kind that is not essential.
ALL_KINDS = "*"


class NotificationOptOut(db.Model):
    """A recipient does not want one kind of message (or ``*``: every non-essential kind)."""

    __tablename__ = "notification_opt_outs"
    __table_args__ = (
        CheckConstraint("user_id IS NOT NULL OR address IS NOT NULL", name="has_recipient"),
        UniqueConstraint("user_id", "kind"),
        UniqueConstraint("address", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    address: Mapped[str | None] = mapped_column(String(254), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20), default="web")  # web, whatsapp, board
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class NotificationEvent(db.Model):
    """A status report from a provider (the WhatsApp webhook), kept once per message and status.

    The unique key makes a repeated webhook a no-op; ``payload`` is the provider's own status
    object, kept as received."""

    __tablename__ = "notification_events"
    __table_args__ = (UniqueConstraint("provider", "provider_message_id", "status"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(_ID, index=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[dict | None] = mapped_column(JSON)
