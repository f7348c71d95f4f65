"""Receipts and their voids, wajib obligations and what settled them, sukarela withdrawals."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.models import Member, PaymentMethod, SavingsPurpose


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


class Obligation(db.Model):
    """One amount a member owes: a simpanan wajib month, and (registered by their
    sub-features) loan instalment parts and social-protection contributions.

    Every payment, whatever its channel, is applied to obligations by the allocator
    (``members.savings.allocator``): the checkout's own targets first, then the member's
    oldest open obligations of the same family (``due_date``, ``priority``, ``id``).
    Open while ``paid_idr < amount_idr``. ``account_code`` is where money applied to it is
    credited (NULL for simpanan wajib: the member's wajib account). ``ref`` tells apart
    obligations of one kind and period (a loan and instalment number); '' for wajib, so the
    unique key (member, kind, period, ref) makes a second billing run a no-op.
    """

    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("member_id", "kind", "period", "ref", name="one_per_kind_period"),
        CheckConstraint("amount_idr > 0 AND amount_idr <= 1000000000000000", name="positive"),
        CheckConstraint("paid_idr >= 0 AND paid_idr <= amount_idr", name="paid_in_range"),
        CheckConstraint(
            "(is_open AND paid_idr < amount_idr) OR "
            "(NOT is_open AND (paid_idr = amount_idr OR closed_reason IS NOT NULL))",
            name="open_flag_consistent",
        ),
        Index("ix_obligations_open", "member_id", "is_open", "due_date"),
        Index("ix_obligations_kind_period", "kind", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(30), default="wajib")
    #: The month it belongs to (its first day) — for wajib the billed month.
    period: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    ref: Mapped[str] = mapped_column(String(60), default="", server_default="")
    #: Order among obligations due the same day (loan penalty 10, interest 20, principal 30).
    priority: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    account_code: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(200))
    group_code: Mapped[str | None] = mapped_column(String(20))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    paid_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    #: Denormalised ``paid_idr < amount_idr`` so "open obligations of a member" is one index range.
    is_open: Mapped[bool] = mapped_column(default=True)
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    #: Closed without being paid in full (waived at exit, written off): why. Only then may a
    #: closed obligation have ``paid_idr < amount_idr``.
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    ad_version_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    member: Mapped[Member] = relationship()

    @property
    def remaining_idr(self) -> int:
        return self.amount_idr - self.paid_idr


class ObligationPayment(db.Model):
    """Money applied to an obligation by the allocator (``source`` names where it came from:
    ``payment:<order id>``, ``receipt:<number>``, ``remittance:<id>:<line>``, ``advance``,
    ``exit:<case id>``...). Undone by ``unallocate(source)`` (``reversed_at`` set), never
    deleted."""

    __tablename__ = "obligation_payments"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive"),
        Index("ix_obligation_payments_source", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("obligations.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    obligation: Mapped[Obligation] = relationship()


class MemberCredit(db.Model):
    """Advance credit: money a member paid for a family of obligations (simpanan wajib) that
    no open obligation could take. It is already booked in the family's account; the next
    bills take it automatically (``bill_wajib``). Append-only movements: the balance of a
    member is the sum of the live rows, never negative."""

    __tablename__ = "member_credits"
    __table_args__ = (
        CheckConstraint("amount_idr <> 0", name="non_zero"),
        Index("ix_member_credits_member", "member_id", "family"),
        Index("ix_member_credits_source", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    family: Mapped[str] = mapped_column(String(30))
    #: + money kept as credit, - credit applied to an obligation (``obligation_id``).
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    source: Mapped[str] = mapped_column(String(80))
    obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


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
    CANCELLED = "cancelled"  # withdrawn by the member before the bendahara decided


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
    #: The member's payout account when they asked (members.savings.payout_accounts), shown
    #: to the bendahara who pays it.
    destination: Mapped[str | None] = mapped_column(String(200))

    member: Mapped[Member] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
