"""Appointing officers and ending terms. Every appointment passes the AD's competence rule
(``members.training.competence.ensure_competent``): no verified certificate of the scheme
the office needs, no appointment."""

from __future__ import annotations

import datetime as dt

from kmp.auth import user_id_of
from kmp.extensions import db
from kmp.timeutil import business_date
from members.ad.services import current_ad
from members.officers.models import Officer, OfficerBody, OfficerFunction
from members.register.services import _refuse, add_years
from members.training.competence import ensure_competent, holder_ids


def competence_day(term_start: dt.date, term_end: dt.date) -> dt.date:
    """The day the competence rule is checked for a term: the day its role starts (today for
    a term already running; its first day for a term recorded after it was over)."""
    today = business_date()
    return term_start if term_end < today else max(today, term_start)


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
    ensure_competent(holder, body.value, competence_day(term_start, term_end))
    member_id, user_id = holder_ids(holder)
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
