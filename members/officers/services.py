"""Appointing officers and ending terms. Every appointment passes the AD's competence rule
(``members.training.competence.ensure_competent``): no verified certificate of the scheme
the office needs, no appointment."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select

from kmp.auth import Role, User, grant_role, user_id_of
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import business_date, now_utc
from members.ad.services import current_ad
from members.officers.models import Officer, OfficerBody, OfficerFunction
from members.register.services import _refuse, add_years
from members.training.competence import competence_problem, ensure_competent, holder_ids


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
            gettext("Jabatan tidak cocok dengan badan (pengurus/pengawas)."),
            "function",
            "function_mismatch",
        )
    if term_end <= term_start:
        raise _refuse(
            gettext("Akhir masa jabatan harus sesudah awalnya."), "term_end", "term_order"
        )
    max_years = current_ad().officer_term_max_years
    if term_end > add_years(term_start, max_years):
        raise _refuse(
            gettext(
                "Masa jabatan paling lama %(max_years)s tahun (UU 25/1992 Ps 29).",
                max_years=max_years,
            ),
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
    sync_officer_roles()
    return officer


def end_officer_term(officer: Officer, on: dt.date, by_user) -> Officer:  # noqa: ARG001
    """End a term early on ``on``; from that day its login loses the office's roles (unless
    another live term needs them)."""
    if on < officer.term_start:
        raise _refuse(
            gettext("Tanggal berakhir sebelum awal masa jabatan."), "ended_on", "term_order"
        )
    if officer.ended_on is not None and officer.ended_on <= business_date():
        raise _refuse(gettext("Masa jabatan ini sudah berakhir."), "ended_on", "term_ended")
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
        if competence_problem(login, officer.body.value, on_date):
            continue  # not certified: roles_granted_at stays empty, the next run tries again
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
