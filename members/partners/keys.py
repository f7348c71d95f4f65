"""Partner API keys: hashed, scoped, revocable; the resolver the API layer asks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp.api import SCOPES, ApiPrincipal, constant_time_equal, generate_key
from kmp.auth import Role, user_id_of
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import now_utc
from members.partners.models import ApiKey
from members.register import services as register_services
from members.register.models import Member, MemberKind, MemberStaff
from members.register.states import MemberStatus

LAST_USED_GRANULARITY = dt.timedelta(seconds=60)


def resolve_api_key(prefix: str, key_hash: str) -> ApiPrincipal | None:
    """The principal of a presented key (None when unknown, wrong or revoked). Records the
    last-used time (at most once a minute, so busy clients do not write on every call)."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not constant_time_equal(key.key_hash, key_hash):
        return None
    now = now_utc()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_GRANULARITY:
        key.last_used_at = now
        db.session.flush()
    return ApiPrincipal(
        key_id=key.id, company_id=key.company_id, scopes=frozenset(key.scope_list), name=key.name
    )


_UNREAD = object()


def can_manage_keys(user, company: Member, staff=_UNREAD) -> bool:
    """The company's representative (its admin login) or a pengurus. ``staff``: the user's
    ``MemberStaff`` row of ``company`` (or None) when the caller already read it."""
    if user.has_role(Role.PENGURUS, Role.BENDAHARA):
        return True
    if staff is _UNREAD:
        staff = db.session.scalar(
            select(MemberStaff).where(
                MemberStaff.user_id == user.id, MemberStaff.member_id == company.id
            )
        )
    return bool(staff and (staff.is_representative or company.user_id == user.id))


def create_api_key(company: Member, *, name: str, scopes: list[str], by_user) -> tuple[ApiKey, str]:
    """A new key for ``company``: returns the row and the full key (shown once)."""
    if company.kind != MemberKind.COMPANY:
        raise DomainError(gettext("Kunci API hanya untuk anggota perusahaan."), code="not_company")
    if company.status != MemberStatus.ACTIVE:
        raise DomainError(
            gettext("Kunci API baru bisa dibuat setelah perusahaan menjadi anggota aktif."),
            code="company_not_active",
        )
    name = (name or "").strip()
    if not name:
        raise DomainError(gettext("Nama kunci wajib diisi."), code="required", field="name")
    if len(name) > 80:
        raise DomainError(
            gettext("Nama kunci terlalu panjang (maks. 80)."), code="invalid", field="name"
        )
    chosen = sorted(set(scopes or []))
    if not chosen:
        raise DomainError(gettext("Pilih minimal satu izin."), code="required", field="scopes")
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise DomainError(gettext("Izin tidak dikenal."), code="invalid", field="scopes")
    full, prefix, key_hash = generate_key()
    key = ApiKey(
        company_id=company.id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        scopes=" ".join(chosen),
        created_by_id=user_id_of(by_user),
    )
    db.session.add(key)
    register_services.record_event(
        company, "api_key_created", by_user, f"Kunci API {prefix}: {name}"
    )
    db.session.flush()
    return key, full


def revoke_api_key(key: ApiKey, by_user) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = now_utc()
        key.revoked_by_id = user_id_of(by_user)
        register_services.record_event(
            key.company, "api_key_revoked", by_user, f"Kunci API {key.prefix}"
        )
        db.session.flush()
    return key


def company_keys(company: Member) -> list[ApiKey]:
    return list(
        db.session.scalars(
            select(ApiKey).where(ApiKey.company_id == company.id).order_by(ApiKey.id.desc())
        )
    )
