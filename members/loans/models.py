"""Loan tables: the product table (versioned, approved by the pengurus), loans with their
guarantors and decisions, the instalment schedule behind the obligations, board actions
(restructuring, write-off) with maker-checker, and the loan-loss allowance (PPAP) per class.

Every instalment is two ``Obligation`` rows (``members.savings.models``) of the family
``pinjaman``: ``loan_interest`` (priority 20) and ``loan_principal`` (priority 30); late
penalties are ``loan_penalty`` (priority 10). Their ``ref`` is the loan's
``obligation_ref`` (``L<id>``; ``L<id>R<n>`` after the n-th restructuring), their period the
month of the due date, so the allocator pays penalty, then interest, then principal, oldest
instalment first, whatever the channel.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.loans.states import ActionKind, ActionStatus, LoanStatus, ProductStatus
from members.register.models import Member
from members.savings.models import Obligation

METHOD_CHECK = "method IN ('flat', 'annuity', 'declining')"
CLASS_CHECK = "collectibility IN ('lancar', 'dpk', 'kurang_lancar', 'diragukan', 'macet')"

# The aging job reads a loan's open instalments by their ``ref`` (one index range per loan).
Index("ix_obligations_ref_open", Obligation.ref, Obligation.is_open, Obligation.due_date)


class LoanProduct(db.Model):
    """One version of a loan product. A change is a new version (``code`` and ``version``);
    a version is offered once a pengurus other than its maker approves it, until a newer
    approved version of the same code replaces it. Rates in basis points a year
    (``1800`` = 18 % a year = 1,5 % a month)."""

    __tablename__ = "loan_products"
    __table_args__ = (
        UniqueConstraint("code", "version", name="one_version"),
        CheckConstraint(METHOD_CHECK, name="method_known"),
        CheckConstraint(
            "min_principal_idr > 0 AND max_principal_idr >= min_principal_idr",
            name="principal_range",
        ),
        CheckConstraint("min_months > 0 AND max_months >= min_months", name="tenor_range"),
        CheckConstraint("annual_rate_bp >= 0 AND annual_rate_bp <= 10000", name="rate_range"),
        CheckConstraint(
            "admin_fee_idr >= 0 AND provisi_bp >= 0 AND provisi_bp <= 1000", name="fees"
        ),
        CheckConstraint(
            "penalty_day_bp >= 0 AND penalty_cap_bp >= 0 AND penalty_cap_bp <= 10000",
            name="penalty",
        ),
        CheckConstraint("rebate_pct >= 0 AND rebate_pct <= 100", name="rebate_range"),
        CheckConstraint("guarantors >= 0 AND guarantors <= 3", name="guarantors_range"),
        CheckConstraint(
            "approved_by_id IS NULL OR approved_by_id <> created_by_id", name="maker_checker"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[ProductStatus] = mapped_column(
        StrEnumType(ProductStatus, 12), default=ProductStatus.DRAFT
    )
    min_principal_idr: Mapped[int] = mapped_column(Rupiah)
    max_principal_idr: Mapped[int] = mapped_column(Rupiah)
    min_months: Mapped[int] = mapped_column(Integer)
    max_months: Mapped[int] = mapped_column(Integer)
    annual_rate_bp: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(12))
    admin_fee_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    provisi_bp: Mapped[int] = mapped_column(Integer, default=0)
    #: Late penalty per day, basis points of what is overdue, capped per instalment at
    #: ``penalty_cap_bp`` of the instalment.
    penalty_day_bp: Mapped[int] = mapped_column(Integer, default=0)
    penalty_cap_bp: Mapped[int] = mapped_column(Integer, default=0)
    #: Maximum principal as a multiple of the member's own savings (0 = no limit).
    savings_multiple: Mapped[int] = mapped_column(Integer, default=0)
    min_active_months: Mapped[int] = mapped_column(Integer, default=0)
    #: Arrears (simpanan wajib, contributions) above this refuse an application.
    max_arrears_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    guarantors: Mapped[int] = mapped_column(Integer, default=0)
    #: Early payoff: share (%) of the interest not yet due that is waived.
    rebate_pct: Mapped[int] = mapped_column(Integer, default=100)
    #: Up to this principal one pengurus approves; above it two (the pengawas informed).
    single_approval_max_idr: Mapped[int] = mapped_column(Rupiah, default=5_000_000)
    #: AD option: interest paid counts as the member's patronage (jasa usaha) in the SHU.
    interest_is_patronage: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Loan(db.Model):
    """A member's loan from application to payoff. The state machine is in
    ``members.loans.states``; the constraints below refuse impossible rows."""

    __tablename__ = "loans"
    __table_args__ = (
        CheckConstraint("principal_idr > 0", name="positive"),
        CheckConstraint("months > 0", name="months_positive"),
        CheckConstraint(METHOD_CHECK, name="method_known"),
        CheckConstraint(CLASS_CHECK, name="class_known"),
        CheckConstraint("days_past_due >= 0", name="dpd_not_negative"),
        CheckConstraint(
            "status NOT IN ('active', 'paid', 'written_off') OR "
            "(disbursed_on IS NOT NULL AND disbursement_entry_id IS NOT NULL)",
            name="disbursed_when_active",
        ),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejection_has_reason"
        ),
        CheckConstraint(
            "disbursement_method IS NULL OR disbursement_method IN ('sukarela', 'cash', 'bank')",
            name="disbursement_method_known",
        ),
        UniqueConstraint("disbursement_entry_id", name="one_disbursement"),
        UniqueConstraint("obligation_ref", name="one_ref"),
        Index("ix_loans_status_class", "status", "collectibility"),
        Index("ix_loans_member", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("loan_products.id"))
    status: Mapped[LoanStatus] = mapped_column(
        StrEnumType(LoanStatus, 12), default=LoanStatus.APPLIED
    )
    principal_idr: Mapped[int] = mapped_column(Rupiah)
    months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(12))
    annual_rate_bp: Mapped[int] = mapped_column(Integer)
    admin_fee_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    provisi_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    purpose: Mapped[str] = mapped_column(String(300))
    group_code: Mapped[str | None] = mapped_column(String(20))
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    disbursement_method: Mapped[str | None] = mapped_column(String(12))
    disbursed_on: Mapped[dt.date | None] = mapped_column(Date)
    #: The disbursement's journal entry (its idempotency key is ``loan-disburse:<id>``); unique,
    #: so a loan is disbursed once.
    disbursement_entry_id: Mapped[int | None] = mapped_column(Integer)
    disbursed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The ``ref`` of the current schedule's obligations (``L<id>``, ``L<id>R<n>``).
    obligation_ref: Mapped[str | None] = mapped_column(String(40))
    restructures: Mapped[int] = mapped_column(Integer, default=0)
    auto_debit: Mapped[bool] = mapped_column(Boolean, default=False)
    days_past_due: Mapped[int] = mapped_column(Integer, default=0)
    collectibility: Mapped[str] = mapped_column(String(16), default="lancar")
    aged_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    recovered_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    member: Mapped[Member] = relationship()
    product: Mapped[LoanProduct] = relationship()


class LoanGuarantor(db.Model):
    __tablename__ = "loan_guarantors"
    __table_args__ = (UniqueConstraint("loan_id", "member_id", name="once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)


class LoanDecision(db.Model):
    """One officer's approval or rejection; an officer decides a loan once."""

    __tablename__ = "loan_decisions"
    __table_args__ = (
        UniqueConstraint("loan_id", "user_id", name="once_per_officer"),
        CheckConstraint("decision IN ('approve', 'reject')", name="decision_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class LoanInstalment(db.Model):
    """One row of a schedule (``schedule_no`` 0 the original, n after the n-th
    restructuring) and the obligations that carry it."""

    __tablename__ = "loan_instalments"
    __table_args__ = (
        UniqueConstraint("loan_id", "schedule_no", "no", name="one_row"),
        CheckConstraint("principal_idr >= 0 AND interest_idr >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    schedule_no: Mapped[int] = mapped_column(Integer, default=0)
    no: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    principal_idr: Mapped[int] = mapped_column(Rupiah)
    interest_idr: Mapped[int] = mapped_column(Rupiah)
    balance_idr: Mapped[int] = mapped_column(Rupiah)
    principal_obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"))
    interest_obligation_id: Mapped[int | None] = mapped_column(ForeignKey("obligations.id"))


class LoanAction(db.Model):
    """A restructuring or write-off: asked by one board member, decided by another."""

    __tablename__ = "loan_actions"
    __table_args__ = (
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="maker_checker"
        ),
        CheckConstraint("kind <> 'restructure' OR months > 0", name="restructure_months"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    kind: Mapped[ActionKind] = mapped_column(StrEnumType(ActionKind, 12))
    status: Mapped[ActionStatus] = mapped_column(
        StrEnumType(ActionStatus, 12), default=ActionStatus.REQUESTED
    )
    reason: Mapped[str] = mapped_column(Text)
    months: Mapped[int | None] = mapped_column(Integer)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))

    loan: Mapped[Loan] = relationship()


class LoanAllowance(db.Model):
    """The PPAP required per collectibility class on an aging date, and the entry that
    brought the class's allowance account to it."""

    __tablename__ = "loan_allowances"
    __table_args__ = (
        UniqueConstraint("on_date", "collectibility", name="one_per_class"),
        CheckConstraint(CLASS_CHECK, name="class_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    on_date: Mapped[dt.date] = mapped_column(Date)
    collectibility: Mapped[str] = mapped_column(String(16))
    loans: Mapped[int] = mapped_column(Integer)
    outstanding_idr: Mapped[int] = mapped_column(Rupiah)
    rate_bp: Mapped[int] = mapped_column(Integer)
    required_idr: Mapped[int] = mapped_column(Rupiah)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
