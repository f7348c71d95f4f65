"""Appointing officers, ending terms, recording certificates, the competence rule."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from kmp.auth import Role, User, grant_role, user_id_of
from kmp.errors import Forbidden
from kmp.extensions import db
from kmp.timeutil import business_date, now_utc
from members.ad.services import current_ad
from members.officers.models import Certificate, Officer, OfficerBody, OfficerFunction
from members.register.models import Member
from members.register.services import _refuse, add_years


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
    sync_officer_roles()
    return officer


def end_officer_term(officer: Officer, on: dt.date, by_user) -> Officer:  # noqa: ARG001
    """End a term early on ``on``; from that day its login loses the office's roles (unless
    another live term needs them)."""
    if on < officer.term_start:
        raise _refuse("Tanggal berakhir sebelum awal masa jabatan.", "ended_on", "term_order")
    if officer.ended_on is not None and officer.ended_on <= business_date():
        raise _refuse("Masa jabatan ini sudah berakhir.", "ended_on", "term_ended")
    officer.ended_on = on
    db.session.flush()
    sync_officer_roles()
    return officer


# --------------------------------------------------------------------------- roles

#: The login roles an office brings (the bendahara sits on the board: pengurus too).
FUNCTION_ROLES = {
    OfficerFunction.BENDAHARA: (Role.PENGURUS, Role.BENDAHARA),
    OfficerFunction.KETUA: (Role.PENGURUS,),
    OfficerFunction.SEKRETARIS: (Role.PENGURUS,),
    OfficerFunction.ANGGOTA_PENGURUS: (Role.PENGURUS,),
    OfficerFunction.PENGAWAS: (Role.PENGAWAS,),
}


def _login_of(officer: Officer) -> User | None:
    if officer.user is not None:
        return officer.user
    return officer.member.user if officer.member is not None else None


def _audit(action: str, user: User, roles) -> None:
    from flask import current_app

    from kmp import signals

    signals.audit_event.send(
        current_app._get_current_object(),
        action=action,
        target=f"users:{user.id}",
        before=None,
        after=" ".join(sorted(r.value for r in roles)),
    )


def sync_officer_roles(on_date: dt.date | None = None) -> dict[str, int]:
    """Give each live term's login the roles of its office; take them from the login of a
    term that is over, unless another live term of that login needs them. Each term grants
    once and removes once (``roles_granted_at`` / ``roles_removed_at``), so a role the admin
    gives again later is not taken away by the daily run. Officers are a handful of rows."""
    on_date = on_date or business_date()
    now = now_utc()
    officers = list(
        db.session.scalars(
            select(Officer).where(
                or_(Officer.roles_granted_at.is_(None), Officer.roles_removed_at.is_(None))
            )
        )
    )
    live = [o for o in officers if o.is_live(on_date)]
    needed: dict[int, set[Role]] = {}
    for officer in db.session.scalars(select(Officer)):
        login = _login_of(officer)
        if login is not None and officer.is_live(on_date):
            needed.setdefault(login.id, set()).update(FUNCTION_ROLES[officer.function])
    done = {"granted": 0, "removed": 0}
    for officer in live:
        login = _login_of(officer)
        if officer.roles_granted_at is not None or login is None:
            continue
        roles = [r for r in FUNCTION_ROLES[officer.function] if not login.has_role(r)]
        for role in roles:
            grant_role(login, role)
        if roles:
            _audit("officer_roles_granted", login, roles)
            done["granted"] += 1
        officer.roles_granted_at = now
    for officer in officers:
        if officer.roles_removed_at is not None or not officer.is_over(on_date):
            continue
        login = _login_of(officer)
        officer.roles_removed_at = now
        if login is None or officer.roles_granted_at is None:
            continue  # a term recorded after it was over never gave roles: it takes none
        keep = needed.get(login.id, set())
        drop = {r for r in FUNCTION_ROLES[officer.function] if r not in keep}
        rows = [row for row in login.role_rows if row.role in drop]
        for row in rows:
            login.role_rows.remove(row)
        if rows:
            _audit("officer_roles_removed", login, drop)
            done["removed"] += 1
    db.session.flush()
    return done


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
