"""Membership use cases (verb_noun). Services flush, never commit, never touch the request.

Money before admission (the design choice, so ``kmp ledger-check`` always balances)
--------------------------------------------------------------------------------------
A member's savings accounts (``open_member_accounts``) are keyed by the member number, which
exists only once the member is admitted. Money an *applicant* pays towards simpanan pokok is
not yet member equity: if the application is refused it goes back. So it is booked as a
liability in a per-applicant account ``liability:applicant-principal:A<member id>`` (owner =
the member's id, no negative balance), opened at the first payment:

    applicant pays Rp X in cash:  CASH +X / liability:applicant-principal:A<id> -X
    admission (approved + pokok fully paid, whichever comes last):
        liability:applicant-principal:A<id> +paid / equity:savings:principal:<member_no> -paid
    refused / withdrawn with money paid:
        liability:applicant-principal:A<id> +paid / liability:exit-refund-payable -paid
        (then the bendahara pays it out like an exit refund)

"Pokok fully paid" = the applicant account (before admission) or the principal account
(after) holds at least the group's pokok amount in the current AD.

Exit: the member's pokok and wajib balances move to ``liability:exit-refund-payable`` less the
unpaid obligations (arrears), which are credited to ``asset:receivable:members``: the savings
issue bills wajib as ``receivable +X / wajib -X`` so that unpaid bills sit in both accounts
and the exit entry clears them. Arrears come from the hook
``members.billing.member_arrears_idr_hook(member) -> int``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kmp import signals
from kmp.auth import Role, User, WeakPassword, create_user, normalise_phone, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.ledger.chart import BANK, CASH, REFUND_PAYABLE, member_account_code, open_member_accounts
from kmp.ledger.models import Account, AccountType
from kmp.ledger.queries import balance_of
from kmp.ledger.services import open_account, post_entry
from kmp.timeutil import business_date, now_utc
from members.ad import ADConfig, ADInvalid, GroupConfig, ensure_valid, validate_ad
from members.identity import (
    IdentityError,
    format_member_no,
    parse_nib,
    parse_nik,
    parse_npwp,
)
from members.models import (
    ADVersion,
    Certificate,
    ExitCase,
    ExitKind,
    ExitStatus,
    Member,
    MemberEvent,
    MemberKind,
    MemberNumberCounter,
    MemberStaff,
    NikCorrection,
    Officer,
    OfficerBody,
    OfficerFunction,
    PaymentMethod,
    Receipt,
    RequestStatus,
    SavingsPurpose,
)
from members.states import NUMBERED, MemberStatus, check_transition

APPLICANT_PRINCIPAL_PREFIX = "liability:applicant-principal"
OPENING_BALANCE = "equity:opening-balance"
MEMBER_RECEIVABLE = "asset:receivable:members"
RECEIPT_PREFIX = "KWT"
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


# =========================================================================== AD configuration


def install_default_ad() -> ADVersion:
    """Install version 1 with the shipped defaults when no version exists (idempotent)."""
    existing = db.session.scalar(select(ADVersion).order_by(ADVersion.version).limit(1))
    if existing is not None:
        return existing
    config = ensure_valid(ADConfig())
    version = ADVersion(
        version=1, payload=config.to_payload(), reason="AD bawaan KMP (domain.md, keputusan 1-12)"
    )
    db.session.add(version)
    db.session.flush()
    return version


def install_member_defaults() -> None:
    """The ``kmp init`` hook: the default AD and the opening-balance equity account."""
    install_default_ad()
    open_account(
        OPENING_BALANCE, "Ekuitas saldo awal (pindahan dari pembukuan lama)", AccountType.EQUITY
    )


#: Parsed AD configurations by (database, id, version, created_at). A version is append-only
#: (a change is a new row) and ``ADConfig`` is frozen, so a parsed one is reused by later
#: requests of this process; any version written through the ORM empties it.
_AD_PARSED: dict[tuple, ADConfig] = {}


@event.listens_for(ADVersion, "after_insert")
@event.listens_for(ADVersion, "after_update")
@event.listens_for(ADVersion, "after_delete")
def _forget_parsed_ad(mapper, connection, target) -> None:  # noqa: ARG001
    _AD_PARSED.clear()


def current_ad() -> ADConfig:
    """The AD configuration in force (``version_id``/``version`` say which one). One small
    query says which version is in force; its parsed form is kept per request and per process
    (keyed so that another database or a re-created version is never mistaken)."""
    row = db.session.execute(
        select(ADVersion.id, ADVersion.version, ADVersion.created_at)
        .order_by(ADVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(
            "Konfigurasi AD belum dipasang: jalankan `flask kmp init`.", code="ad_missing"
        )
    cache = g.setdefault("kmp_ad_cache", {})
    if row.id not in cache:
        key = (db.engine.url, row.id, row.version, row.created_at)
        ad = _AD_PARSED.get(key)
        if ad is None:
            payload = db.session.scalar(select(ADVersion.payload).where(ADVersion.id == row.id))
            ad = ADConfig.from_payload(payload, version_id=row.id, version=row.version)
            if len(_AD_PARSED) > 64:
                _AD_PARSED.clear()
            _AD_PARSED[key] = ad
        cache[row.id] = ad
    return cache[row.id]


def ad_at_version(version: int) -> tuple[ADVersion, ADConfig]:
    row = db.session.scalar(select(ADVersion).where(ADVersion.version == version))
    if row is None:
        raise NotFound(f"Versi AD {version} tidak ada.")
    return row, ADConfig.from_payload(row.payload, version_id=row.id, version=row.version)


def update_ad(new: ADConfig | dict, by_user, reason: str) -> ADConfig:
    """Validate and store a new AD version (who/when/why). Nothing is written if refused."""
    if not (reason or "").strip():
        raise DomainError(
            "Alasan perubahan AD wajib diisi.", code="reason_required", field="reason"
        )
    config = new if isinstance(new, ADConfig) else ADConfig.from_payload(new)
    problems = validate_ad(config)
    used = set(db.session.scalars(select(Member.group_code).distinct()))
    codes = {grp.code for grp in config.groups}
    for code in sorted(used - codes):
        problems.append(
            (
                "groups",
                f"kelompok '{code}' masih punya anggota: nonaktifkan kelompok itu, jangan dihapus.",
            )
        )
    if problems:
        raise ADInvalid(problems)
    current = current_ad()
    payload = config.to_payload()
    if payload == current.to_payload():
        raise DomainError("Tidak ada perubahan dibanding AD yang berlaku.", code="ad_unchanged")
    row = ADVersion(
        version=current.version + 1,
        payload=payload,
        reason=reason.strip(),
        created_by_id=user_id_of(by_user),
    )
    db.session.add(row)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            "AD baru saja diubah orang lain; muat ulang halaman lalu coba lagi.",
            code="ad_concurrent_change",
        ) from error
    signals.audit_event.send(
        current_app._get_current_object(),
        action="ad_updated",
        target=f"ad:{row.version}",
        before=current.version,
        after=row.version,
    )
    return current_ad()


# =========================================================================== numbers


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


def next_receipt_number(on: dt.date) -> str:
    return format_member_no(RECEIPT_PREFIX, on.year, reserve_numbers(RECEIPT_PREFIX, on.year))


# =========================================================================== events/status


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


# =========================================================================== application


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
            "Kelompok anggota tidak dikenal atau sedang tidak menerima pendaftaran.",
            "group_code",
            "unknown_group",
        )
    if group.is_company != company:
        raise _refuse(
            "Formulir ini bukan untuk kelompok tersebut.", "group_code", "wrong_group_kind"
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
        raise _refuse("Alamat email tidak valid.", "email", "invalid_email") from None


def _checked_platform(group: GroupConfig, platform: str | None, worker_id: str | None):
    platform = (platform or "").strip().lower() or None
    worker_id = (worker_id or "").strip().upper() or None
    if platform is not None and platform not in PLATFORMS:
        raise _refuse("Pilih platform dari daftar.", "platform", "unknown_platform")
    if group.requires_platform_id:
        if platform is None:
            raise _refuse("Pilih platform tempat Anda bekerja.", "platform", "platform_required")
        if worker_id is None:
            raise _refuse(
                "ID mitra (ID pengemudi/kurir) di platform wajib diisi.",
                "platform_worker_id",
                "worker_id_required",
            )
    if worker_id is not None and platform is None:
        raise _refuse("Pilih platform untuk ID mitra ini.", "platform", "platform_required")
    if worker_id is not None and len(worker_id) > 60:
        raise _refuse("ID mitra terlalu panjang.", "platform_worker_id", "invalid")
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
            "NIK ini sudah terdaftar di koperasi. Jika ini NIK Anda, hubungi pengurus.",
            "nik",
            "duplicate_nik",
        )
    if phone and (
        db.session.scalar(select(Member.id).where(Member.phone == phone, Member.id != skip))
        or db.session.scalar(select(User.id).where(User.phone == phone, User.id != skip_user))
    ):
        raise _refuse(
            "Nomor HP ini sudah terdaftar. Masuk dengan nomor ini, atau pakai nomor lain.",
            "phone",
            "duplicate_phone",
        )
    if email and db.session.scalar(
        select(User.id).where(User.email == email, User.id != skip_user)
    ):
        raise _refuse(
            "Email ini sudah dipakai akun lain. Masuk dengan email itu, atau "
            "kosongkan kolom email.",
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
            f"ID mitra {worker_id} di {PLATFORMS.get(platform, platform)} sudah "
            "terdaftar atas nama anggota lain.",
            "platform_worker_id",
            "duplicate_worker_id",
        )
    if nib and db.session.scalar(select(Member.id).where(Member.nib == nib, Member.id != skip)):
        raise _refuse("NIB ini sudah terdaftar di koperasi.", "nib", "duplicate_nib")


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
            "Data ini baru saja didaftarkan orang lain (NIK, nomor HP atau ID mitra "
            "sama). Periksa lagi isian Anda.",
            code="duplicate",
        ) from error


def apply_individual(data: IndividualApplication) -> Member:
    """An individual applies (public form): validates, creates the login (role anggota) and
    the member in status ``applied``."""
    ad = current_ad()
    group = _checked_group(ad, data.group_code, company=False)
    full_name = (data.full_name or "").strip()
    if not full_name:
        raise _refuse("Nama lengkap wajib diisi.", "full_name", "required")
    nik = _checked_nik(data.nik)
    phone = _checked_phone(data.phone)
    email = _checked_email(data.email)
    platform, worker_id = _checked_platform(group, data.platform, data.platform_worker_id)
    if not data.consent:
        raise _refuse(
            "Anda perlu menyetujui pernyataan privasi untuk mendaftar.",
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
        raise _refuse("Nama perusahaan wajib diisi.", "company_name", "required")
    try:
        nib = parse_nib(data.nib)
        npwp = parse_npwp(data.npwp)
    except IdentityError as error:
        raise _refuse(error.message, error.field, "invalid_" + error.field) from None
    address = (data.address or "").strip()
    if not address:
        raise _refuse("Alamat perusahaan wajib diisi.", "address", "required")
    rep_name = (data.representative_name or "").strip()
    if not rep_name:
        raise _refuse("Nama perwakilan wajib diisi.", "representative_name", "required")
    rep_nik = _checked_nik(data.representative_nik, "representative_nik")
    phone = _checked_phone(data.representative_phone, "representative_phone")
    email = _checked_email(data.email)
    platform = (data.platform or "").strip().lower() or None
    if platform is not None and platform not in PLATFORMS:
        raise _refuse("Pilih platform dari daftar.", "platform", "unknown_platform")
    if not data.consent:
        raise _refuse(
            "Anda perlu menyetujui pernyataan privasi untuk mendaftar.",
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
        raise DomainError("Hanya anggota perusahaan yang punya staf.", code="not_company")
    if not (full_name or "").strip():
        raise _refuse("Nama staf wajib diisi.", "full_name", "required")
    email = _checked_email(email)
    phone = _checked_phone(phone) if phone else None
    if not email and not phone:
        raise _refuse("Email atau nomor HP staf wajib diisi.", "email", "required")
    _ensure_unique(email=email)
    if phone and db.session.scalar(select(User.id).where(User.phone == phone)):
        raise _refuse("Nomor HP ini sudah dipakai akun lain.", "phone", "duplicate_phone")
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


# =========================================================================== pokok, admission


@dataclass(frozen=True)
class PokokStatus:
    required_idr: int
    paid_idr: int
    instalments_allowed: bool

    @property
    def remaining_idr(self) -> int:
        return max(self.required_idr - self.paid_idr, 0)

    @property
    def fully_paid(self) -> bool:
        return self.paid_idr >= self.required_idr


def applicant_account_code(member: Member) -> str:
    return f"{APPLICANT_PRINCIPAL_PREFIX}:A{member.id}"


def _natural_balance(code: str) -> int:
    row = db.session.execute(
        select(Account.id, Account.normal_sign).where(Account.code == code)
    ).first()
    if row is None:
        return 0
    return balance_of(row.id) * row.normal_sign


def pokok_paid_idr(member: Member) -> int:
    if member.member_no and MemberStatus(member.status) in NUMBERED:
        return _natural_balance(member_account_code("pokok", member.member_no))
    return _natural_balance(applicant_account_code(member))


def pokok_status(member: Member, ad: ADConfig | None = None) -> PokokStatus:
    ad = ad or current_ad()
    group = ad.get_group(member.group_code)
    required = group.pokok_idr if group else 0
    allowed = group.pokok_instalments_allowed if group else True
    return PokokStatus(required, pokok_paid_idr(member), allowed)


def approve_member(member: Member, by_user) -> Member:
    """The board approves an application; admission follows when pokok is fully paid."""
    _set_status(member, S.APPROVED, by_user)
    member.approved_at = now_utc()
    member.approved_by_id = user_id_of(by_user)
    db.session.flush()
    activate_if_ready(member, by_user)
    return member


def activate_if_ready(member: Member, by_user=None) -> bool:
    """Admit an approved member whose pokok is fully paid: number, accounts, signal."""
    if MemberStatus(member.status) is not S.APPROVED:
        return False
    ad = current_ad()
    status = pokok_status(member, ad)
    if not status.fully_paid:
        return False
    check_transition(member.status, S.ACTIVE, pokok_paid=True)
    group = ad.group(member.group_code)
    today = business_date()
    member.member_no = format_member_no(
        group.member_no_prefix, today.year, reserve_numbers(group.member_no_prefix, today.year)
    )
    member.joined_date = today
    member.activated_at = now_utc()
    _set_status(member, S.ACTIVE, by_user, "Disetujui dan simpanan pokok lunas", pokok_paid=True)
    ids = open_member_accounts(member.id, member.member_no)
    deposit = _natural_balance(applicant_account_code(member))
    if deposit:
        post_entry(
            idempotency_key=f"member-admission:{member.id}",
            description=f"Simpanan pokok calon anggota menjadi simpanan pokok {member.member_no}",
            lines=[(applicant_account_code(member), deposit), (ids["pokok"], -deposit)],
            source_kind="member_admission",
            source_id=member.id,
            posted_by=by_user,
        )
    record_event(member, "admitted", by_user, f"Nomor anggota {member.member_no}")
    db.session.flush()
    signals.member_admitted.send(current_app._get_current_object(), member=member)
    return True


def _refund_application_deposit(member: Member, by_user, reason: str) -> ExitCase | None:
    deposit = _natural_balance(applicant_account_code(member))
    if not deposit:
        return None
    case = ExitCase(
        member_id=member.id,
        kind=ExitKind.APPLICATION,
        status=ExitStatus.PAYABLE,
        reason=reason,
        requested_by_id=user_id_of(by_user),
        decided_at=now_utc(),
        decided_by_id=user_id_of(by_user),
        pokok_idr=deposit,
        refund_idr=deposit,
        ad_version_id=current_ad().version_id,
    )
    db.session.add(case)
    db.session.flush()
    entry = post_entry(
        idempotency_key=f"application-refund:{member.id}",
        description=f"Pengembalian simpanan pokok pendaftar #{member.id} ({reason})",
        lines=[(applicant_account_code(member), deposit), (REFUND_PAYABLE, -deposit)],
        source_kind="exit_case",
        source_id=case.id,
        posted_by=by_user,
    )
    case.payable_entry_id = entry.id
    db.session.flush()
    return case


def reject_member(member: Member, by_user, reason: str) -> Member:
    reason = (reason or "").strip()
    check_transition(member.status, S.REJECTED, reason=reason)
    member.rejection_reason = reason
    _set_status(member, S.REJECTED, by_user, reason, reason=reason)
    _refund_application_deposit(member, by_user, "pendaftaran ditolak")
    return member


def withdraw_application(member: Member, by_user) -> Member:
    _set_status(member, S.WITHDRAWN, by_user, "Pendaftaran dibatalkan")
    _refund_application_deposit(member, by_user, "pendaftaran dibatalkan")
    return member


# =========================================================================== deposits


def savings_account_code(member: Member, purpose: SavingsPurpose | str) -> str:
    """The account a deposit of ``purpose`` for ``member`` is credited to (see module doc)."""
    purpose = SavingsPurpose(purpose)
    status = MemberStatus(member.status)
    if purpose is SavingsPurpose.POKOK and status in (S.APPLIED, S.APPROVED):
        return applicant_account_code(member)
    if status is not S.ACTIVE or not member.member_no:
        raise IllegalTransition(
            f"Simpanan {purpose.value} tidak bisa diterima: status keanggotaan '{status.label}'.",
            code="member_not_active",
        )
    return member_account_code(purpose.value, member.member_no)


def _check_deposit(member: Member, purpose: SavingsPurpose, amount_idr: int) -> str:
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise _refuse("Jumlah harus lebih dari Rp 0.", "amount_idr", "invalid_amount")
    code = savings_account_code(member, purpose)
    if purpose is SavingsPurpose.POKOK:
        status = pokok_status(member)
        if status.remaining_idr == 0:
            raise Conflict(
                "Simpanan pokok anggota ini sudah lunas.", code="pokok_paid", field="amount_idr"
            )
        if amount_idr > status.remaining_idr:
            raise _refuse(
                f"Jumlah melebihi sisa simpanan pokok (sisa Rp {status.remaining_idr:,}).".replace(
                    ",", "."
                ),
                "amount_idr",
                "pokok_overpaid",
            )
        if not status.instalments_allowed and amount_idr != status.remaining_idr:
            raise _refuse(
                f"Simpanan pokok kelompok ini harus dibayar lunas sekaligus: Rp "
                f"{status.remaining_idr:,}.".replace(",", "."),
                "amount_idr",
                "pokok_in_full",
            )
    if code.startswith(APPLICANT_PRINCIPAL_PREFIX):
        open_account(
            code,
            f"Titipan simpanan pokok pendaftar #{member.id}",
            AccountType.LIABILITY,
            owner_id=member.id,
            no_negative=True,
        )
    return code


def savings_credit_lines(
    member_id: int, purpose: SavingsPurpose | str, amount_idr: int
) -> list[tuple[str, int]]:
    """For a payment intent: the credit line(s) of a deposit, checked (pokok not overpaid,
    instalments as the AD allows, member in a state that may deposit) and the applicant
    account opened."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("Anggota tidak ditemukan.")
    return [(_check_deposit(member, SavingsPurpose(purpose), amount_idr), amount_idr)]


