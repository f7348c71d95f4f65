"""Social protection tables: the versioned rate table, enrolments and their terms, family
members, the monthly contributions behind the obligations, remittances to BPJS, cash
receipts for the bill, and claim cases.

Programmes (``programme``): ``jkk`` (Jaminan Kecelakaan Kerja), ``jkm`` (Jaminan Kematian),
``jht`` (Jaminan Hari Tua) — BPJS Ketenagakerjaan, Bukan Penerima Upah — and ``jkn`` (BPJS
Kesehatan, PBPU). Every contribution is an ``Obligation`` of kind ``bpjs_jkk`` / ``bpjs_jkm``
/ ``bpjs_jht`` / ``jkn`` (family ``bpjs``) whose ``account_code`` is the programme's trust
liability ``liability:bpjs-deposits:<programme>`` (dana titipan: never equity).
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
from members.protection.states import ClaimStatus, EnrolmentStatus
from members.register.models import Member

PROGRAMME_CHECK = "programme IN ('jkk', 'jkm', 'jht', 'jkn')"


class ContributionRate(db.Model):
    """One version of a programme's rate, in force from ``effective_from`` (a month's first
    day) until a later row of the same programme (and JKN class). Rows are never edited:
    a change is a new row; for one ``effective_from`` the newest row wins.

    ``method`` ``percent``: ``rate_bp`` basis points of the declared monthly income (JKK
    100 = 1 %, JHT 200 = 2 %). ``fixed``: ``amount_idr`` per person per month of which the
    participant pays ``participant_idr`` (JKM 6.800/6.800; JKN class III 42.000/35.000, the
    government pays the rest)."""

    __tablename__ = "protection_rates"
    __table_args__ = (
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint(
            "(method = 'percent' AND rate_bp > 0 AND rate_bp <= 10000) OR "
            "(method = 'fixed' AND amount_idr > 0 AND participant_idr > 0 "
            "AND participant_idr <= amount_idr)",
            name="rate_shape",
        ),
        CheckConstraint(
            "(programme = 'jkn' AND jkn_class IN ('1', '2', '3')) OR "
            "(programme <> 'jkn' AND jkn_class = '')",
            name="class_for_jkn_only",
        ),
        Index("ix_protection_rates_lookup", "programme", "jkn_class", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme: Mapped[str] = mapped_column(String(8))
    jkn_class: Mapped[str] = mapped_column(String(3), default="", server_default="")
    method: Mapped[str] = mapped_column(String(8))
    rate_bp: Mapped[int | None] = mapped_column(Integer)
    amount_idr: Mapped[int | None] = mapped_column(Rupiah)
    participant_idr: Mapped[int | None] = mapped_column(Rupiah)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class IncomeBracket(db.Model):
    """The declared-income brackets a BPU participant chooses from. The list in force for a
    month is every row of the latest ``effective_from`` on or before it (a new list replaces
    the whole list)."""

    __tablename__ = "protection_income_brackets"
    __table_args__ = (
        UniqueConstraint(
            "effective_from", "amount_idr", name="uq_protection_brackets_one_per_list"
        ),
        CheckConstraint("amount_idr > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[dt.date] = mapped_column(Date, index=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class SubsidyRule(db.Model):
    """The share of members' contributions the cooperative pays from the social fund (dana
    sosial), as its AD / a decision of the members' meeting allows (``basis`` names it).
    Versioned like rates: the latest row of (programme, group) on or before a month is in
    force; ``group_code`` '' applies to every group without a row of its own; a row with
    ``share_bp`` 0 ends the subsidy from its month."""

    __tablename__ = "protection_subsidy_rules"
    __table_args__ = (
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("share_bp >= 0 AND share_bp < 10000", name="share_in_range"),
        CheckConstraint("cap_idr IS NULL OR cap_idr > 0", name="cap_positive"),
        CheckConstraint("length(basis) > 0", name="has_basis"),
        Index("ix_protection_subsidy_lookup", "programme", "group_code", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme: Mapped[str] = mapped_column(String(8))
    group_code: Mapped[str] = mapped_column(String(20), default="", server_default="")
    share_bp: Mapped[int] = mapped_column(Integer)
    cap_idr: Mapped[int | None] = mapped_column(Rupiah)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class Enrolment(db.Model):
    """A member's participation in the cooperative's collective BPJS scheme (one per member).

    Consent to share data with BPJS is recorded with the text's version and the time. Billing
    covers the months from ``start_period`` up to (not including) ``stop_period``."""

    __tablename__ = "protection_enrolments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('requested', 'confirmed', 'rejected', 'cancelled', 'stopped')",
            name="status_known",
        ),
        CheckConstraint("consent_at IS NOT NULL AND length(consent_version) > 0", name="consent"),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejection_has_reason"
        ),
        CheckConstraint(
            "status NOT IN ('confirmed', 'stopped') OR start_period IS NOT NULL",
            name="confirmed_has_start",
        ),
        CheckConstraint(
            "stop_period IS NULL OR start_period IS NULL OR stop_period >= start_period",
            name="stop_after_start",
        ),
        Index("ix_protection_enrolments_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    status: Mapped[EnrolmentStatus] = mapped_column(StrEnumType(EnrolmentStatus, 12))
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Nomor peserta BPJS Ketenagakerjaan (KPJ) and the member's JKN card number.
    kpj_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    jkn_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    auto_debit: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    start_period: Mapped[dt.date | None] = mapped_column(Date)
    stop_period: Mapped[dt.date | None] = mapped_column(Date)

    member: Mapped[Member] = relationship()
    terms: Mapped[list[EnrolmentTerms]] = relationship(
        back_populates="enrolment", order_by="EnrolmentTerms.effective_from"
    )
    family: Mapped[list[FamilyMember]] = relationship(
        back_populates="enrolment", order_by="FamilyMember.id"
    )


class EnrolmentTerms(db.Model):
    """What a participant is enrolled in from ``effective_from`` on: the BPJS
    Ketenagakerjaan package (JKK and JKM together, JHT optional) on a declared income, and
    JKN in a class for the member and ``family_count`` family members. A change is a new row
    for the next month (the month already billed keeps its terms)."""

    __tablename__ = "protection_terms"
    __table_args__ = (
        UniqueConstraint(
            "enrolment_id", "effective_from", name="uq_protection_terms_one_per_month"
        ),
        CheckConstraint("jkk = jkm", name="jkk_with_jkm"),
        CheckConstraint("NOT jht OR jkk", name="jht_needs_jkk"),
        CheckConstraint("NOT jkk OR income_idr > 0", name="income_for_tk"),
        CheckConstraint("jkn_class IS NULL OR jkn_class IN ('1', '2', '3')", name="class_known"),
        CheckConstraint("jkk OR jkn_class IS NOT NULL", name="some_programme"),
        CheckConstraint(
            "family_count >= 0 AND (jkn_class IS NOT NULL OR family_count = 0)",
            name="family_for_jkn",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("protection_enrolments.id"))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    jkk: Mapped[bool] = mapped_column(Boolean)
    jkm: Mapped[bool] = mapped_column(Boolean)
    jht: Mapped[bool] = mapped_column(Boolean)
    income_idr: Mapped[int | None] = mapped_column(Rupiah)
    jkn_class: Mapped[str | None] = mapped_column(String(3))
    family_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    enrolment: Mapped[Enrolment] = relationship(lambda: Enrolment, back_populates="terms")

    @property
    def programmes(self) -> tuple[str, ...]:
        chosen = [p for p in ("jkk", "jkm", "jht") if getattr(self, p)]
        return (*chosen, "jkn") if self.jkn_class else tuple(chosen)


class FamilyMember(db.Model):
    """A family member the participant registers for JKN, covered from ``from_period`` up
    to (not including) ``until_period``."""

    __tablename__ = "protection_family"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "nik", name="uq_protection_family_once"),
        CheckConstraint(
            "relation IN ('pasangan', 'anak', 'orang_tua', 'lainnya')", name="relation_known"
        ),
        CheckConstraint(
            "until_period IS NULL OR until_period > from_period", name="until_after_from"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("protection_enrolments.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    nik: Mapped[str] = mapped_column(String(16))
    relation: Mapped[str] = mapped_column(String(12))
    jkn_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    from_period: Mapped[dt.date] = mapped_column(Date)
    until_period: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    enrolment: Mapped[Enrolment] = relationship(lambda: Enrolment, back_populates="family")


class BpjsRemittance(db.Model):
    """A collective transfer of one programme's contributions of one month to BPJS (a month
    may need a second batch for contributions collected after the first). Its entry debits
    the programme's trust liability and credits the bank."""

    __tablename__ = "protection_remittances"
    __table_args__ = (
        UniqueConstraint("programme", "period", "batch_no", name="uq_protection_remittances_batch"),
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("total_idr > 0 AND participants > 0", name="positive"),
        CheckConstraint("subsidy_idr >= 0 AND subsidy_idr <= total_idr", name="subsidy_in_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme: Mapped[str] = mapped_column(String(8))
    period: Mapped[dt.date] = mapped_column(Date)
    batch_no: Mapped[int] = mapped_column(Integer)
    total_idr: Mapped[int] = mapped_column(Rupiah)
    subsidy_idr: Mapped[int] = mapped_column(Rupiah, default=0)
    participants: Mapped[int] = mapped_column(Integer)
    transfer_reference: Mapped[str] = mapped_column(String(80))
    transferred_on: Mapped[dt.date] = mapped_column(Date)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    recorded_by = relationship("User")


class Contribution(db.Model):
    """The detail behind one contribution obligation (member, programme, month): the base
    (declared income; for JKN the persons), the full contribution, the part the social fund
    pays (the member's obligation is ``full_idr - subsidy_idr``) and whether that part is in
    the trust yet (``subsidy_state``: none / pending / posted), and the remittance that took
    it to BPJS. The obligation is found by its unique key (member, kind, period, '')."""

    __tablename__ = "protection_contributions"
    __table_args__ = (
        UniqueConstraint(
            "member_id", "programme", "period", name="uq_protection_contributions_one"
        ),
        CheckConstraint(PROGRAMME_CHECK, name="programme_known"),
        CheckConstraint("full_idr > 0 AND persons > 0 AND base_idr >= 0", name="positive"),
        CheckConstraint("subsidy_idr >= 0 AND subsidy_idr < full_idr", name="subsidy_in_range"),
        CheckConstraint(
            "(subsidy_idr = 0 AND subsidy_state = 'none') OR "
            "(subsidy_idr > 0 AND subsidy_state <> 'none')",
            name="subsidy_state_consistent",
        ),
        Index("ix_protection_contributions_period", "programme", "period", "remittance_id"),
        Index("ix_protection_contributions_subsidy", "subsidy_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("protection_enrolments.id"))
    programme: Mapped[str] = mapped_column(String(8))
    period: Mapped[dt.date] = mapped_column(Date)
    group_code: Mapped[str] = mapped_column(String(20))
    base_idr: Mapped[int] = mapped_column(Rupiah)
    persons: Mapped[int] = mapped_column(Integer)
    full_idr: Mapped[int] = mapped_column(Rupiah)
    subsidy_idr: Mapped[int] = mapped_column(Rupiah)
    #: none (no subsidy) | pending (waits for the member's part) | posted (fund -> trust) |
    #: a claim token while a sync moves it.
    subsidy_state: Mapped[str] = mapped_column(String(40))
    subsidy_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("protection_remittances.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)


class BillReceipt(db.Model):
    """Money the bendahara took in cash or by transfer for a member's monthly bill (wajib and
    contributions), numbered like the savings receipts (KWT-...)."""

    __tablename__ = "protection_bill_receipts"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="positive"),
        CheckConstraint("method IN ('cash', 'bank')", name="method_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    request_token: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount_idr: Mapped[int] = mapped_column(Rupiah)
    method: Mapped[str] = mapped_column(String(8))
    reference: Mapped[str | None] = mapped_column(String(120))
    received_on: Mapped[dt.date] = mapped_column(Date)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    member: Mapped[Member] = relationship()


class ClaimCase(db.Model):
    """A member's (or heir's) claim with BPJS that the board helps with and follows."""

    __tablename__ = "protection_claims"
    __table_args__ = (
        CheckConstraint("kind IN ('work_accident', 'death', 'jht')", name="kind_known"),
        CheckConstraint(
            "status <> 'submitted' OR bpjs_reference IS NOT NULL", name="submitted_has_ref"
        ),
        CheckConstraint(
            "status <> 'approved' OR benefit_idr IS NOT NULL", name="approved_has_benefit"
        ),
        CheckConstraint("benefit_idr IS NULL OR benefit_idr >= 0", name="benefit_not_negative"),
        CheckConstraint("kind <> 'death' OR claimant_name IS NOT NULL", name="death_has_heir"),
        Index("ix_protection_claims_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[ClaimStatus] = mapped_column(StrEnumType(ClaimStatus, 24))
    incident_date: Mapped[dt.date] = mapped_column(Date)
    claimant_name: Mapped[str | None] = mapped_column(String(200))
    claimant_relationship: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    bpjs_reference: Mapped[str | None] = mapped_column(String(80))
    benefit_idr: Mapped[int | None] = mapped_column(Rupiah)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    member: Mapped[Member] = relationship()
    events: Mapped[list[ClaimEvent]] = relationship(order_by="ClaimEvent.id")


class ClaimEvent(db.Model):
    """One step of a claim case: a status change or a note, by whom and when."""

    __tablename__ = "protection_claim_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("protection_claims.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)

    by_user = relationship("User")
