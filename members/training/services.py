"""The catalogue, enrolment with a waitlist, attendance and completion, and certificates
(recorded, then verified by another pengurus). Services flush; the caller commits.

Seats: ``Programme.seats_taken`` moves only through conditional UPDATEs ("add one where one
is left", "hand the seat to the first waitlisted, else give it back") and a CHECK keeps it
within ``seats``; a freed seat goes to the first waitlisted enrolment in the same
transaction. On PostgreSQL the programme row is locked for every seat change, so concurrent
enrolments and cancellations are serialised on it (SQLite has one writer anyway).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from kmp.auth import Role, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import business_date, now_utc
from members.ad.competence import COMPETENCE_ROLES
from members.ad.services import current_ad
from members.register.models import Member
from members.register.states import MemberStatus
from members.training.competence import holder_ids
from members.training.models import (
    Certificate,
    CertificateStatus,
    Enrolment,
    EnrolmentStatus,
    Payer,
    Programme,
    ProgrammeKind,
    TrainingAttendance,
)


class TrainingError(DomainError):
    code = "training_invalid"


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _locked(model, row_id: int):
    query = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if _is_postgresql():
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(_("Data tidak ditemukan."))
    return row


def _text(value: str | None, limit: int) -> str | None:
    value = " ".join((value or "").split())
    return value[:limit] or None


# =========================================================================== the catalogue


@dataclass
class ProgrammeInput:
    title: str
    kind: str
    provider: str
    starts_on: dt.date
    ends_on: dt.date
    seats: int
    payer: str
    cost_idr: int = 0
    place: str | None = None
    is_online: bool = False
    skkni_ref: str | None = None
    scheme: str | None = None
    sponsor: str | None = None
    target_groups: list[str] = field(default_factory=list)
    target_roles: list[str] = field(default_factory=list)
    description: str | None = None


def _checked_programme(data: ProgrammeInput) -> dict:
    title = _text(data.title, 200)
    if not title:
        raise TrainingError(_("Judul program wajib diisi."), field="title")
    try:
        kind = ProgrammeKind(data.kind)
    except ValueError:
        raise TrainingError(_("Jenis program tidak dikenal."), field="kind") from None
    provider = _text(data.provider, 200)
    if not provider:
        raise TrainingError(
            _("Penyelenggara wajib diisi (mis. nama BLK atau LSP)."), field="provider"
        )
    place = _text(data.place, 200)
    if not place and not data.is_online:
        raise TrainingError(_("Isi tempat pelatihan, atau centang daring."), field="place")
    if data.ends_on < data.starts_on:
        raise TrainingError(
            _("Tanggal selesai tidak boleh sebelum tanggal mulai."), field="ends_on"
        )
    if isinstance(data.seats, bool) or not isinstance(data.seats, int) or data.seats < 1:
        raise TrainingError(_("Jumlah kursi paling sedikit 1."), field="seats")
    if data.seats > 10_000:
        raise TrainingError(_("Jumlah kursi paling banyak 10.000."), field="seats")
    if isinstance(data.cost_idr, bool) or not isinstance(data.cost_idr, int) or data.cost_idr < 0:
        raise TrainingError(_("Biaya harus Rupiah bulat, tidak negatif."), field="cost_idr")
    try:
        payer = Payer(data.payer)
    except ValueError:
        raise TrainingError(_("Pilih siapa yang membayar."), field="payer") from None
    skkni = _text(data.skkni_ref, 120)
    if kind is ProgrammeKind.BNSP and not skkni:
        raise TrainingError(
            _("Skema BNSP wajib menyebut acuan SKKNI-nya (mis. Kepmenaker 189/2019)."),
            field="skkni_ref",
        )
    sponsor = _text(data.sponsor, 200)
    if payer is Payer.SPONSOR and not sponsor:
        raise TrainingError(_("Sebutkan nama sponsor yang membayar."), field="sponsor")
    groups = [g.code for g in current_ad().groups]
    unknown = [g for g in data.target_groups if g not in groups]
    if unknown:
        raise TrainingError(
            _("Kelompok sasaran tidak dikenal: %(g)s.", g=", ".join(unknown)),
            field="target_groups",
        )
    roles = [r for r in data.target_roles if r not in COMPETENCE_ROLES]
    if roles:
        raise TrainingError(
            _("Jabatan sasaran tidak dikenal: %(r)s.", r=", ".join(roles)), field="target_roles"
        )
    return {
        "title": title,
        "kind": kind,
        "provider": provider,
        "place": place,
        "is_online": bool(data.is_online),
        "starts_on": data.starts_on,
        "ends_on": data.ends_on,
        "seats": data.seats,
        "cost_idr": data.cost_idr,
        "payer": payer,
        "sponsor": sponsor if payer is Payer.SPONSOR else None,
        "skkni_ref": skkni,
        "scheme": _text(data.scheme, 200),
        "target_groups": list(dict.fromkeys(data.target_groups)),
        "target_roles": list(dict.fromkeys(data.target_roles)),
        "description": (data.description or "").strip() or None,
    }


def create_programme(data: ProgrammeInput, *, by_user) -> Programme:
    programme = Programme(
        **_checked_programme(data), seats_taken=0, created_by_id=user_id_of(by_user)
    )
    db.session.add(programme)
    db.session.flush()
    return programme


def update_programme(programme: Programme, data: ProgrammeInput, *, by_user) -> Programme:  # noqa: ARG001
    """Change a programme. Fewer seats than are taken is refused; more seats go to the
    waitlist at once."""
    values = _checked_programme(data)
    programme = _locked(Programme, programme.id)
    if values["seats"] < programme.seats_taken:
        raise TrainingError(
            _(
                "Sudah %(n)s peserta memegang kursi: jumlah kursi tidak bisa kurang dari itu.",
                n=programme.seats_taken,
            ),
            field="seats",
        )
    for key, value in values.items():
        setattr(programme, key, value)
    db.session.flush()
    promote_waitlisted(programme)
    return programme


def set_enrolment_open(programme: Programme, is_open: bool) -> Programme:
    programme.is_open = bool(is_open)
    db.session.flush()
    return programme


# =========================================================================== enrolment


def _take_seat(programme_id: int) -> bool:
    """Add one to ``seats_taken`` if a seat is left (atomic: the row's own condition)."""
    result = db.session.execute(
        update(Programme)
        .where(Programme.id == programme_id, Programme.seats_taken < Programme.seats)
        .values(seats_taken=Programme.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _give_back_seat(programme_id: int) -> None:
    db.session.execute(
        update(Programme)
        .where(Programme.id == programme_id, Programme.seats_taken > 0)
        .values(seats_taken=Programme.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def enrolment_refusal(
    member: Member, programme: Programme, on: dt.date | None = None
) -> str | None:
    """Why ``member`` may not enrol in ``programme`` now (None: they may)."""
    on = on or business_date()
    if programme.cancelled_at is not None:
        return _("Program ini dibatalkan.")
    if not programme.is_open:
        return _("Pendaftaran program ini ditutup.")
    if programme.starts_on < on:
        return _(
            "Pendaftaran ditutup: pelatihan sudah dimulai %(d)s.",
            d=programme.starts_on.strftime("%d-%m-%Y"),
        )
    if MemberStatus(member.status) is not MemberStatus.ACTIVE:
        return _("Hanya anggota aktif yang dapat mendaftar pelatihan.")
    if programme.target_groups and member.group_code not in programme.target_groups:
        return _("Program ini khusus untuk kelompok: %(g)s.", g=", ".join(programme.target_groups))
    return None


def live_enrolment(member: Member, programme: Programme) -> Enrolment | None:
    return db.session.scalar(
        select(Enrolment).where(
            Enrolment.member_id == member.id,
            Enrolment.programme_id == programme.id,
            Enrolment.status != EnrolmentStatus.CANCELLED,
        )
    )


def enrol_member(member: Member, programme: Programme, *, by_user=None) -> Enrolment:
    """Enrol ``member``: a seat if one is left, else the waitlist (first come, first served)."""
    refusal = enrolment_refusal(member, programme)
    if refusal:
        raise TrainingError(refusal, code="enrolment_refused")
    if live_enrolment(member, programme) is not None:
        raise Conflict(_("Anda sudah terdaftar di program ini."), code="already_enrolled")
    now = now_utc()
    try:
        with db.session.begin_nested():
            seated = _take_seat(programme.id)
            enrolment = Enrolment(
                programme_id=programme.id,
                member_id=member.id,
                status=EnrolmentStatus.ENROLLED if seated else EnrolmentStatus.WAITLISTED,
                created_at=now,
                seated_at=now if seated else None,
                created_by_id=user_id_of(by_user),
            )
            db.session.add(enrolment)
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            _("Anda sudah terdaftar di program ini."), code="already_enrolled"
        ) from error
    db.session.refresh(programme)
    return enrolment


def cancel_enrolment(enrolment: Enrolment, *, by_user) -> Enrolment:
    """Withdraw (the member, before the start) or remove (the board). A freed seat goes to
    the first waitlisted enrolment."""
    programme = _locked(Programme, enrolment.programme_id)
    enrolment = _locked(Enrolment, enrolment.id)
    status = EnrolmentStatus(enrolment.status)
    if status not in (EnrolmentStatus.ENROLLED, EnrolmentStatus.WAITLISTED):
        raise TrainingError(
            _("Pendaftaran ini tidak bisa dibatalkan lagi (sudah dinilai atau dibatalkan)."),
            code="not_cancellable",
        )
    own = by_user is not None and enrolment.member.user_id == getattr(by_user, "id", None)
    is_board = by_user is not None and by_user.has_role(Role.PENGURUS, Role.BENDAHARA)
    if own and not is_board and programme.starts_on <= business_date():
        raise TrainingError(
            _("Pelatihan sudah dimulai: pembatalan hanya lewat pengurus."), code="started"
        )
    enrolment.status = EnrolmentStatus.CANCELLED
    enrolment.cancelled_at = now_utc()
    db.session.flush()
    if status is EnrolmentStatus.ENROLLED:
        if not _hand_seat_to_next(programme):
            _give_back_seat(programme.id)
    db.session.refresh(programme)
    return enrolment


def _first_waitlisted(programme: Programme) -> Enrolment | None:
    query = (
        select(Enrolment)
        .where(
            Enrolment.programme_id == programme.id,
            Enrolment.status == EnrolmentStatus.WAITLISTED,
        )
        .order_by(Enrolment.created_at, Enrolment.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if _is_postgresql():
        query = query.with_for_update()
    return db.session.scalar(query)


def _seat(enrolment: Enrolment) -> Enrolment:
    enrolment.status = EnrolmentStatus.ENROLLED
    enrolment.seated_at = now_utc()
    db.session.flush()
    _tell_seated(enrolment)
    return enrolment


def _hand_seat_to_next(programme: Programme) -> Enrolment | None:
    """The seat just freed passes to the first waitlisted (``seats_taken`` is unchanged)."""
    waiting = _first_waitlisted(programme)
    return _seat(waiting) if waiting is not None else None


def promote_waitlisted(programme: Programme) -> list[Enrolment]:
    """Fill free seats from the waitlist, first come first served."""
    promoted = []
    while True:
        waiting = _first_waitlisted(programme)
        if waiting is None or not _take_seat(programme.id):
            break
        promoted.append(_seat(waiting))
    db.session.refresh(programme)
    return promoted


def _tell_seated(enrolment: Enrolment) -> None:
    from kmp.notify import queue_notification, recipient_locale

    member = enrolment.member
    with recipient_locale(member.user):
        queue_notification(
            kind="training_seat",
            address=member.phone or member.email,
            alt_address=member.email,
            subject=_("Kursi pelatihan untuk Anda"),
            body=_(
                'Kabar baik, %(name)s: Anda mendapat kursi di "%(title)s" (%(date)s). '
                "Lihat di menu Pelatihan.",
                name=member.display_name,
                title=enrolment.programme.title,
                date=enrolment.programme.starts_on.strftime("%d-%m-%Y"),
            ),
            member_id=member.id,
            user_id=member.user_id,
            dedupe_key=f"training_seat:{enrolment.id}",
        )


# =========================================================================== the organiser


def _seated(programme: Programme) -> list[Enrolment]:
    return list(
        db.session.scalars(
            select(Enrolment)
            .where(
                Enrolment.programme_id == programme.id,
                Enrolment.status.in_(
                    [
                        EnrolmentStatus.ENROLLED,
                        EnrolmentStatus.COMPLETED,
                        EnrolmentStatus.NOT_COMPLETED,
                    ]
                ),
            )
            .order_by(Enrolment.id)
        )
    )


def record_attendance(programme: Programme, day: dt.date, present_ids: set[int], *, by_user) -> int:
    """The organiser's list for ``day``: exactly the enrolments in ``present_ids`` attended
    (others are unticked). Returns how many attended."""
    if not programme.starts_on <= day <= programme.ends_on:
        raise TrainingError(
            _("Tanggal hadir harus di antara tanggal mulai dan selesai pelatihan."), field="day"
        )
    if day > business_date():
        raise TrainingError(
            _("Kehadiran tidak bisa dicatat untuk hari yang belum tiba."), field="day"
        )
    seated = {e.id for e in _seated(programme)}
    strangers = set(present_ids) - seated
    if strangers:
        raise TrainingError(
            _("Ada peserta yang bukan pemegang kursi program ini."), field="present"
        )
    db.session.execute(
        delete(TrainingAttendance).where(
            TrainingAttendance.enrolment_id.in_(seated - set(present_ids)),
            TrainingAttendance.day == day,
        )
    )
    existing = set(
        db.session.scalars(
            select(TrainingAttendance.enrolment_id).where(
                TrainingAttendance.enrolment_id.in_(present_ids), TrainingAttendance.day == day
            )
        )
    )
    for enrolment_id in sorted(set(present_ids) - existing):
        db.session.add(
            TrainingAttendance(
                enrolment_id=enrolment_id, day=day, recorded_by_id=user_id_of(by_user)
            )
        )
    db.session.flush()
    return len(present_ids)


def record_completion(
    enrolment: Enrolment, *, completed: bool, by_user, note: str | None = None
) -> Enrolment:
    """Passed / did not pass. May be corrected until a certificate is recorded for it."""
    enrolment = _locked(Enrolment, enrolment.id)
    status = EnrolmentStatus(enrolment.status)
    if status not in (
        EnrolmentStatus.ENROLLED,
        EnrolmentStatus.COMPLETED,
        EnrolmentStatus.NOT_COMPLETED,
    ):
        raise TrainingError(_("Hanya peserta pemegang kursi yang bisa dinilai."), code="not_seated")
    if enrolment.programme.starts_on > business_date():
        raise TrainingError(_("Pelatihan belum dimulai."), code="not_started")
    has_certificate = db.session.scalar(
        select(Certificate.id).where(Certificate.enrolment_id == enrolment.id)
    )
    if has_certificate and not completed:
        raise TrainingError(
            _("Sertifikat peserta ini sudah dicatat: kelulusannya tidak bisa dibatalkan."),
            code="certificate_exists",
        )
    enrolment.status = EnrolmentStatus.COMPLETED if completed else EnrolmentStatus.NOT_COMPLETED
    enrolment.completed_at = now_utc()
    enrolment.completed_by_id = user_id_of(by_user)
    enrolment.result_note = _text(note, 300)
    db.session.flush()
    return enrolment


# =========================================================================== certificates


@dataclass
class CertificateInput:
    scheme: str
    issuer: str
    number: str
    issued_on: dt.date
    expires_on: dt.date | None = None
    skkni_ref: str | None = None


def _checked_certificate(data: CertificateInput) -> dict:
    scheme = _text(data.scheme, 200)
    if not scheme:
        raise TrainingError(_("Skema sertifikasi wajib diisi."), field="scheme")
    issuer = _text(data.issuer, 200)
    if not issuer:
        raise TrainingError(_("Penerbit (LSP) wajib diisi."), field="issuer")
    number = _text(data.number, 100)
    if not number:
        raise TrainingError(_("Nomor sertifikat wajib diisi."), field="number")
    if data.issued_on > business_date():
        raise TrainingError(_("Tanggal terbit tidak boleh di masa depan."), field="issued_on")
    if data.expires_on is not None and data.expires_on <= data.issued_on:
        raise TrainingError(
            _("Tanggal kedaluwarsa harus sesudah tanggal terbit."), field="expires_on"
        )
    return {
        "scheme": scheme,
        "issuer": issuer,
        "lsp_bnsp_number": number,
        "issued_on": data.issued_on,
        "expires_on": data.expires_on,
        "skkni_ref": _text(data.skkni_ref, 120),
    }


def _duplicate_certificate(values: dict) -> bool:
    return (
        db.session.scalar(
            select(Certificate.id).where(
                Certificate.issuer == values["issuer"],
                Certificate.lsp_bnsp_number == values["lsp_bnsp_number"],
                Certificate.status != CertificateStatus.REJECTED,
            )
        )
        is not None
    )


def _duplicate_refusal() -> Conflict:
    return Conflict(
        _("Sertifikat bernomor itu dari penerbit itu sudah tercatat."),
        code="duplicate_certificate",
        field="number",
    )


def record_certificate(
    holder,
    data: CertificateInput,
    *,
    by_user,
    enrolment: Enrolment | None = None,
    scan_upload: tuple[bytes, str | None] | None = None,
) -> Certificate:
    """Record a certificate of ``holder`` (a Member or a User) -- from a completed course
    (``enrolment``) or brought by the person. It counts only once another pengurus has
    verified it. ``scan_upload`` (bytes, file name) is checked by its magic bytes and size
    and stored privately, only once everything else is valid."""
    values = _checked_certificate(data)
    if enrolment is not None:
        if EnrolmentStatus(enrolment.status) is not EnrolmentStatus.COMPLETED:
            raise TrainingError(
                _("Catat kelulusan peserta dulu, baru sertifikatnya."), code="not_completed"
            )
        if db.session.scalar(
            select(Certificate.id).where(Certificate.enrolment_id == enrolment.id)
        ):
            raise Conflict(_("Sertifikat peserta ini sudah dicatat."), code="certificate_exists")
        holder = enrolment.member
    member_id, user_id = holder_ids(holder)
    if _duplicate_certificate(values):
        raise _duplicate_refusal()
    scan = None
    if scan_upload is not None:
        from kmp.ledger.books.receipts import ReceiptRejected, store_receipt

        try:
            scan = store_receipt(*scan_upload, by_user=by_user)
        except ReceiptRejected as error:
            raise TrainingError(
                error.message, code=error.code, field="scan", status=error.status
            ) from None
    certificate = Certificate(
        **values,
        member_id=member_id,
        user_id=user_id,
        scan_id=scan.id if scan is not None else None,
        enrolment_id=enrolment.id if enrolment is not None else None,
        status=CertificateStatus.PENDING,
        created_by_id=user_id_of(by_user),
    )
    db.session.add(certificate)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        if _duplicate_certificate(values):  # recorded by someone else a moment ago
            raise _duplicate_refusal() from error
        raise
    return certificate


def _decide_certificate(certificate: Certificate, by_user, state: CertificateStatus, note):
    certificate = _locked(Certificate, certificate.id)
    if CertificateStatus(certificate.status) is not CertificateStatus.PENDING:
        raise TrainingError(_("Sertifikat ini sudah diputuskan."), code="already_decided")
    if by_user is None or not by_user.has_role(Role.PENGURUS):
        raise Forbidden(_("Hanya pengurus yang dapat memverifikasi sertifikat."))
    if certificate.created_by_id is not None and by_user.id == certificate.created_by_id:
        raise Forbidden(
            _(
                "Yang mencatat sertifikat tidak dapat memverifikasinya sendiri: perlu pengurus "
                "yang lain."
            ),
            code="maker_cannot_check",
        )
    certificate.status = state
    certificate.decided_by_id = by_user.id
    certificate.decided_at = now_utc()
    certificate.decision_note = _text(note, 300)
    db.session.flush()
    return certificate


def verify_certificate(
    certificate: Certificate, *, by_user, note: str | None = None
) -> Certificate:
    """A pengurus other than the one who recorded it checks the certificate: from now on it
    counts for the competence rule and shows as verified on the holder's profile."""
    certificate = _decide_certificate(certificate, by_user, CertificateStatus.VERIFIED, note)
    _tell_holder_verified(certificate)
    return certificate


def reject_certificate(certificate: Certificate, *, by_user, note: str) -> Certificate:
    if not (note or "").strip():
        raise TrainingError(_("Alasan penolakan wajib diisi."), field="note")
    return _decide_certificate(certificate, by_user, CertificateStatus.REJECTED, note)


def _tell_holder_verified(certificate: Certificate) -> None:
    from kmp.notify import queue_notification, recipient_locale

    member, user = certificate.member, certificate.user
    login = user or (member.user if member is not None else None)
    address = (member.phone or member.email) if member is not None else None
    address = address or (login.phone or login.email if login is not None else None)
    with recipient_locale(login):
        queue_notification(
            kind="certificate_verified",
            address=address,
            subject=_("Sertifikat Anda terverifikasi"),
            body=_(
                "Sertifikat %(scheme)s nomor %(number)s sudah diverifikasi pengurus dan tampil "
                "di profil Anda.",
                scheme=certificate.scheme,
                number=certificate.lsp_bnsp_number,
            ),
            member_id=certificate.member_id,
            user_id=login.id if login is not None else None,
            dedupe_key=f"certificate_verified:{certificate.id}",
        )