def credit_savings(
    member: Member,
    purpose: SavingsPurpose | str,
    amount_idr: int,
    *,
    debit_account: str,
    idempotency_key: str,
    source_kind: str,
    source_id: str | int | None = None,
    by_user=None,
    entry_date: dt.date | None = None,
    description: str | None = None,
):
    """Post a savings deposit (``debit_account`` +X, the member's savings account -X) and
    admit the member if this completes pokok. For payments: call from a ``payment_settled``
    receiver."""
    purpose = SavingsPurpose(purpose)
    code = _check_deposit(member, purpose, amount_idr)
    label = member.member_no or f"pendaftar #{member.id}"
    entry = post_entry(
        idempotency_key=idempotency_key,
        description=description or f"Simpanan {purpose.value} {label}",
        lines=[(debit_account, amount_idr), (code, -amount_idr)],
        source_kind=source_kind,
        source_id=source_id,
        entry_date=entry_date,
        posted_by=by_user,
    )
    if purpose is SavingsPurpose.POKOK:
        activate_if_ready(member, by_user)
    return entry


def record_receipt(
    member: Member,
    *,
    purpose: SavingsPurpose | str,
    amount_idr: int,
    method: PaymentMethod | str,
    by_user,
    request_token: str,
    reference: str | None = None,
    received_on: dt.date | None = None,
) -> Receipt:
    """The bendahara records money received in cash or by bank transfer: a numbered receipt
    and its ledger entry. The same ``request_token`` twice returns the first receipt."""
    existing = db.session.scalar(select(Receipt).where(Receipt.request_token == request_token))
    if existing is not None:
        return existing
    purpose, method = SavingsPurpose(purpose), PaymentMethod(method)
    today = business_date()
    received_on = received_on or today
    if received_on > today:
        raise _refuse("Tanggal terima tidak boleh di masa depan.", "received_on", "future_date")
    number = next_receipt_number(received_on)
    label = member.member_no or f"pendaftar #{member.id}"
    entry = credit_savings(
        member,
        purpose,
        amount_idr,
        debit_account=CASH if method is PaymentMethod.CASH else BANK,
        idempotency_key=f"receipt:{request_token}",
        source_kind="receipt",
        source_id=number,
        by_user=by_user,
        entry_date=received_on,
        description=f"Kwitansi {number}: simpanan {purpose.value} {label} "
        f"({'tunai' if method is PaymentMethod.CASH else 'transfer bank'})",
    )
    receipt = Receipt(
        number=number,
        request_token=request_token,
        member_id=member.id,
        purpose=purpose,
        method=method,
        amount_idr=amount_idr,
        reference=(reference or "").strip() or None,
        received_on=received_on,
        recorded_by_id=user_id_of(by_user),
        entry_id=entry.id,
    )
    db.session.add(receipt)
    if purpose is SavingsPurpose.WAJIB:  # savings issue: pay the oldest wajib bills first
        from members.billing import settle_obligations

        settle_obligations(member.id, amount_idr, paid_on=received_on, source=f"receipt:{number}")
    record_event(
        member,
        "receipt",
        by_user,
        f"{number}: simpanan {purpose.value} Rp {amount_idr:,}".replace(",", "."),
    )
    db.session.flush()
    return receipt


