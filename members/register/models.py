"""The register: members, company staff, the member event log, numbering, exit cases and
NIK corrections."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kmp.db import Rupiah, StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.states import MemberStatus


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


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


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
    """A staff login of a platform company; at most one is its representative, the login
    that votes for the company (``members.register.representatives``)."""

    __tablename__ = "member_staff"
    __table_args__ = (
        Index(
            "uq_member_staff_one_representative",
            "member_id",
            unique=True,
            postgresql_where=text("is_representative"),
            sqlite_where=text("is_representative"),
        ),
    )

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
    #: Sukarela paid out with the refund (0 when the member keeps it for now).
    sukarela_idr: Mapped[int] = mapped_column(Rupiah, default=0, server_default="0")
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


class MemberStatusCount(db.Model):
    """How many members are in each status: kept by database triggers on ``members`` (every
    writer: the services' transitions, bulk imports, the benchmark generator), so the
    register's census line reads a handful of rows instead of counting the register."""

    __tablename__ = "member_status_counts"

    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


_SQLITE_COUNT_TRIGGERS = (
    "CREATE TRIGGER members_count_insert AFTER INSERT ON members BEGIN "
    "INSERT INTO member_status_counts (status, n) VALUES (NEW.status, 1) "
    "ON CONFLICT (status) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER members_count_delete AFTER DELETE ON members BEGIN "
    "UPDATE member_status_counts SET n = n - 1 WHERE status = OLD.status; END",
    "CREATE TRIGGER members_count_update AFTER UPDATE OF status ON members "
    "WHEN OLD.status IS NOT NEW.status BEGIN "
    "UPDATE member_status_counts SET n = n - 1 WHERE status = OLD.status; "
    "INSERT INTO member_status_counts (status, n) VALUES (NEW.status, 1) "
    "ON CONFLICT (status) DO UPDATE SET n = n + 1; END",
)
# PostgreSQL: statement-level triggers with transition tables, so a bulk INSERT ... SELECT of
# a million members is one grouped update, not a million.
_PG_COUNT_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION kmp_member_counts_add() RETURNS trigger AS $$
BEGIN
  INSERT INTO member_status_counts (status, n)
    SELECT status, count(*) FROM kmp_new_members GROUP BY status ORDER BY status
  ON CONFLICT (status) DO UPDATE SET n = member_status_counts.n + EXCLUDED.n;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION kmp_member_counts_remove() RETURNS trigger AS $$
BEGIN
  UPDATE member_status_counts c SET n = c.n - o.k
    FROM (SELECT status, count(*) AS k FROM kmp_old_members GROUP BY status) o
   WHERE c.status = o.status;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION kmp_member_counts_move() RETURNS trigger AS $$
BEGIN
  UPDATE member_status_counts c SET n = c.n - o.k
    FROM (SELECT status, count(*) AS k FROM kmp_old_members GROUP BY status) o
   WHERE c.status = o.status;
  INSERT INTO member_status_counts (status, n)
    SELECT status, count(*) FROM kmp_new_members GROUP BY status ORDER BY status
  ON CONFLICT (status) DO UPDATE SET n = member_status_counts.n + EXCLUDED.n;
  RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER members_count_insert AFTER INSERT ON members "
    "REFERENCING NEW TABLE AS kmp_new_members FOR EACH STATEMENT "
    "EXECUTE FUNCTION kmp_member_counts_add()",
    "CREATE TRIGGER members_count_delete AFTER DELETE ON members "
    "REFERENCING OLD TABLE AS kmp_old_members FOR EACH STATEMENT "
    "EXECUTE FUNCTION kmp_member_counts_remove()",
    "CREATE TRIGGER members_count_update AFTER UPDATE ON members "
    "REFERENCING OLD TABLE AS kmp_old_members NEW TABLE AS kmp_new_members "
    "FOR EACH STATEMENT EXECUTE FUNCTION kmp_member_counts_move()",
)


def member_count_ddl(dialect: str) -> tuple[str, ...]:
    """The statements that install the register's count triggers on ``dialect``."""
    return {"postgresql": _PG_COUNT_TRIGGERS, "sqlite": _SQLITE_COUNT_TRIGGERS}.get(dialect, ())


@event.listens_for(MemberStatusCount.__table__, "after_create")
def _install_count_triggers(target, connection, **kw) -> None:  # noqa: ARG001
    if not inspect(connection).has_table("members"):
        return  # members is created after: its own hook installs them
    for statement in member_count_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


@event.listens_for(Member.__table__, "after_create")
def _install_count_triggers_after_members(target, connection, **kw) -> None:  # noqa: ARG001
    if not inspect(connection).has_table("member_status_counts"):
        return  # the counts table is created after: its hook installs them
    for statement in member_count_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


def install_member_count_triggers(op) -> None:
    """Called from the initial migration (after both tables exist)."""
    for statement in member_count_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def _own_member_on_user() -> None:
    """``User.kmp_own_member``: the login's own member row (view only), so the login user's
    query can read it at once (``members.register.queries.own_member_load_option``)."""
    from kmp.auth import User

    User.kmp_own_member = relationship(
        Member,
        primaryjoin=lambda: Member.user_id == User.id,
        foreign_keys=lambda: [Member.user_id],
        viewonly=True,
        uselist=False,
    )


_own_member_on_user()
