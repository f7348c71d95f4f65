"""Login identities, roles and the ``role_required`` guard."""

from __future__ import annotations

import datetime as dt
import enum
import re
from functools import wraps

from flask import abort, g, has_request_context
from flask_login import UserMixin, current_user
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from kmp.db import StrEnumType, UTCDateTime
from kmp.errors import DomainError
from kmp.extensions import db, login_manager
from kmp.i18n import gettext
from kmp.timeutil import now_utc


class Role(enum.StrEnum):
    ADMIN = "admin"
    PENGURUS = "pengurus"
    BENDAHARA = "bendahara"
    PENGAWAS = "pengawas"
    ANGGOTA = "anggota"
    PARTNER = "partner"


#: Roles that handle money or oversight; they get the board navigation.
BOARD_ROLES = (Role.ADMIN, Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS)
#: Roles that must log in with a second factor (TOTP or a recovery code).
SECOND_FACTOR_ROLES = BOARD_ROLES

PASSWORD_METHOD = "scrypt:32768:8:1"  # noqa: S105 - a hashing method, not a password
MIN_PASSWORD_LENGTH = 10


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_login"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="id")
    is_active_flag: Mapped[bool] = mapped_column(default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Second factor (TOTP, RFC 6238): the base32 secret, when it was confirmed, and the last
    # time step accepted (a code is accepted once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Wrong second-factor codes in a row, and when the last one came (server-side: a replayed
    # cookie cannot reset them). Reset by a right code.
    mfa_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mfa_failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login: the session carries id and version, so a password change logs out everywhere.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.is_active_flag)

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        """As ``UserMixin`` (= active), without reloading a user a commit has expired: the
        flag as the user loader saw it in this request."""
        flag = self.__dict__.get("is_active_flag")
        if flag is None:
            flag = self.__dict__.get("_kmp_active_at_load")
        if flag is None:
            flag = self.is_active_flag
        return bool(flag)

    @property
    def roles(self) -> frozenset[Role]:
        """The role set, built once per loaded ``role_rows`` list (a request loads the user
        afresh; a reload or an added/removed role row gives a new list or length)."""
        rows = self.role_rows
        cached = self.__dict__.get("_kmp_roles")
        if cached is not None and cached[0] is rows and cached[1] == len(rows):
            return cached[2]
        mine = frozenset(r.role for r in rows)
        self.__dict__["_kmp_roles"] = (rows, len(rows), mine)
        return mine

    def has_role(self, *roles: Role | str) -> bool:
        mine = self.roles
        return any((r if type(r) is Role else Role(r)) in mine for r in roles)

    @property
    def is_board(self) -> bool:
        return self.has_role(*BOARD_ROLES)

    def set_password(self, password: str) -> None:
        check_password_strength(password)
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def login_name(self) -> str:
        return self.email or self.phone or ""

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret and self.totp_enabled_at)

    @property
    def needs_second_factor(self) -> bool:
        """Money and oversight roles must use a second factor (when it is required)."""
        return self.has_role(*SECOND_FACTOR_ROLES) and second_factor_required()


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 16))
    user: Mapped[User] = relationship(back_populates="role_rows")


class WeakPassword(DomainError):
    code = "weak_password"


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            gettext(
                "Kata sandi minimal %(n)s karakter.",
                n=MIN_PASSWORD_LENGTH,
            )
        )
    if password.isdigit() or password.isalpha():
        raise WeakPassword(gettext("Kata sandi harus berisi huruf dan angka."))


_PHONE_CHARS = re.compile(r"[\s\-().]")


def normalise_phone(text: str) -> str:
    """Normalise an Indonesian mobile number to ``+62...``; ``ValueError`` if it is not one."""
    raw = _PHONE_CHARS.sub("", text or "")
    if raw.startswith("+62"):
        rest = raw[3:]
    elif raw.startswith("62"):
        rest = raw[2:]
    elif raw.startswith("0"):
        rest = raw[1:]
    else:
        rest = raw
    if not rest.isdigit() or not rest.startswith("8") or not 9 <= len(rest) <= 12:
        raise ValueError(gettext("Nomor HP tidak valid. Contoh: 0812 3456 7890."))
    return "+62" + rest


def find_user_by_login(login: str) -> User | None:
    login = (login or "").strip()
    if not login:
        return None
    if "@" in login:
        return db.session.scalar(select(User).where(User.email == login.lower()))
    try:
        phone = normalise_phone(login)
    except ValueError:
        return None
    return db.session.scalar(select(User).where(User.phone == phone))