def new_request_token() -> str:
    return secrets.token_urlsafe(24)


# =========================================================================== exit


@dataclass(frozen=True)
class RefundQuote:
    pokok_idr: int
    wajib_idr: int
    arrears_idr: int  # obligations deducted (at most pokok + wajib)
    sukarela_idr: int  # shown for information: withdrawn separately

    @property
    def refund_idr(self) -> int:
        return self.pokok_idr + self.wajib_idr - self.arrears_idr


def member_arrears_idr(member: Member) -> int:
    """Unpaid obligations (wajib arrears) from the savings feature's hook; 0 until it exists."""
    from members import billing

    return int(billing.member_arrears_idr_hook(member))


def compute_refund(member: Member) -> RefundQuote:
    if not member.member_no:
        return RefundQuote(0, 0, 0, 0)
    pokok = _natural_balance(member_account_code("pokok", member.member_no))
    wajib = _natural_balance(member_account_code("wajib", member.member_no))
    sukarela = _natural_balance(member_account_code("sukarela", member.member_no))
    arrears = min(max(member_arrears_idr(member), 0), pokok + wajib)
    return RefundQuote(pokok, wajib, arrears, sukarela)


def open_exit_case(member: Member) -> ExitCase | None:
    return db.session.scalar(
        select(ExitCase).where(
            ExitCase.member_id == member.id,
            ExitCase.kind != ExitKind.APPLICATION,
            ExitCase.status == ExitStatus.REQUESTED,
        )
    )


