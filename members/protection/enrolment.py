"""ProtectionEnrolment: the member asks from the phone, the bendahara confirms, BPJS's numbers are
recorded; changes of bracket, class or family take effect from the next month.

* ``request_enrolment(member, choice, by_user)``: programmes (the BPJS Ketenagakerjaan BPU
  package JKK + JKM, JHT optional; JKN in a class), the declared income from the brackets in
  force, family members for JKN (name, NIK checked like a member's NIK, relationship), and
  the explicit consent to share the data with BPJS (version and time are stored).
* ``confirm_enrolment`` / ``reject_enrolment`` / ``cancel_enrolment`` / ``stop_enrolment``:
  the state machine of ``members.protection.states``. Confirming bills the start month at
  once when it has begun (``billing.bill_contributions`` for that one enrolment).
* ``change_terms(member, choice, by_user)``: a new ``EnrolmentTerms`` row for next month;
  family members added from next month, removed from next month.
* ``set_participant_numbers`` and ``import_acknowledgement(text)``: the KPJ and JKN card
  numbers, by hand or from BPJS's acknowledgement file (CSV, columns in the README:
  ``NIK,NAMA,PROGRAM,NOMOR_PESERTA``, PROGRAM ``TK`` or ``JKN``).

Services flush, never commit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from sqlalchemy import select

from kmp.errors import Conflict, DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.money import format_rupiah
from kmp.timeutil import add_months, business_date, now_utc
from members.protection.models import EnrolmentTerms, FamilyMember, ProtectionEnrolment
from members.protection.rates import JKN_CLASSES, brackets_in_force, month_start
from members.protection.states import EnrolmentStatus, check_enrolment_transition
from members.register.identity import IdentityError, clean_digits, parse_nik
from members.register.models import Member, MemberKind
from members.register.services import record_event
from members.register.states import MemberStatus

#: The consent text's version; a new text gets a new version (stored on every enrolment).
CONSENT_VERSION = "bpjs-2026-1"
RELATIONS = ("pasangan", "anak", "orang_tua", "lainnya")
MAX_FAMILY = 10
S = EnrolmentStatus


def _refuse(message: str, field_name: str | None = None, code: str = "invalid") -> DomainError:
    return DomainError(message, code=code, field=field_name)


@dataclass(frozen=True)
class FamilyIn:
    full_name: str
    nik: str
    relation: str


@dataclass(frozen=True)
class Choice:
    """What the member chose on the enrolment (or change) form."""

    tk: bool = False  # BPJS Ketenagakerjaan BPU: JKK + JKM
    jht: bool = False
    income_idr: int | None = None
    jkn_class: str | None = None
    family: tuple[FamilyIn, ...] = field(default_factory=tuple)
    consent: bool = False
    auto_debit: bool = False


@dataclass(frozen=True)
class CheckedFamily:
    full_name: str
    nik: str
    relation: str


def _check_choice(member: Member, choice: Choice, month: dt.date) -> list[CheckedFamily]:
    if not choice.consent:
        raise _refuse(
            _("Centang persetujuan berbagi data dengan BPJS untuk melanjutkan."), "consent"
        )
    jkn_class = choice.jkn_class or None
    if not choice.tk and jkn_class is None:
        raise _refuse(_("Pilih minimal satu program."), "tk")
    if choice.jht and not choice.tk:
        raise _refuse(_("JHT hanya bisa diambil bersama JKK dan JKM."), "jht", code="jht_needs_tk")
    if choice.tk:
        brackets = brackets_in_force(month)
        if choice.income_idr not in brackets:
            raise _refuse(
                _(
                    "Pilih penghasilan dari daftar BPJS (mulai %(low)s).",
                    low=format_rupiah(brackets[0] if brackets else 0),
                ),
                "income",
                code="bad_income",
            )
    if jkn_class is not None and jkn_class not in JKN_CLASSES:
        raise _refuse(_("Kelas JKN harus 1, 2 atau 3."), "jkn_class")
    family = [f for f in choice.family if (f.full_name or "").strip() or (f.nik or "").strip()]
    if family and jkn_class is None:
        raise _refuse(
            _("Anggota keluarga hanya didaftarkan untuk JKN: pilih kelas JKN."), "jkn_class"
        )
    if len(family) > MAX_FAMILY:
        raise _refuse(_("Paling banyak 10 anggota keluarga."), "family")
    checked: list[CheckedFamily] = []
    seen = {member.nik} if member.nik else set()
    today = business_date()
    for number, person in enumerate(family, start=1):
        name = " ".join((person.full_name or "").split())
        if not 2 <= len(name) <= 200:
            raise _refuse(
                _("Nama anggota keluarga ke-%(n)s wajib diisi (2-200 huruf).", n=number),
                f"family-{number - 1}-full_name",
            )
        try:
            nik = parse_nik(person.nik, today, field=f"family-{number - 1}-nik").nik
        except IdentityError as error:
            raise _refuse(
                _("Anggota keluarga ke-%(n)s: %(m)s", n=number, m=error.message), error.field
            ) from None
        if nik in seen:
            raise _refuse(
                _("NIK anggota keluarga ke-%(n)s sudah dipakai.", n=number),
                f"family-{number - 1}-nik",
                code="duplicate_nik",
            )
        seen.add(nik)
        if person.relation not in RELATIONS:
            raise _refuse(
                _("Pilih hubungan keluarga ke-%(n)s.", n=number), f"family-{number - 1}-relation"
            )
        checked.append(CheckedFamily(name, nik, person.relation))
    return checked


def _terms_row(
    enrolment: ProtectionEnrolment, choice: Choice, effective_from: dt.date, count: int, by_user
):
    return EnrolmentTerms(
        enrolment_id=enrolment.id,
        effective_from=effective_from,
        jkk=bool(choice.tk),
        jkm=bool(choice.tk),
        jht=bool(choice.tk and choice.jht),
        income_idr=choice.income_idr if choice.tk else None,
        jkn_class=choice.jkn_class or None,
        family_count=count,
        created_by_id=getattr(by_user, "id", by_user),
    )


def enrolment_of(member: Member | int) -> ProtectionEnrolment | None:
    member_id = member if isinstance(member, int) else member.id
    return db.session.scalar(
        select(ProtectionEnrolment).where(ProtectionEnrolment.member_id == member_id)
    )


def request_enrolment(member: Member, choice: Choice, *, by_user=None) -> ProtectionEnrolment:
    """The member asks to be enrolled (again); a request still waiting is replaced."""
    if (
        MemberStatus(member.status) is not MemberStatus.ACTIVE
        or member.kind != MemberKind.INDIVIDUAL
    ):
        raise _refuse(
            _("Hanya anggota perorangan yang aktif dapat mendaftar BPJS lewat koperasi."),
            code="member_not_active",
        )
    month = add_months(month_start(business_date()), 1)
    family = _check_choice(member, choice, month)
    enrolment = enrolment_of(member)
    if enrolment is None:
        enrolment = ProtectionEnrolment(member_id=member.id, status=S.REQUESTED)
        db.session.add(enrolment)
    elif enrolment.status is S.CONFIRMED:
        raise Conflict(
            _("Anda sudah terdaftar; ubah program lewat formulir perubahan."), code="enrolled"
        )
    elif enrolment.status is not S.REQUESTED:
        check_enrolment_transition(enrolment.status, S.REQUESTED)
        enrolment.status = S.REQUESTED
        enrolment.rejection_reason = None
        enrolment.decided_at = enrolment.decided_by_id = None
        enrolment.start_period = enrolment.stop_period = None
    enrolment.consent_version = CONSENT_VERSION
    enrolment.consent_at = now_utc()
    enrolment.requested_at = now_utc()
    enrolment.auto_debit = bool(choice.auto_debit)
    db.session.flush()
    # A request keeps one provisional terms row (dated next month) and its family; a new
    # request replaces them; confirming dates them from the start month.
    db.session.execute(
        EnrolmentTerms.__table__.delete().where(
            EnrolmentTerms.enrolment_id == enrolment.id, EnrolmentTerms.effective_from >= month
        )
    )
    db.session.execute(
        FamilyMember.__table__.delete().where(
            FamilyMember.enrolment_id == enrolment.id, FamilyMember.from_period >= month
        )
    )
    db.session.flush()
    db.session.add(_terms_row(enrolment, choice, month, len(family), by_user))
    for person in family:
        _add_family(enrolment, person, month)
    record_event(member, "bpjs_requested", by_user, _("Pendaftaran BPJS diajukan"))
    db.session.flush()
    return enrolment


def _add_family(
    enrolment: ProtectionEnrolment, person: CheckedFamily, from_period: dt.date
) -> None:
    existing = db.session.scalar(
        select(FamilyMember).where(
            FamilyMember.enrolment_id == enrolment.id, FamilyMember.nik == person.nik
        )
    )
    if existing is not None:
        existing.full_name, existing.relation = person.full_name, person.relation
        existing.from_period = min(existing.from_period, from_period)
        existing.until_period = None
        return
    db.session.add(
        FamilyMember(
            enrolment_id=enrolment.id,
            full_name=person.full_name,
            nik=person.nik,
            relation=person.relation,
            from_period=from_period,
        )
    )


def cancel_enrolment(member: Member, *, by_user=None) -> ProtectionEnrolment:
    enrolment = _require(member)
    check_enrolment_transition(enrolment.status, S.CANCELLED)
    enrolment.status = S.CANCELLED
    record_event(member, "bpjs_cancelled", by_user, _("Pendaftaran BPJS dibatalkan anggota"))
    db.session.flush()
    return enrolment


def _require(member: Member) -> ProtectionEnrolment:
    enrolment = enrolment_of(member)
    if enrolment is None:
        raise NotFound(_("Anda belum mendaftar BPJS lewat koperasi."))
    return enrolment


def confirm_enrolment(
    enrolment: ProtectionEnrolment, *, by_user, start_period: dt.date | None = None
) -> ProtectionEnrolment:
    """The bendahara confirms: billing starts with ``start_period`` (this month by default,
    or next month); the start month is billed at once if it has begun."""
    from members.protection.billing import bill_contributions

    this_month = month_start(business_date())
    start = month_start(start_period or this_month)
    if start not in (this_month, add_months(this_month, 1)):
        raise _refuse(_("Mulai tagihan bulan ini atau bulan depan."), "start_period")
    check_enrolment_transition(enrolment.status, S.CONFIRMED)
    if MemberStatus(enrolment.member.status) is not MemberStatus.ACTIVE:
        raise _refuse(_("Anggota ini tidak aktif lagi."), code="member_not_active")
    decided_by = getattr(by_user, "id", by_user)
    enrolment.start_period = start
    enrolment.status = S.CONFIRMED
    enrolment.decided_at = now_utc()
    enrolment.decided_by_id = decided_by
    pending = list(
        db.session.scalars(
            select(EnrolmentTerms)
            .where(EnrolmentTerms.enrolment_id == enrolment.id)
            .order_by(EnrolmentTerms.effective_from.desc(), EnrolmentTerms.id.desc())
        )
    )
    if not pending:
        raise _refuse(_("Pendaftaran ini belum berisi program."), code="no_terms")
    newest = pending[0]
    for row in pending[1:]:
        if row.effective_from >= start:
            db.session.delete(row)
    db.session.flush()
    newest.effective_from = start
    for person in enrolment.family:
        if person.until_period is None:
            person.from_period = start
    record_event(enrolment.member, "bpjs_confirmed", by_user, _("Kepesertaan BPJS dikonfirmasi"))
    db.session.flush()
    if start <= this_month:
        bill_contributions(start, enrolment_ids=[enrolment.id])
    return enrolment


def reject_enrolment(
    enrolment: ProtectionEnrolment, *, by_user, reason: str
) -> ProtectionEnrolment:
    check_enrolment_transition(enrolment.status, S.REJECTED, reason=reason)
    decided_by = getattr(by_user, "id", by_user)
    enrolment.rejection_reason = reason.strip()[:1000]
    enrolment.status = S.REJECTED
    enrolment.decided_at = now_utc()
    enrolment.decided_by_id = decided_by
    record_event(enrolment.member, "bpjs_rejected", by_user, enrolment.rejection_reason)
    db.session.flush()
    return enrolment


def stop_enrolment(
    enrolment: ProtectionEnrolment, *, by_user=None, note: str | None = None
) -> ProtectionEnrolment:
    """No more bills from next month (what is owed for covered months stays owed)."""
    check_enrolment_transition(enrolment.status, S.STOPPED)
    stop = add_months(month_start(business_date()), 1)
    enrolment.stop_period = max(stop, enrolment.start_period or stop)
    enrolment.status = S.STOPPED
    for person in enrolment.family:  # a later enrolment starts with the family it names
        if person.until_period is None:
            if person.from_period >= enrolment.stop_period:
                db.session.delete(person)
            else:
                person.until_period = enrolment.stop_period
    record_event(
        enrolment.member, "bpjs_stopped", by_user, note or _("Kepesertaan BPJS dihentikan")
    )
    db.session.flush()
    return enrolment


def terms_for(enrolment: ProtectionEnrolment, month: dt.date) -> EnrolmentTerms | None:
    """The terms in force in ``month`` (None before the first)."""
    return db.session.scalar(
        select(EnrolmentTerms)
        .where(
            EnrolmentTerms.enrolment_id == enrolment.id,
            EnrolmentTerms.effective_from <= month_start(month),
        )
        .order_by(EnrolmentTerms.effective_from.desc())
        .limit(1)
    )


def latest_terms(enrolment: ProtectionEnrolment) -> EnrolmentTerms | None:
    return db.session.scalar(
        select(EnrolmentTerms)
        .where(EnrolmentTerms.enrolment_id == enrolment.id)
        .order_by(EnrolmentTerms.effective_from.desc())
        .limit(1)
    )


def family_in(enrolment: ProtectionEnrolment, month: dt.date) -> list[FamilyMember]:
    period = month_start(month)
    return [
        f
        for f in enrolment.family
        if f.from_period <= period and (f.until_period is None or f.until_period > period)
    ]


def change_terms(member: Member, choice: Choice, *, by_user=None) -> EnrolmentTerms:
    """Change programmes, bracket, class or family from next month (the month already
    billed keeps its terms)."""
    enrolment = _require(member)
    if enrolment.status is not S.CONFIRMED:
        raise Conflict(_("Perubahan hanya untuk peserta yang sudah dikonfirmasi."))
    month = add_months(month_start(business_date()), 1)
    family = _check_choice(member, choice, month)
    existing = db.session.scalar(
        select(EnrolmentTerms).where(
            EnrolmentTerms.enrolment_id == enrolment.id, EnrolmentTerms.effective_from == month
        )
    )
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    wanted = {p.nik for p in family}
    for person in enrolment.family:
        if person.until_period is None and person.nik not in wanted:
            if person.from_period >= month:
                db.session.delete(person)
            else:
                person.until_period = month
    for person in family:
        _add_family(enrolment, person, month)
    enrolment.consent_version = CONSENT_VERSION
    enrolment.consent_at = now_utc()
    enrolment.auto_debit = bool(choice.auto_debit)
    row = _terms_row(enrolment, choice, month, len(family), by_user)
    db.session.add(row)
    record_event(
        member, "bpjs_changed", by_user, _("Perubahan program BPJS mulai %(m)s", m=f"{month:%Y-%m}")
    )
    db.session.flush()
    db.session.expire(enrolment, ["family", "terms"])
    return row


def set_auto_debit(member: Member, enabled: bool) -> ProtectionEnrolment:
    enrolment = _require(member)
    enrolment.auto_debit = bool(enabled)
    db.session.flush()
    return enrolment


# --------------------------------------------------------------------------- BPJS numbers

_NUMBER_LENGTHS = {"kpj": (8, 20), "jkn": (13, 13)}


def _number(text: str | None, kind: str, field_name: str) -> str | None:
    digits = clean_digits(text)
    if not digits:
        return None
    low, high = _NUMBER_LENGTHS[kind]
    if not digits.isdigit() or not low <= len(digits) <= high:
        message = (
            _("Nomor kartu JKN harus 13 angka.")
            if kind == "jkn"
            else _("Nomor KPJ harus 8 sampai 20 angka.")
        )
        raise _refuse(message, field_name, code="bad_number")
    return digits


def set_participant_numbers(
    enrolment: ProtectionEnrolment,
    *,
    kpj: str | None = None,
    jkn: str | None = None,
    family_jkn: dict[int, str] | None = None,
) -> ProtectionEnrolment:
    """Record the numbers BPJS issued (empty keeps what is there)."""
    kpj_number = _number(kpj, "kpj", "kpj")
    jkn_number = _number(jkn, "jkn", "jkn")
    _ensure_free(ProtectionEnrolment.kpj_number, kpj_number, enrolment.id)
    _ensure_free(ProtectionEnrolment.jkn_number, jkn_number, enrolment.id)
    if kpj_number:
        enrolment.kpj_number = kpj_number
    if jkn_number:
        enrolment.jkn_number = jkn_number
    for person in enrolment.family:
        number = _number((family_jkn or {}).get(person.id), "jkn", f"family-{person.id}")
        if number:
            taken = db.session.scalar(
                select(FamilyMember.id).where(
                    FamilyMember.jkn_number == number, FamilyMember.id != person.id
                )
            )
            if taken is not None:
                raise _refuse(_("Nomor kartu JKN sudah dipakai peserta lain."), code="taken")
            person.jkn_number = number
    db.session.flush()
    return enrolment


def _ensure_free(column, value: str | None, enrolment_id: int) -> None:
    if value is None:
        return
    other = db.session.scalar(
        select(ProtectionEnrolment.id).where(
            column == value, ProtectionEnrolment.id != enrolment_id
        )
    )
    if other is not None:
        raise _refuse(_("Nomor peserta ini sudah dipakai peserta lain."), code="taken")


ACK_COLUMNS = ("NIK", "NAMA", "PROGRAM", "NOMOR_PESERTA")
MAX_ACK_BYTES = 2 * 1024 * 1024


@dataclass
class AckResult:
    updated: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)


def import_acknowledgement(text: str) -> AckResult:
    """BPJS's acknowledgement file (CSV with the header ``NIK,NAMA,PROGRAM,NOMOR_PESERTA``;
    ``;`` also accepted): PROGRAM ``TK`` sets the member's KPJ, ``JKN`` the JKN card of the
    member or of the family member with that NIK. Every row is checked; a bad row is listed
    and skipped, the others are recorded."""
    if len(text) > MAX_ACK_BYTES:
        raise _refuse(_("Berkas terlalu besar (maks. 2 MB)."), "file")
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        raise _refuse(_("Berkas kosong."), "file")
    dialect = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=dialect)
    header = [(h or "").strip().upper() for h in (reader.fieldnames or [])]
    missing = [c for c in ACK_COLUMNS if c not in header]
    if missing:
        raise _refuse(
            _(
                "Kolom tidak ditemukan: %(c)s (dibutuhkan %(all)s).",
                c=", ".join(missing),
                all=",".join(ACK_COLUMNS),
            ),
            "file",
            code="bad_header",
        )
    result = AckResult()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().upper(): (v or "").strip() for k, v in raw.items() if k}
        try:
            with db.session.begin_nested():
                _apply_ack_row(row)
            result.updated += 1
        except DomainError as error:
            result.problems.append((number, error.message))
        if number > 100_000:
            break
    return result


def _apply_ack_row(row: dict) -> None:
    nik = clean_digits(row.get("NIK"))
    programme = row.get("PROGRAM", "").upper()
    if programme not in ("TK", "JKN"):
        raise _refuse(_("PROGRAM harus TK atau JKN."))
    enrolment = db.session.scalar(
        select(ProtectionEnrolment)
        .join(Member, Member.id == ProtectionEnrolment.member_id)
        .where(Member.nik == nik)
    )
    if programme == "TK":
        if enrolment is None:
            raise _refuse(_("NIK %(n)s bukan peserta BPJS koperasi.", n=nik[:16]))
        set_participant_numbers(enrolment, kpj=row.get("NOMOR_PESERTA"))
        return
    if enrolment is not None:
        set_participant_numbers(enrolment, jkn=row.get("NOMOR_PESERTA"))
        return
    person = db.session.scalar(select(FamilyMember).where(FamilyMember.nik == nik))
    if person is None:
        raise _refuse(_("NIK %(n)s bukan peserta BPJS koperasi.", n=nik[:16]))
    set_participant_numbers(person.enrolment, family_jkn={person.id: row.get("NOMOR_PESERTA")})


def pending_requests(limit: int = 200) -> list[ProtectionEnrolment]:
    return list(
        db.session.scalars(
            select(ProtectionEnrolment)
            .where(ProtectionEnrolment.status == S.REQUESTED)
            .order_by(ProtectionEnrolment.requested_at, ProtectionEnrolment.id)
            .limit(limit)
        )
    )


def on_member_status_changed(sender, member=None, old=None, new=None, **_extra) -> None:  # noqa: ARG001
    """``kmp.signals.member_status_changed``: a member who left or died is billed no more."""
    if member is None or str(new) not in (MemberStatus.EXITED.value, MemberStatus.DECEASED.value):
        return
    enrolment = enrolment_of(member)
    if enrolment is None:
        return
    if enrolment.status is S.CONFIRMED:
        stop_enrolment(enrolment, note=_("Keanggotaan berakhir"))
    elif enrolment.status is S.REQUESTED:
        enrolment.status = S.CANCELLED
        db.session.flush()


def export_for_member(member: Member) -> dict | None:
    """The member's BPJS data for their own download (UU PDP): enrolment, consent, terms,
    family members and the contributions billed."""
    from members.protection.models import Contribution

    enrolment = enrolment_of(member)
    if enrolment is None:
        return None

    def iso(value):
        return value.isoformat() if value is not None else None

    return {
        "status": enrolment.status.value,
        "consent_version": enrolment.consent_version,
        "consent_at": iso(enrolment.consent_at),
        "kpj_number": enrolment.kpj_number,
        "jkn_number": enrolment.jkn_number,
        "auto_debit": enrolment.auto_debit,
        "start_period": iso(enrolment.start_period),
        "stop_period": iso(enrolment.stop_period),
        "terms": [
            {
                "effective_from": iso(t.effective_from),
                "programmes": list(t.programmes),
                "income_idr": t.income_idr,
                "jkn_class": t.jkn_class,
                "family_count": t.family_count,
            }
            for t in enrolment.terms
        ],
        "family": [
            {
                "full_name": p.full_name,
                "nik": p.nik,
                "relation": p.relation,
                "jkn_number": p.jkn_number,
                "from_period": iso(p.from_period),
                "until_period": iso(p.until_period),
            }
            for p in enrolment.family
        ],
        "contributions": [
            {
                "programme": c.programme,
                "period": iso(c.period),
                "full_idr": c.full_idr,
                "subsidy_idr": c.subsidy_idr,
                "remitted": c.remittance_id is not None,
            }
            for c in db.session.scalars(
                select(Contribution)
                .where(Contribution.member_id == member.id)
                .order_by(Contribution.period, Contribution.programme)
            )
        ],
    }