_dummy_hash: dict[str, str] = {}


def authenticate(login: str, password: str) -> User | None:
    """The active user with this login and password, else None. The password is hashed in
    every case (a dummy hash when there is no such account, or it is inactive), so the time
    taken does not tell whether an account exists."""
    user = find_user_by_login(login)
    if user is None:
        method = PASSWORD_METHOD
        if method not in _dummy_hash:
            import secrets

            _dummy_hash[method] = generate_password_hash(secrets.token_hex(16), method=method)
        check_password_hash(_dummy_hash[method], password or "")
        return None
    if not user.check_password(password or "") or not user.is_active:
        return None
    return user


def create_user(
    *,
    full_name: str,
    password: str,
    email: str | None = None,
    phone: str | None = None,
    roles: tuple[Role | str, ...] = (Role.ANGGOTA,),
    locale: str = "id",
) -> User:
    """Create a login identity (flushes; the caller's boundary commits)."""
    if not email and not phone:
        raise DomainError(gettext("Email atau nomor HP wajib diisi."))
    user = User(
        full_name=full_name.strip(),
        email=email.strip().lower() if email else None,
        phone=normalise_phone(phone) if phone else None,
        locale=locale,
    )
    user.set_password(password)
    for role in dict.fromkeys(Role(r) for r in roles):
        user.role_rows.append(UserRole(role=role))
    db.session.add(user)
    db.session.flush()
    return user


def grant_role(user: User, role: Role | str) -> None:
    if not user.has_role(role):
        user.role_rows.append(UserRole(role=Role(role)))
        db.session.flush()


def end_sessions(user: User) -> None:
    """End every session of ``user`` on every device: the version stored in each session at
    login no longer matches (``load_user`` compares it with the user row it loads anyway)."""
    user.session_version = (user.session_version or 1) + 1
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise DomainError(gettext("Kata sandi lama salah."), code="wrong_password")
    user.set_password(new)
    user.password_changed_at = now_utc()
    end_sessions(user)


def user_id_of(user) -> int | None:
    """The id of a ``User`` (or the id itself, or None): services accept either."""
    return getattr(user, "id", user)


def _load_user_select():
    """The login user and their roles in one statement (with what the registry's
    ``user_load_options`` add: the member's own row), built once per app on the first
    request, when every model is mapped: a fixed shape on every request."""
    from kmp.registry import get_registry

    registry = get_registry()
    if registry.user_load_statement is None:
        options = [joinedload(User.role_rows), *(make() for make in registry.user_load_options)]
        registry.user_load_statement = (
            select(User).options(*options).where(User.id == bindparam("user_id"))
        )
    return registry.user_load_statement


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        ident, version = user_id.split(":")
        user = (
            db.session.execute(_load_user_select(), {"user_id": int(ident)})
            .unique()
            .scalar_one_or_none()
        )
    except (ValueError, TypeError):
        return None
    if user is None or str(user.session_version) != version or not user.is_active:
        return None
    if has_request_context():
        # the locale is resolved from this row once per request (kmp.app.select_locale), so
        # a commit that expires the user does not reload it just to pick a language
        g.kmp_user_locale = user.locale
    user.__dict__["_kmp_active_at_load"] = True
    return user


def role_required(*roles: Role | str):
    """Allow the view only to logged-in users holding one of ``roles`` (403 otherwise)."""
    wanted = tuple(Role(r) for r in roles)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if wanted and not current_user.has_role(*wanted):
                abort(403)
            return view(*args, **kwargs)

        wrapped.kmp_roles = wanted  # read by the authorization-matrix test
        return wrapped

    return decorator


# =========================================================================== second factor

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
TOTP_ISSUER = "KMP"