def request_exit(
    member: Member,
    by_user,
    reason: str | None = None,
    *,
    kind: ExitKind | str = ExitKind.EXIT,
    heir_name: str | None = None,
    heir_relationship: str | None = None,
) -> ExitCase:
    """The member (or the board) asks to end the membership; death is reported by the board
    with the heir who receives the refund."""
    kind = ExitKind(kind)
    if kind is ExitKind.APPLICATION:
        raise DomainError("Jenis keluar tidak dikenal.")
    if open_exit_case(member) is not None:
        raise Conflict(
            "Sudah ada pengajuan keluar yang menunggu keputusan pengurus.", code="exit_pending"
        )
    if kind is ExitKind.DEATH:
        heir_name = (heir_name or "").strip()
        if not heir_name:
            raise _refuse("Nama ahli waris wajib diisi.", "heir_name", "required")
        _set_status(member, S.DECEASED, by_user, reason or "Meninggal dunia")
    else:
        _set_status(member, S.EXIT_REQUESTED, by_user, reason or "Mengajukan keluar")
    case = ExitCase(
        member_id=member.id,
        kind=kind,
        status=ExitStatus.REQUESTED,
        reason=(reason or "").strip() or None,
        heir_name=heir_name or None,
        heir_relationship=(heir_relationship or "").strip() or None,
        requested_by_id=user_id_of(by_user),
        ad_version_id=current_ad().version_id,
    )
    db.session.add(case)
    db.session.flush()
    return case


