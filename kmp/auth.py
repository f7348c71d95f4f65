"""Login identities, roles and the ``role_required`` guard."""

from __future__ import annotations

import datetime as dt
import enum
import re
from functools import wraps

from flask import abort
from flask_login import UserMixin, current_user
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from kmp.db import StrEnumType, UTCDateTime
from kmp.errors import DomainError
from kmp.extensions import db, login_manager
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
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, *roles: Role | str) -> bool:
        mine = self.roles
        return any(Role(r) in mine for r in roles)

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
        raise WeakPassword(f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter.")
    if password.isdigit() or password.isalpha():
        raise WeakPassword("Kata sandi harus berisi huruf dan angka.")


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
        raise ValueError("Nomor HP tidak valid. Contoh: 0812 3456 7890.")
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
        raise DomainError("Email atau nomor HP wajib diisi.")
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


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise DomainError("Kata sandi lama salah.", code="wrong_password")
    user.set_password(new)
    user.session_version = (user.session_version or 1) + 1
    user.password_changed_at = now_utc()
    db.session.flush()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        ident, version = user_id.split(":")
        user = db.session.get(User, int(ident))
    except (ValueError, TypeError):
        return None
    if user is None or str(user.session_version) != version or not user.is_active:
        return None
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