def second_factor_required() -> bool:
    """``KMP_REQUIRE_TOTP`` (config or environment); default: on, except under TESTING."""
    import os

    from flask import current_app

    value = current_app.config.get("KMP_REQUIRE_TOTP")
    if value is None:
        value = os.environ.get("KMP_REQUIRE_TOTP")
    if value is None or value == "":
        return not current_app.testing
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class RecoveryCode(db.Model):
    """A single-use recovery code for the second factor (only its SHA-256 is kept)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PasswordResetToken(db.Model):
    """A single-use, expiring password reset link (only its SHA-256 is kept)."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def _sha256(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    import pyotp
    from flask import current_app

    issuer = current_app.config.get("KMP_TOTP_ISSUER") or TOTP_ISSUER
    return pyotp.TOTP(secret).provisioning_uri(name=user.login_name, issuer_name=issuer)


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (30 s) whose code equals ``code`` (now, one step before or after)."""
    import hmac

    import pyotp

    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = now_utc()
    step = totp.timecode(now)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _new_recovery_codes(user: User) -> list[str]:
    import secrets

    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now_utc())
    )
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_sha256(raw)))
    db.session.flush()
    return codes


def enable_totp(user: User, secret: str, code: str) -> list[str]:
    """Confirm enrolment with a first code; returns the 10 recovery codes (shown once)."""
    step = _matching_step(secret, code)
    if step is None:
        raise DomainError(
            gettext("Kode salah. Cocokkan jam di HP Anda, lalu masukkan kode 6 angka yang tampil."),
            code="wrong_code",
            field="code",
        )
    user.totp_secret = secret
    user.totp_enabled_at = now_utc()
    user.totp_last_step = step
    end_sessions(user)
    return _new_recovery_codes(user)


def regenerate_recovery_codes(user: User) -> list[str]:
    end_sessions(user)
    return _new_recovery_codes(user)


def verify_second_factor(user: User, code: str) -> str:
    """Check a TOTP code (each accepted once) or a recovery code (each usable once).

    Returns ``"totp"`` or ``"recovery"``; raises DomainError when neither matches.
    """
    if user.has_totp:
        step = _matching_step(user.totp_secret or "", code)
        if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
            # Conditional update: two requests with the same code cannot both pass.
            done = db.session.execute(
                update(User)
                .where(
                    User.id == user.id,
                    (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount == 1:
                user.totp_last_step = step
                return "totp"
    normalised = normalise_recovery_code(code)
    if len(normalised) == 10:
        done = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _sha256(normalised),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now_utc())
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:
            return "recovery"
    raise DomainError(gettext("Kode salah atau sudah dipakai."), code="wrong_code", field="code")


MFA_MAX_ATTEMPTS = 5
MFA_LOCK_SECONDS = 15 * 60


def second_factor_locked(user: User) -> bool:
    """Five wrong codes in a row lock the second step for 15 minutes after the last one."""
    if (user.mfa_failures or 0) < MFA_MAX_ATTEMPTS or user.mfa_failed_at is None:
        return False
    return now_utc() - user.mfa_failed_at < dt.timedelta(seconds=MFA_LOCK_SECONDS)


def note_second_factor_failure(user: User) -> int:
    """Count one wrong code for ``user`` in the database (atomic; a run older than the lock
    window starts again at 1) and return the count."""
    now = now_utc()
    stale = now - dt.timedelta(seconds=MFA_LOCK_SECONDS)
    fresh = (User.mfa_failed_at.is_not(None)) & (User.mfa_failed_at > stale)
    from sqlalchemy import case

    count = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            mfa_failures=case((fresh, User.mfa_failures + 1), else_=1),
            mfa_failed_at=now,
        )
        .returning(User.mfa_failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    user.mfa_failures, user.mfa_failed_at = count, now
    return count


def clear_second_factor_failures(user: User) -> None:
    if user.mfa_failures or user.mfa_failed_at:
        user.mfa_failures = 0
        user.mfa_failed_at = None


def remaining_recovery_codes(user: User) -> int:
    from sqlalchemy import func

    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def reset_second_factor(user: User) -> None:
    """An admin removes a lost authenticator; the user enrols again at the next login."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    end_sessions(user)
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now_utc())
    )
    db.session.flush()


# =========================================================================== password reset

PASSWORD_RESET_TTL = 60 * 60  # seconds