def approve_exit(case: ExitCase, by_user) -> ExitCase:
    """The board approves: refund = pokok + wajib - arrears moves to the refund payable; the
    membership ends (status ``exited``); the member number is never reused."""
    if case.status is not ExitStatus.REQUESTED:
        raise IllegalTransition("Pengajuan ini sudah diputuskan.", code="exit_decided")
    member = case.member
    quote = compute_refund(member)
    case.pokok_idr, case.wajib_idr = quote.pokok_idr, quote.wajib_idr
    case.arrears_idr, case.refund_idr = quote.arrears_idr, quote.refund_idr
    lines = []
    if quote.pokok_idr:
        lines.append((member_account_code("pokok", member.member_no), quote.pokok_idr))
    if quote.wajib_idr:
        lines.append((member_account_code("wajib", member.member_no), quote.wajib_idr))
    if quote.arrears_idr:
        lines.append((MEMBER_RECEIVABLE, -quote.arrears_idr))
    if quote.refund_idr:
        lines.append((REFUND_PAYABLE, -quote.refund_idr))
    if lines:
        who = "ahli waris" if case.kind is ExitKind.DEATH else "anggota keluar"
        entry = post_entry(
            idempotency_key=f"exit-payable:{case.id}",
            description=f"Pengembalian simpanan {member.member_no} kepada {who}",
            lines=lines,
            source_kind="exit_case",
            source_id=case.id,
            posted_by=by_user,
        )
        case.payable_entry_id = entry.id
    case.status = ExitStatus.PAYABLE if quote.refund_idr else ExitStatus.PAID
    case.decided_at = now_utc()
    case.decided_by_id = user_id_of(by_user)
    _set_status(member, S.EXITED, by_user, "Keluar disetujui pengurus")
    member.exited_date = business_date()
    db.session.flush()
    return case


