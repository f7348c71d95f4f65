"""Payment intents, their gateway attempts, the raw notification inbox and the fake's store.

* ``PaymentIntent``: what a member owes or wants to pay (one purpose, one amount) and the
  ledger lines the money is credited to once it arrives. Feature-free: ``member_id`` is a
  plain integer (no FK to ``members``) and ``purpose`` is a free string (pokok, wajib, ...).
* ``PaymentAttempt``: one gateway transaction (a fresh Midtrans ``order_id``) for an intent.
  Its ``state`` only moves up the ranks of ``kmp.payments.gateway.PaymentState``.
* ``GatewayInbox``: every verified notification body, verbatim, keyed by its SHA-256.
* ``FakeGatewayOrder``: the ``FakeGateway`` store, in the database so every web worker and the
  SIMULASI page see the same simulated orders.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.audit import audit_money_table
from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.payments.gateway import PaymentState
from kmp.timeutil import now_utc


class IntentStatus(enum.StrEnum):
    OPEN = "open"  # waiting for money (attempts may come and go)
    PAID = "paid"  # an attempt settled and was announced with ``payment_settled``
    CLOSED = "closed"  # withdrawn (e.g. paid in cash instead); late money is flagged


class PaymentIntent(db.Model):
    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive_amount"),
        Index("ix_payment_intents_member", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``members.id`` (no FK: the core stays feature-free).
    member_id: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(200))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    #: ``[[account_code, amount_idr], ...]``: positive amounts summing to ``amount_idr``.
    credit_lines: Mapped[list] = mapped_column(JSON)
    #: Free data for the feature that created the intent (``months``, ``finish_url``, ...).
    #: (``metadata`` is reserved by SQLAlchemy's declarative classes, hence ``meta``.)
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[IntentStatus] = mapped_column(
        StrEnumType(IntentStatus, 16), default=IntentStatus.OPEN
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(Text)

    attempts: Mapped[list[PaymentAttempt]] = relationship(
        back_populates="intent", order_by="PaymentAttempt.id"
    )
    created_by = relationship("User")

    @property
    def credit_pairs(self) -> list[tuple[str, int]]:
        return [(str(code), int(amount)) for code, amount in self.credit_lines]


class PaymentAttempt(db.Model):
    __tablename__ = "payment_attempts"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive_amount"),
        Index("ix_payment_attempts_state", "state", "created_at"),
        Index("ix_payment_attempts_flagged", "flagged_for_review", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    order_id: Mapped[str] = mapped_column(String(50), unique=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    state: Mapped[PaymentState] = mapped_column(
        StrEnumType(PaymentState, 24), default=PaymentState.CREATED
    )
    snap_token: Mapped[str | None] = mapped_column(String(200))
    redirect_url: Mapped[str | None] = mapped_column(String(500))
    transaction_id: Mapped[str | None] = mapped_column(String(100), index=True)
    payment_type: Mapped[str | None] = mapped_column(String(40))
    #: The last status body we applied (raw, as Midtrans sent it).
    last_status: Mapped[dict | None] = mapped_column(JSON)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: True when this attempt's money was announced with ``payment_settled`` (the intent's
    #: settling attempt); a reversal of it then sends ``payment_reversed``.
    is_counted: Mapped[bool] = mapped_column(Boolean, default=False)
    receipt_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    reversal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    flagged_for_review: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    intent: Mapped[PaymentIntent] = relationship(back_populates="attempts")
    reviewed_by = relationship("User")

    @property
    def needs_review(self) -> bool:
        return self.flagged_for_review and self.reviewed_at is None


class GatewayInbox(db.Model):
    """A verified notification body exactly as received; each distinct body is kept once."""

    __tablename__ = "gateway_inbox"
    __table_args__ = (Index("ix_gateway_inbox_pending", "processed_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), default="midtrans")
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str | None] = mapped_column(String(100), index=True)
    transaction_id: Mapped[str | None] = mapped_column(String(100))
    transaction_status: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: ``applied:PAID``, ``ignored``, ``unknown_order``, ``status_unavailable``, ``error``, ...
    outcome: Mapped[str | None] = mapped_column(String(200))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("payment_attempts.id"))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_note: Mapped[str | None] = mapped_column(Text)

    attempt: Mapped[PaymentAttempt | None] = relationship()
    reviewed_by = relationship("User")

    @property
    def needs_review(self) -> bool:
        return self.flagged and self.reviewed_at is None


class FakeGatewayOrder(db.Model):
    """One key of the ``FakeGateway`` store (order ids and ``txn:<id>`` aliases)."""

    __tablename__ = "fake_gateway_orders"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)


# PostgreSQL records every write to the payment tables in the audit trail (kmp.audit).
audit_money_table(PaymentIntent.__table__)
audit_money_table(PaymentAttempt.__table__)