def request_password_reset(login: str, link_for) -> PasswordResetToken | None:
    """Queue a reset link for ``login`` if such an active user exists (None otherwise).

    ``link_for(token) -> str`` builds the absolute URL. The token itself is only in the
    message; the database keeps its hash.
    """
    import secrets

    from flask import current_app

    from kmp.notify import queue_notification

    user = find_user_by_login(login)
    if user is None or not user.is_active:
        return None
    token = secrets.token_urlsafe(32)
    ttl = int(current_app.config.get("KMP_PASSWORD_RESET_TTL") or PASSWORD_RESET_TTL)
    now = now_utc()
    row = PasswordResetToken(
        user_id=user.id,
        token_hash=_sha256(token),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl),
    )
    db.session.add(row)
    minutes = max(ttl // 60, 1)
    queue_notification(
        kind="password_reset",
        address=user.email or user.phone,
        subject="Atur ulang kata sandi KMP",
        body=(
            f"Halo {user.full_name},\n\nAda permintaan untuk mengatur ulang kata sandi akun KMP "
            f"Anda. Buka tautan ini dalam {minutes} menit (hanya bisa dipakai sekali):\n\n"
            f"{link_for(token)}\n\nJika bukan Anda yang meminta, abaikan pesan ini; kata sandi "
            "Anda tidak berubah."
        ),
        user_id=user.id,
    )
    db.session.flush()
    return row


class InvalidResetToken(DomainError):
    status = 400
    code = "invalid_reset_token"


def reset_token_user(token: str) -> tuple[PasswordResetToken, User]:
    row = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _sha256(token or ""))
    )
    if row is None or row.used_at is not None or row.expires_at <= now_utc():
        raise InvalidResetToken(
            gettext(
                "Tautan atur ulang kata sandi tidak berlaku (salah, sudah dipakai, "
                "atau kedaluwarsa). Minta tautan baru."
            )
        )
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidResetToken(gettext("Akun ini tidak aktif."))
    return row, user