def cancel_exit(case: ExitCase, by_user, reason: str) -> ExitCase:
    """The request is withdrawn or declined: the member is active again (not for a death)."""
    if case.status is not ExitStatus.REQUESTED:
        raise IllegalTransition("Pengajuan ini sudah diputuskan.", code="exit_decided")
    if case.kind is not ExitKind.EXIT:
        raise IllegalTransition(
            "Laporan meninggal dunia tidak bisa dibatalkan di sini.", code="death_not_cancellable"
        )
    if not (reason or "").strip():
        raise _refuse("Alasan wajib diisi.", "reason", "reason_required")
    case.status = ExitStatus.CANCELLED
    case.decided_at = now_utc()
    case.decided_by_id = user_id_of(by_user)
    _set_status(case.member, S.ACTIVE, by_user, reason.strip())
    return case


def pay_exit_refund(
    case: ExitCase, by_user, method: PaymentMethod | str, reference: str | None = None
) -> ExitCase:
    """The bendahara records paying out a refund (cash or transfer)."""
    if case.status is not ExitStatus.PAYABLE:
        raise IllegalTransition(
            "Tidak ada pengembalian yang menunggu dibayar untuk kasus ini.", code="not_payable"
        )
    method = PaymentMethod(method)
    entry = post_entry(
        idempotency_key=f"exit-paid:{case.id}",
        description=f"Pembayaran pengembalian simpanan (kasus #{case.id})",
        lines=[
            (REFUND_PAYABLE, case.refund_idr),
            (CASH if method is PaymentMethod.CASH else BANK, -case.refund_idr),
        ],
        source_kind="exit_case",
        source_id=case.id,
        posted_by=by_user,
    )
    case.payment_entry_id = entry.id
    case.payment_method = method
    case.payment_reference = (reference or "").strip() or None
    case.paid_at = now_utc()
    case.paid_by_id = user_id_of(by_user)
    case.status = ExitStatus.PAID
    record_event(case.member, "refund_paid", by_user, f"Rp {case.refund_idr:,}".replace(",", "."))
    db.session.flush()
    return case


