"""Appointing officers, ending terms, recording certificates, the competence rule."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from kmp.auth import User, user_id_of
from kmp.errors import Forbidden
from kmp.extensions import db
from kmp.timeutil import business_date
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