def _spend_once(model, row_id: int, now: dt.datetime) -> bool:
    """Mark a single-use row used; False when a concurrent request spent it first."""
    done = db.session.execute(
        update(model)
        .where(model.id == row_id, model.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def reset_password(token: str, new: str) -> User:
    """Set a new password with a reset token: the token and every other open one die, and
    every session of the user is logged out."""
    row, user = reset_token_user(token)
    user.set_password(new)
    now = now_utc()
    if not _spend_once(PasswordResetToken, row.id, now):
        raise InvalidResetToken(gettext("Tautan ini baru saja dipakai. Minta tautan baru."))
    db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user.password_changed_at = now
    end_sessions(user)
    return user


# =========================================================================== reset by phone code

RESET_CODE_TTL = 10 * 60  # seconds
RESET_CODE_MAX_ATTEMPTS = 5


class PasswordResetCode(db.Model):
    """A 6-digit code sent to a phone number (WhatsApp/SMS through the outbox): a password
    reset (``purpose`` ``reset``, keyed by the login's number) or an account claim by a
    member without a login (``claim``, keyed by the member number; ``members.register.claim``).

    Only an HMAC of the code is kept. A request for a number (or member) without an account
    to act on still makes a row (``user_id`` and ``subject_id`` NULL, nothing sent), so wrong
    codes, blocking and expiry answer exactly as for a real one: no one can probe which
    numbers or members exist."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The phone number (reset) or the member number (claim) the code was asked for.
    phone: Mapped[str] = mapped_column(String(40), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="reset", server_default="reset")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: What a claim code opens (the member's id; a plain number: ``kmp`` knows no features).
    subject_id: Mapped[int | None] = mapped_column(Integer)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def live(self) -> bool:
        """Does a right code act on something (else every code counts as wrong)?"""
        return self.user_id is not None or self.subject_id is not None


class InvalidResetCode(DomainError):
    status = 422
    code = "invalid_reset_code"


def _reset_code_hash(salt: str, code: str) -> str:
    import hashlib
    import hmac

    from flask import current_app

    key = str(current_app.secret_key or "").encode()
    return hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def reset_code_ttl() -> int:
    from flask import current_app

    return int(current_app.config.get("KMP_RESET_CODE_TTL") or RESET_CODE_TTL)


def issue_phone_code(
    key: str, *, purpose: str = "reset", user_id: int | None = None, subject_id=None
) -> str:
    """A new 6-digit code for ``key`` (earlier open codes of the same key stop working).
    Returns the code for the caller to send; without a ``user_id``/``subject_id`` it is a
    decoy row that no code opens (send nothing then). Flushes."""
    import secrets

    now = now_utc()
    db.session.execute(
        update(PasswordResetCode)
        .where(
            PasswordResetCode.purpose == purpose,
            PasswordResetCode.phone == key,
            PasswordResetCode.used_at.is_(None),
            PasswordResetCode.blocked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    db.session.add(
        PasswordResetCode(
            phone=key,
            purpose=purpose,
            user_id=user_id,
            subject_id=subject_id,
            salt=salt,
            code_hash=_reset_code_hash(salt, code),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=reset_code_ttl()),
            attempts=0,
        )
    )
    db.session.flush()
    return code


def check_phone_code(key: str, code: str, *, purpose: str = "reset") -> PasswordResetCode:
    """The open code row of ``key`` when ``code`` is right (not yet spent: ``spend_phone_code``
    after the action's own checks). A wrong code counts in the database (the caller commits
    even when this raises): the fifth wrong one blocks the code. ``InvalidResetCode``
    otherwise, the same for a decoy row as for a real one."""
    import hmac

    from flask_babel import gettext as _

    now = now_utc()
    row = db.session.scalar(
        select(PasswordResetCode)
        .where(
            PasswordResetCode.purpose == purpose,
            PasswordResetCode.phone == key,
            PasswordResetCode.used_at.is_(None),
            PasswordResetCode.blocked_at.is_(None),
            PasswordResetCode.expires_at > now,
        )
        .order_by(PasswordResetCode.id.desc())
        .limit(1)
    )
    if row is None:
        raise InvalidResetCode(
            _(
                "Kode tidak berlaku lagi (kedaluwarsa, sudah dipakai, atau diblokir). Minta kode baru."  # noqa: E501
            ),
            field="code",
        )
    digits = "".join(ch for ch in (code or "") if ch.isdigit())[:6]
    right = hmac.compare_digest(_reset_code_hash(row.salt, digits), row.code_hash)
    if not right or not row.live:
        attempts = db.session.execute(
            update(PasswordResetCode)
            .where(PasswordResetCode.id == row.id)
            .values(attempts=PasswordResetCode.attempts + 1)
            .returning(PasswordResetCode.attempts)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        if attempts >= RESET_CODE_MAX_ATTEMPTS:
            db.session.execute(
                update(PasswordResetCode)
                .where(PasswordResetCode.id == row.id)
                .values(blocked_at=now)
                .execution_options(synchronize_session=False)
            )
            raise InvalidResetCode(
                _("Terlalu banyak kode salah: kode ini diblokir. Minta kode baru."),
                code="reset_code_blocked",
                field="code",
            )
        raise InvalidResetCode(
            _(
                "Kode salah. Sisa %(n)s percobaan untuk kode ini.",
                n=RESET_CODE_MAX_ATTEMPTS - attempts,
            ),
            field="code",
        )
    return row


def spend_phone_code(row: PasswordResetCode) -> None:
    """Use the code once (a concurrent request with the same code loses)."""
    from flask_babel import gettext as _

    if not _spend_once(PasswordResetCode, row.id, now_utc()):
        raise InvalidResetCode(_("Kode ini baru saja dipakai. Minta kode baru."), field="code")


def request_password_reset_code(phone: str) -> None:
    """Send a new 6-digit code to ``phone`` (normalised ``+62...``) when it is an active
    account's login; earlier open codes for the number stop working. The same work, minus
    the message, when there is no such account."""
    from kmp.notify import queue_notification

    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is not None and not user.is_active:
        user = None
    code = issue_phone_code(phone, user_id=user.id if user else None)
    ttl = reset_code_ttl()
    if user is not None:
        from flask_babel import gettext as _

        from kmp.notify import recipient_locale

        with recipient_locale(user):
            body = _(
                "Kode atur ulang kata sandi KMP Anda: %(code)s. Berlaku %(minutes)s menit, "
                "hanya sekali pakai. Jangan berikan kode ini kepada siapa pun, termasuk "
                "pengurus koperasi.",
                code=code,
                minutes=max(ttl // 60, 1),
            )
            subject = _("Kode atur ulang kata sandi KMP")
        queue_notification(
            kind="password_reset_code",
            address=phone,
            subject=subject,
            body=body,
            user_id=user.id,
            params={"code": code},  # WhatsApp's authentication template carries the code
            urgent=True,
        )
    db.session.flush()


def reset_password_with_code(phone: str, code: str, new: str) -> User:
    """Set a new password with the code sent to ``phone``. A wrong code counts (in the
    database; the caller commits even when this raises): the fifth wrong one blocks the code.
    The password's strength is checked before the code is spent. Every session ends."""
    from flask_babel import gettext as _

    now = now_utc()
    row = check_phone_code(phone, code)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidResetCode(_("Akun ini tidak aktif."), field="code")
    check_password_strength(new)  # WeakPassword before the code is spent
    spend_phone_code(row)
    user.set_password(new)
    user.password_changed_at = now
    end_sessions(user)
    return user
