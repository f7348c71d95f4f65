"""SHU distribution runs, their member lines and the transfers that pay them out."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
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
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.i18n import as_text
from kmp.timeutil import now_utc
from payouts.patronage import PatronageRecord  # noqa: F401 - one import registers both


class RunStatus(enum.StrEnum):
    DRAFT = "draft"
    COMPUTED = "computed"
    APPROVED = "approved"
    POSTED = "posted"
    PAID = "paid"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return as_text(RUN_STATUS_LABELS[self])


RUN_STATUS_LABELS = {
    RunStatus.DRAFT: _l("Draf"),
    RunStatus.COMPUTED: _l("Sudah dihitung"),
    RunStatus.APPROVED: _l("Disetujui anggota"),
    RunStatus.POSTED: _l("Sudah dibukukan"),
    RunStatus.PAID: _l("Sudah dibayar"),
    RunStatus.CANCELLED: _l("Dibatalkan"),
}

#: Allowed moves of the run's state machine.
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.DRAFT: frozenset({RunStatus.COMPUTED, RunStatus.CANCELLED}),
    RunStatus.COMPUTED: frozenset({RunStatus.COMPUTED, RunStatus.APPROVED, RunStatus.CANCELLED}),
    RunStatus.APPROVED: frozenset({RunStatus.POSTED}),
    RunStatus.POSTED: frozenset({RunStatus.PAID}),
    RunStatus.PAID: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


class PayoutMethod(enum.StrEnum):
    SUKARELA = "sukarela"
    TRANSFER = "transfer"
    CASH = "cash"

    @property
    def label(self) -> str:
        return as_text(
            {
                "sukarela": _l("Masuk simpanan sukarela"),
                "transfer": _l("Transfer bank / e-wallet"),
                "cash": _l("Tunai di kantor koperasi"),
            }[self.value]
        )


class LineStatus(enum.StrEnum):
    UNPAID = "unpaid"
    IN_TRANSIT = "in_transit"
    PAID = "paid"


class DistributionRun(db.Model):
    __tablename__ = "distribution_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'computed', 'approved', 'posted', 'paid', 'cancelled')",
            name="status_valid",
        ),
        CheckConstraint("shu_source IN ('ledger', 'closed', 'entered')", name="shu_source_valid"),
        CheckConstraint(
            "shu_source <> 'entered' OR (shu_reason IS NOT NULL AND shu_reason <> '')",
            name="entered_shu_has_reason",
        ),
        CheckConstraint(
            "status NOT IN ('approved', 'posted', 'paid') OR resolution_id IS NOT NULL",
            name="approved_has_resolution",
        ),
        # At most one live (non-cancelled) run per fiscal year.
        Index(
            "uq_distribution_runs_live_year",
            "fiscal_year",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[RunStatus] = mapped_column(StrEnumType(RunStatus, 12), default=RunStatus.DRAFT)
    shu_idr: Mapped[int | None] = mapped_column(Rupiah)
    shu_source: Mapped[str] = mapped_column(String(10), default="ledger")
    shu_reason: Mapped[str | None] = mapped_column(Text)
    #: The books' figure when the run was computed (the year-end close's SHU, or income minus
    #: expenses while the year is open): an entered SHU is shown beside it with its reason.
    shu_book_idr: Mapped[int | None] = mapped_column(Rupiah)
    ad_version_id: Mapped[int | None] = mapped_column(ForeignKey("ad_versions.id"))
    #: Funds, reserve, group pools and redirects of the computation (small, per run).
    summary: Mapped[dict | None] = mapped_column(JSON)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Lines not yet paid (unpaid or in transit): set when the run is computed and kept by
    #: every line status change (``payouts.transfers``), so the run page does not count them.
    lines_not_paid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    members_total_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    distribution_date: Mapped[dt.date | None] = mapped_column(Date)
    computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_id: Mapped[int | None] = mapped_column(ForeignKey("resolutions.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    @property
    def reference(self) -> str:
        """How an SHU-allocation proposal names this run."""
        return f"distribution_run:{self.id}"


class DistributionLine(db.Model):
    __tablename__ = "distribution_lines"
    __table_args__ = (
        UniqueConstraint("run_id", "member_id"),
        CheckConstraint("jasa_modal_idr >= 0 AND jasa_usaha_idr >= 0", name="non_negative"),
        CheckConstraint("total_idr = jasa_modal_idr + jasa_usaha_idr", name="total_adds_up"),
        CheckConstraint("status IN ('unpaid', 'in_transit', 'paid')", name="status_valid"),
        CheckConstraint("method IN ('sukarela', 'transfer', 'cash')", name="method_valid"),
        Index("ix_distribution_lines_member", "member_id", "run_id"),
        Index("ix_distribution_lines_run_status", "run_id", "status"),
        # the run page's display order: a page of lines is an index range (keyset)
        Index("ix_distribution_lines_run_display", "run_id", "group_code", "member_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("distribution_runs.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    member_no: Mapped[str] = mapped_column(String(40))
    group_code: Mapped[str] = mapped_column(String(20))
    months: Mapped[int] = mapped_column(Integer, default=12)
    capital_basis_idr: Mapped[int] = mapped_column(Rupiah)
    patronage: Mapped[int] = mapped_column(BigInteger)
    jasa_modal_idr: Mapped[int] = mapped_column(Rupiah)
    jasa_usaha_idr: Mapped[int] = mapped_column(Rupiah)
    total_idr: Mapped[int] = mapped_column(Rupiah)
    method: Mapped[PayoutMethod] = mapped_column(
        StrEnumType(PayoutMethod, 10), default=PayoutMethod.SUKARELA
    )
    status: Mapped[LineStatus] = mapped_column(
        StrEnumType(LineStatus, 12), default=LineStatus.UNPAID
    )
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TransferStatus(enum.StrEnum):
    REQUESTED = "requested"  # made by one board member, waiting for a second
    SUBMITTED = "submitted"  # approved by a second board member, sent to the disburser
    COMPLETED = "completed"
    FAILED = "failed"  # money returned to SHU payable
    REJECTED = "rejected"  # the checker refused; nothing left the cooperative


class PayoutTransfer(db.Model):
    """A bank / e-wallet transfer of one member's SHU (maker-checker)."""

    __tablename__ = "payout_transfers"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive"),
        CheckConstraint(
            "approved_by_id IS NULL OR approved_by_id <> requested_by_id", name="four_eyes"
        ),
        UniqueConstraint("reference_no"),
        Index("ix_payout_transfers_line", "line_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("distribution_lines.id"))
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    bank: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(40))
    account_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[TransferStatus] = mapped_column(
        StrEnumType(TransferStatus, 12), default=TransferStatus.REQUESTED
    )
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    reference_no: Mapped[str | None] = mapped_column(String(100))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
