"""Applications (individual, company), numbering, the event log, contact and NIK corrections,
the member's own-data export."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kmp import signals
from kmp.auth import Role, User, WeakPassword, create_user, normalise_phone, user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import business_date, now_utc
from members.ad.config import ADConfig, GroupConfig
from members.ad.services import current_ad
from members.register.identity import IdentityError, parse_nib, parse_nik, parse_npwp
from members.register.models import (
    Member,
    MemberEvent,
    MemberKind,
    MemberNumberCounter,
    MemberStaff,
    NikCorrection,
    RequestStatus,
)
from members.register.states import MemberStatus, check_transition

PRIVACY_VERSION = "2026-01"


PLATFORMS = {
    "gojek": "Gojek",
    "grab": "Grab",
    "maxim": "Maxim",
    "shopee": "ShopeeFood / SPX",
    "lalamove": "Lalamove",
    "indrive": "inDrive",
    "lainnya": "Lainnya",
}


S = MemberStatus


def reserve_numbers(prefix: str, year: int, count: int = 1) -> int:
    """Atomically take ``count`` numbers from the (prefix, year) counter; returns the FIRST.
    The row lock of the UPDATE serialises concurrent callers; numbers are never reused."""
    if count < 1:
        raise ValueError("count must be positive")
    table = MemberNumberCounter.__table__
    bump = (
        update(table)
        .where(table.c.prefix == prefix, table.c.year == year)
        .values(last_value=table.c.last_value + count)
        .returning(table.c.last_value)
    )
    last = db.session.execute(bump).scalar()
    if last is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(table).values(prefix=prefix, year=year, last_value=0))
        except IntegrityError:
            pass  # someone else created it first
        last = db.session.execute(bump).scalar()
    return last - count + 1


def raise_counter(prefix: str, year: int, at_least: int) -> None:
    """Make sure the counter is at least ``at_least`` (after importing given numbers)."""
    reserve = db.session.execute(
        select(MemberNumberCounter.last_value).where(
            MemberNumberCounter.prefix == prefix, MemberNumberCounter.year == year
        )
    ).scalar()
    if reserve is None:
        reserve_numbers(prefix, year, 1)
        reserve = 1
    if reserve < at_least:
        table = MemberNumberCounter.__table__
        db.session.execute(
            update(table)
            .where(table.c.prefix == prefix, table.c.year == year, table.c.last_value < at_least)
            .values(last_value=at_least)
        )


def record_event(
    member: Member,
    action: str,
    by_user=None,
    note: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
) -> None:
    db.session.add(
        MemberEvent(
            member_id=member.id,
            action=action,
            by_user_id=user_id_of(by_user),
            note=note,
            from_status=from_status,
            to_status=to_status,
        )
    )


def _set_status(
    member: Member, target: MemberStatus, by_user=None, note: str | None = None, **guards
) -> None:
    old = MemberStatus(member.status)
    check_transition(old, target, **guards)
    member.status = target
    member.status_changed_at = now_utc()
    record_event(member, "status", by_user, note, old.value, target.value)
    db.session.flush()
    signals.member_status_changed.send(
        current_app._get_current_object(), member=member, old=old, new=target
    )


@dataclass
class IndividualApplication:
    group_code: str
    full_name: str
    nik: str
    phone: str
    password: str
    consent: bool
    address: str = ""
    email: str | None = None
    platform: str | None = None
    platform_worker_id: str | None = None
    locale: str = "id"


@dataclass
class CompanyApplication:
    company_name: str
    nib: str
    npwp: str
    address: str
    representative_name: str
    representative_nik: str
    representative_phone: str
    password: str
    consent: bool
    email: str | None = None
    platform: str | None = None
    group_code: str = "platform"
    locale: str = "id"


def _refuse(message: str, field: str, code: str = "invalid") -> DomainError:
    return DomainError(message, code=code, field=field)


def _checked_group(ad: ADConfig, code: str, *, company: bool) -> GroupConfig:
    group = ad.get_group(code)
    if group is None or not group.is_active:
        raise _refuse(
            gettext("Kelompok anggota tidak dikenal atau sedang tidak menerima pendaftaran."),
            "group_code",
            "unknown_group",
        )
    if group.is_company != company:
        raise _refuse(
            gettext("Formulir ini bukan untuk kelompok tersebut."), "group_code", "wrong_group_kind"
        )
    return group


def _checked_nik(text: str, field: str = "nik"):
    try:
        return parse_nik(text, business_date(), field)
    except IdentityError as error:
        raise _refuse(error.message, error.field, "invalid_nik") from None


def _checked_phone(text: str, field: str = "phone") -> str:
    try:
        return normalise_phone(text)
    except ValueError as error:
        raise _refuse(str(error), field, "invalid_phone") from None


def _checked_email(text: str | None) -> str | None:
    email = (text or "").strip().lower()
    if not email:
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise _refuse(gettext("Alamat email tidak valid."), "email", "invalid_email") from None


def _checked_platform(group: GroupConfig, platform: str | None, worker_id: str | None):
    platform = (platform or "").strip().lower() or None
    worker_id = (worker_id or "").strip().upper() or None
    if platform is not None and platform not in PLATFORMS:
        raise _refuse(gettext("Pilih platform dari daftar."), "platform", "unknown_platform")
    if group.requires_platform_id:
        if platform is None:
            raise _refuse(
                gettext("Pilih platform tempat Anda bekerja."), "platform", "platform_required"
            )
        if worker_id is None:
            raise _refuse(
                gettext("ID mitra (ID pengemudi/kurir) di platform wajib diisi."),
                "platform_worker_id",
                "worker_id_required",
            )
    if worker_id is not None and platform is None:
        raise _refuse(
            gettext("Pilih platform untuk ID mitra ini."), "platform", "platform_required"
        )
    if worker_id is not None and len(worker_id) > 60:
        raise _refuse(gettext("ID mitra terlalu panjang."), "platform_worker_id", "invalid")
    return platform, worker_id


def _ensure_unique(
    *,
    nik: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    platform: str | None = None,
    worker_id: str | None = None,
    nib: str | None = None,
    except_member: Member | None = None,
) -> None:
    skip = except_member.id if except_member else -1
    skip_user = except_member.user_id if except_member and except_member.user_id else -1
    if nik and db.session.scalar(select(Member.id).where(Member.nik == nik, Member.id != skip)):
        raise _refuse(
            gettext("NIK ini sudah terdaftar di koperasi. Jika ini NIK Anda, hubungi pengurus."),
            "nik",
            "duplicate_nik",
        )
    if phone and (
        db.session.scalar(select(Member.id).where(Member.phone == phone, Member.id != skip))
        or db.session.scalar(select(User.id).where(User.phone == phone, User.id != skip_user))
    ):
        raise _refuse(
            gettext("Nomor HP ini sudah terdaftar. Masuk dengan nomor ini, atau pakai nomor lain."),
            "phone",
            "duplicate_phone",
        )
    if email and db.session.scalar(
        select(User.id).where(User.email == email, User.id != skip_user)
    ):
        raise _refuse(
            gettext(
                "Email ini sudah dipakai akun lain. Masuk dengan email itu, atau "
                "kosongkan kolom email."
            ),
            "email",
            "duplicate_email",
        )
    if (
        platform
        and worker_id
        and db.session.scalar(
            select(Member.id).where(
                Member.platform == platform,
                Member.platform_worker_id == worker_id,
                Member.id != skip,
            )
        )
    ):
        raise _refuse(
            gettext(
                "ID mitra %(worker_id)s di %(platform)s sudah terdaftar atas nama anggota lain.",
                worker_id=worker_id,
                platform=PLATFORMS.get(platform, platform),
            ),
            "platform_worker_id",
            "duplicate_worker_id",
        )
    if nib and db.session.scalar(select(Member.id).where(Member.nib == nib, Member.id != skip)):
        raise _refuse(gettext("NIB ini sudah terdaftar di koperasi."), "nib", "duplicate_nib")


def _create_login(
    *, full_name: str, password: str, email: str | None, phone: str, role: Role, locale: str
) -> User:
    try:
        return create_user(
            full_name=full_name,
            password=password,
            email=email,
            phone=phone,
            roles=(role,),
            locale=locale,
        )
    except WeakPassword as error:
        raise _refuse(error.message, "password", "weak_password") from None


def _flush_or_conflict() -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            gettext(
                "Data ini baru saja didaftarkan orang lain (NIK, nomor HP atau ID mitra "
                "sama). Periksa lagi isian Anda."
            ),
            code="duplicate",
        ) from error


def apply_individual(data: IndividualApplication) -> Member:
    """An individual applies (public form): validates, creates the login (role anggota) and
    the member in status ``applied``."""
    ad = current_ad()
    group = _checked_group(ad, data.group_code, company=False)
    full_name = (data.full_name or "").strip()
    if not full_name:
        raise _refuse(gettext("Nama lengkap wajib diisi."), "full_name", "required")
    nik = _checked_nik(data.nik)
    phone = _checked_phone(data.phone)
    email = _checked_email(data.email)
    platform, worker_id = _checked_platform(group, data.platform, data.platform_worker_id)
    if not data.consent:
        raise _refuse(
            gettext("Anda perlu menyetujui pernyataan privasi untuk mendaftar."),
            "consent",
            "consent_required",
        )
    _ensure_unique(nik=nik.nik, phone=phone, email=email, platform=platform, worker_id=worker_id)
    user = _create_login(
        full_name=full_name,
        password=data.password,
        email=email,
        phone=phone,
        role=Role.ANGGOTA,
        locale=data.locale,
    )
    member = Member(
        group_code=group.code,
        kind=MemberKind.INDIVIDUAL,
        status=S.APPLIED,
        full_name=full_name,
        nik=nik.nik,
        birth_date=nik.birth_date,
        phone=phone,
        email=email,
        address=(data.address or "").strip() or None,
        platform=platform,
        platform_worker_id=worker_id,
        is_extraordinary=group.is_extraordinary,
        consent_at=now_utc(),
        consent_version=PRIVACY_VERSION,
        user_id=user.id,
        ad_version_id=ad.version_id,
    )
    db.session.add(member)
    _flush_or_conflict()
    record_event(member, "applied", user, f"Kelompok {group.name_id}", None, S.APPLIED.value)
    db.session.flush()
    return member


def apply_company(data: CompanyApplication) -> Member:
    """A platform company applies as a legal entity; its representative gets a partner login."""
    ad = current_ad()
    group = _checked_group(ad, data.group_code, company=True)
    company_name = (data.company_name or "").strip()
    if not company_name:
        raise _refuse(gettext("Nama perusahaan wajib diisi."), "company_name", "required")
    try:
        nib = parse_nib(data.nib)
        npwp = parse_npwp(data.npwp)
    except IdentityError as error:
        raise _refuse(error.message, error.field, "invalid_" + error.field) from None
    address = (data.address or "").strip()
    if not address:
        raise _refuse(gettext("Alamat perusahaan wajib diisi."), "address", "required")
    rep_name = (data.representative_name or "").strip()
    if not rep_name:
        raise _refuse(gettext("Nama perwakilan wajib diisi."), "representative_name", "required")
    rep_nik = _checked_nik(data.representative_nik, "representative_nik")
    phone = _checked_phone(data.representative_phone, "representative_phone")
    email = _checked_email(data.email)
    platform = (data.platform or "").strip().lower() or None
    if platform is not None and platform not in PLATFORMS:
        raise _refuse(gettext("Pilih platform dari daftar."), "platform", "unknown_platform")
    if not data.consent:
        raise _refuse(
            gettext("Anda perlu menyetujui pernyataan privasi untuk mendaftar."),
            "consent",
            "consent_required",
        )
    try:
        _ensure_unique(phone=phone, email=email, nib=nib)
    except DomainError as error:
        if error.field == "phone":
            error.field = "representative_phone"
        raise
    user = _create_login(
        full_name=rep_name,
        password=data.password,
        email=email,
        phone=phone,
        role=Role.PARTNER,
        locale=data.locale,
    )
    member = Member(
        group_code=group.code,
        kind=MemberKind.COMPANY,
        status=S.APPLIED,
        full_name=company_name,
        company_name=company_name,
        nib=nib,
        npwp=npwp,
        representative_name=rep_name,
        representative_nik=rep_nik.nik,
        phone=phone,
        email=email,
        address=address,
        platform=platform,
        is_extraordinary=group.is_extraordinary,
        consent_at=now_utc(),
        consent_version=PRIVACY_VERSION,
        user_id=user.id,
        ad_version_id=ad.version_id,
    )
    db.session.add(member)
    _flush_or_conflict()
    db.session.add(
        MemberStaff(
            member_id=member.id, user_id=user.id, title="Perwakilan", is_representative=True
        )
    )
    record_event(member, "applied", user, f"Kelompok {group.name_id}", None, S.APPLIED.value)
    db.session.flush()
    return member


def add_company_staff(
    member: Member,
    *,
    full_name: str,
    password: str,
    by_user,
    email: str | None = None,
    phone: str | None = None,
    title: str | None = None,
) -> MemberStaff:
    """Another staff login for a platform company (role partner)."""
    if not member.is_company:
        raise DomainError(gettext("Hanya anggota perusahaan yang punya staf."), code="not_company")
    if not (full_name or "").strip():
        raise _refuse(gettext("Nama staf wajib diisi."), "full_name", "required")
    email = _checked_email(email)
    phone = _checked_phone(phone) if phone else None
    if not email and not phone:
        raise _refuse(gettext("Email atau nomor HP staf wajib diisi."), "email", "required")
    _ensure_unique(email=email)
    if phone and db.session.scalar(select(User.id).where(User.phone == phone)):
        raise _refuse(gettext("Nomor HP ini sudah dipakai akun lain."), "phone", "duplicate_phone")
    try:
        user = create_user(
            full_name=full_name.strip(),
            password=password,
            email=email,
            phone=phone,
            roles=(Role.PARTNER,),
        )
    except WeakPassword as error:
        raise _refuse(error.message, "password", "weak_password") from None
    staff = MemberStaff(member_id=member.id, user_id=user.id, title=(title or "").strip() or None)
    db.session.add(staff)
    record_event(member, "staff_added", by_user, f"Login staf: {user.login_name}")
    db.session.flush()
    return staff


def new_request_token() -> str:
    return secrets.token_urlsafe(24)


def update_contact(
    member: Member, *, phone: str, email: str | None, address: str | None, by_user
) -> Member:
    """The member changes phone/email/address (NIK goes through ``request_nik_correction``)."""
    new_phone = _checked_phone(phone) if phone or not member.is_company else member.phone
    new_email = _checked_email(email)
    _ensure_unique(
        phone=new_phone if new_phone != member.phone else None,
        email=new_email if new_email != member.email else None,
        except_member=member,
    )
    changes = []
    if new_phone != member.phone:
        changes.append("nomor HP")
        member.phone = new_phone
        if member.user is not None:
            member.user.phone = new_phone
    if new_email != member.email:
        changes.append("email")
        member.email = new_email
        if member.user is not None and (new_email or member.user.phone):
            member.user.email = new_email
    address = (address or "").strip() or None
    if address != member.address:
        changes.append("alamat")
        member.address = address
    if changes:
        record_event(member, "contact_updated", by_user, "Diubah: " + ", ".join(changes))
    _flush_or_conflict()
    return member


def request_nik_correction(member: Member, new_nik: str, reason: str) -> NikCorrection:
    nik = _checked_nik(new_nik, "new_nik")
    if nik.nik == member.nik:
        raise _refuse(gettext("NIK baru sama dengan NIK yang tercatat."), "new_nik", "same_nik")
    if not (reason or "").strip():
        raise _refuse(gettext("Jelaskan alasan koreksi NIK."), "reason", "reason_required")
    if db.session.scalar(
        select(NikCorrection.id).where(
            NikCorrection.member_id == member.id, NikCorrection.status == RequestStatus.PENDING
        )
    ):
        raise Conflict(
            gettext("Masih ada permintaan koreksi NIK yang menunggu keputusan pengurus."),
            code="correction_pending",
        )
    try:
        _ensure_unique(nik=nik.nik, except_member=member)
    except DomainError as error:
        error.field = "new_nik"
        raise
    request = NikCorrection(
        member_id=member.id, new_nik=nik.nik, reason=reason.strip(), status=RequestStatus.PENDING
    )
    db.session.add(request)
    record_event(member, "nik_correction_requested", member.user_id)
    db.session.flush()
    return request


def decide_nik_correction(
    request: NikCorrection, by_user, approve: bool, note: str | None = None
) -> NikCorrection:
    if request.status is not RequestStatus.PENDING:
        raise IllegalTransition(gettext("Permintaan ini sudah diputuskan."), code="decided")
    member = request.member
    if approve:
        nik = _checked_nik(request.new_nik)
        _ensure_unique(nik=nik.nik, except_member=member)
        old = member.nik
        member.nik = nik.nik
        member.birth_date = nik.birth_date
        record_event(
            member,
            "nik_corrected",
            by_user,
            f"NIK diganti (akhiran {old[-4:] if old else '-'} -> {nik.nik[-4:]})",
        )
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    request.decided_at = now_utc()
    request.decided_by_id = user_id_of(by_user)
    request.decision_note = (note or "").strip() or None
    _flush_or_conflict()
    return request


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