# =========================================================================== profile


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
        raise _refuse("NIK baru sama dengan NIK yang tercatat.", "new_nik", "same_nik")
    if not (reason or "").strip():
        raise _refuse("Jelaskan alasan koreksi NIK.", "reason", "reason_required")
    if db.session.scalar(
        select(NikCorrection.id).where(
            NikCorrection.member_id == member.id, NikCorrection.status == RequestStatus.PENDING
        )
    ):
        raise Conflict(
            "Masih ada permintaan koreksi NIK yang menunggu keputusan pengurus.",
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
        raise IllegalTransition("Permintaan ini sudah diputuskan.", code="decided")
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


def export_member_data(member: Member) -> dict:
    """Everything KMP holds about a member, for the member (UU PDP 27/2022)."""
    from kmp.ledger.queries import balances_of_member

    def iso(value):
        return value.isoformat() if value is not None else None

    user = member.user
    return {
        "exported_at": now_utc().isoformat(),
        "member": {
            "member_no": member.member_no,
            "group": member.group_code,
            "kind": member.kind.value,
            "status": member.status.value,
            "full_name": member.full_name,
            "nik": member.nik,
            "birth_date": iso(member.birth_date),
            "phone": member.phone,
            "email": member.email,
            "address": member.address,
            "platform": member.platform,
            "platform_worker_id": member.platform_worker_id,
            "company_name": member.company_name,
            "nib": member.nib,
            "npwp": member.npwp,
            "representative_name": member.representative_name,
            "representative_nik": member.representative_nik,
            "is_extraordinary": member.is_extraordinary,
            "consent_at": iso(member.consent_at),
            "consent_version": member.consent_version,
            "applied_at": iso(member.applied_at),
            "approved_at": iso(member.approved_at),
            "joined_date": iso(member.joined_date),
            "exited_date": iso(member.exited_date),
        },
        "login": None
        if user is None
        else {
            "email": user.email,
            "phone": user.phone,
            "full_name": user.full_name,
            "locale": user.locale,
            "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at),
        },
        "balances_idr": balances_of_member(member.id),
        "receipts": [
            {
                "number": r.number,
                "purpose": r.purpose.value,
                "method": r.method.value,
                "amount_idr": r.amount_idr,
                "received_on": iso(r.received_on),
                "reference": r.reference,
            }
            for r in db.session.scalars(
                select(Receipt).where(Receipt.member_id == member.id).order_by(Receipt.id)
            )
        ],
        "history": [
            {
                "at": iso(e.at),
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in db.session.scalars(
                select(MemberEvent)
                .where(MemberEvent.member_id == member.id)
                .order_by(MemberEvent.id)
            )
        ],
        "exit_cases": [
            {
                "kind": c.kind.value,
                "status": c.status.value,
                "refund_idr": c.refund_idr,
                "requested_at": iso(c.requested_at),
                "paid_at": iso(c.paid_at),
            }
            for c in db.session.scalars(
                select(ExitCase).where(ExitCase.member_id == member.id).order_by(ExitCase.id)
            )
        ],
        "nik_corrections": [
            {"status": c.status.value, "requested_at": iso(c.requested_at)}
            for c in db.session.scalars(
                select(NikCorrection).where(NikCorrection.member_id == member.id)
            )
        ],
    }


# =========================================================================== officers


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _holder_ids(holder) -> tuple[int | None, int | None]:
    """(member_id, user_id) of a Member or a User, each side linked to the other."""
    if isinstance(holder, Member):
        return holder.id, holder.user_id
    if isinstance(holder, User):
        member_id = db.session.scalar(select(Member.id).where(Member.user_id == holder.id))
        return member_id, holder.id
    raise TypeError("holder must be a Member or a User")


def appoint_officer(
    holder,
    *,
    body: OfficerBody | str,
    function: OfficerFunction | str,
    term_start: dt.date,
    term_end: dt.date,
    by_user,
) -> Officer:
    body, function = OfficerBody(body), OfficerFunction(function)
    if (body is OfficerBody.PENGAWAS) != (function is OfficerFunction.PENGAWAS):
        raise _refuse(
            "Jabatan tidak cocok dengan badan (pengurus/pengawas).", "function", "function_mismatch"
        )
    if term_end <= term_start:
        raise _refuse("Akhir masa jabatan harus sesudah awalnya.", "term_end", "term_order")
    max_years = current_ad().officer_term_max_years
    if term_end > add_years(term_start, max_years):
        raise _refuse(
            f"Masa jabatan paling lama {max_years} tahun (UU 25/1992 Ps 29).",
            "term_end",
            "term_too_long",
        )
    member_id, user_id = _holder_ids(holder)
    officer = Officer(
        member_id=member_id,
        user_id=user_id,
        body=body,
        function=function,
        term_start=term_start,
        term_end=term_end,
        created_by_id=user_id_of(by_user),
    )
    db.session.add(officer)
    db.session.flush()
    return officer


def end_officer_term(officer: Officer, on: dt.date, by_user) -> Officer:  # noqa: ARG001
    if on < officer.term_start:
        raise _refuse("Tanggal berakhir sebelum awal masa jabatan.", "ended_on", "term_order")
    officer.ended_on = on
    db.session.flush()
    return officer


MAX_CERTIFICATE_FILE = 2 * 1024 * 1024
CERTIFICATE_TYPES = {"application/pdf", "image/png", "image/jpeg"}


def add_certificate(
    holder,
    *,
    scheme: str,
    lsp_bnsp_number: str,
    issued_on: dt.date,
    expires_on: dt.date,
    by_user,
    file_name: str | None = None,
    file_type: str | None = None,
    file_data: bytes | None = None,
) -> Certificate:
    if not (scheme or "").strip():
        raise _refuse("Skema sertifikasi wajib diisi.", "scheme", "required")
    if not (lsp_bnsp_number or "").strip():
        raise _refuse("Nomor sertifikat LSP/BNSP wajib diisi.", "lsp_bnsp_number", "required")
    if expires_on <= issued_on:
        raise _refuse(
            "Tanggal kedaluwarsa harus sesudah tanggal terbit.", "expires_on", "expiry_order"
        )
    if file_data:
        if len(file_data) > MAX_CERTIFICATE_FILE:
            raise _refuse("Berkas sertifikat paling besar 2 MB.", "file", "file_too_large")
        if file_type not in CERTIFICATE_TYPES:
            raise _refuse("Berkas harus PDF, PNG atau JPG.", "file", "file_type")
    member_id, user_id = _holder_ids(holder)
    certificate = Certificate(
        member_id=member_id,
        user_id=user_id,
        scheme=scheme.strip(),
        lsp_bnsp_number=lsp_bnsp_number.strip(),
        issued_on=issued_on,
        expires_on=expires_on,
        file_name=file_name if file_data else None,
        file_type=file_type if file_data else None,
        file_data=file_data or None,
        created_by_id=user_id_of(by_user),
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def _certificate_holder_filter(member_id: int | None, user_id: int | None):
    conditions = []
    if member_id is not None:
        conditions.append(Certificate.member_id == member_id)
    if user_id is not None:
        conditions.append(Certificate.user_id == user_id)
    return conditions


def has_valid_certificate(holder, on_date: dt.date | None = None) -> bool:
    """Does the person (Member or User) hold a competence certificate valid on ``on_date``?
    Governance calls this before accepting a nomination when ``require_certified_officers``."""
    from sqlalchemy import or_

    on_date = on_date or business_date()
    member_id, user_id = _holder_ids(holder)
    conditions = _certificate_holder_filter(member_id, user_id)
    if not conditions:
        return False
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(
                or_(*conditions),
                Certificate.issued_on <= on_date,
                Certificate.expires_on >= on_date,
            )
        )
        > 0
    )


def ensure_may_hold_office(holder, on_date: dt.date | None = None) -> None:
    """Raise ``Forbidden`` when the AD requires certified officers and ``holder`` has none."""
    if current_ad().require_certified_officers and not has_valid_certificate(holder, on_date):
        raise Forbidden(
            "Calon belum punya sertifikat kompetensi yang berlaku (AD mewajibkan "
            "pengurus dan pengawas bersertifikat).",
            code="not_certified",
        )
