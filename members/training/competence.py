"""The competence rule: may this person hold this office on this day?

``ensure_competent(holder, role, on_date)`` is the ONE check every path that gives someone an
office calls (direct appointment and election result in ``members.officers`` /
``governance.elections``; the board-login invitation and role changes through the question
signal ``kmp.signals.competence_check_requested``). It reads the AD in force:

* ``require_certified_officers`` off: everyone may hold every office;
* otherwise the office's ``CompetenceRule`` (``members.ad.competence``) names the qualifying
  schemes; the holder needs a VERIFIED certificate of one of them, issued on or before
  ``on_date`` and not expired more than ``grace_days`` before it (no expiry date: valid).

A refusal is ``Forbidden`` (code ``not_certified``) whose message names the missing
certificate, e.g. "Budi belum punya sertifikat kompetensi 'Pengurus Koperasi' ...".
``competence_problem`` gives the same message without raising (for jobs and pages).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from kmp.auth import Role, User
from kmp.errors import DomainError, Forbidden
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import business_date
from members.ad.competence import COMPETENCE_ROLES, CompetenceRule, normalise_scheme
from members.ad.services import current_ad
from members.register.models import Member
from members.training.models import Certificate, CertificateStatus

#: Login roles (``kmp.auth.Role``) and officer bodies that are offices of the rule.
ROLE_OFFICES = {
    Role.PENGURUS.value: "pengurus",
    Role.BENDAHARA.value: "pengurus",  # the treasurer sits on the board
    Role.PENGAWAS.value: "pengawas",
}
#: Login roles that are no office: no certificate is ever needed for them.
NO_OFFICE = frozenset({Role.ADMIN.value, Role.ANGGOTA.value, Role.PARTNER.value})


def office_of(role) -> str | None:
    """The rule's office for a role name (``"bendahara"`` -> ``"pengurus"``); None for a
    login role that is no office (admin, anggota, partner). An unknown name is a bug."""
    name = str(getattr(role, "value", role))
    if name in COMPETENCE_ROLES:
        return name
    if name in ROLE_OFFICES:
        return ROLE_OFFICES[name]
    if name in NO_OFFICE:
        return None
    raise ValueError(f"unknown office {name!r}")


def holder_ids(holder) -> tuple[int | None, int | None]:
    """(member_id, user_id) of a Member or a User, each side linked to the other."""
    if isinstance(holder, Member):
        return holder.id, holder.user_id
    if isinstance(holder, User):
        member_id = db.session.scalar(select(Member.id).where(Member.user_id == holder.id))
        return member_id, holder.id
    raise TypeError("holder must be a Member or a User")


def find_holder(text: str):
    """The person a board form names: a member number, or the e-mail of a login (its member
    record when it has one). ``DomainError`` on the ``holder`` field when nobody matches."""
    from members.register import queries as register_queries

    text = (text or "").strip()
    if "@" in text:
        user = db.session.scalar(select(User).where(User.email == text.lower()))
        if user is not None:
            member = db.session.scalar(select(Member).where(Member.user_id == user.id))
            return member or user
    else:
        member = register_queries.member_by_no(text)
        if member is not None:
            return member
    raise DomainError(
        _("Tidak ada anggota dengan nomor itu atau login dengan email itu."), field="holder"
    )


def holder_label(holder) -> str:
    if isinstance(holder, Member):
        return holder.display_name
    return getattr(holder, "full_name", None) or "–"


def holder_condition(member_id: int | None, user_id: int | None):
    """SQL: the certificate belongs to this member or this login (None: nobody)."""
    conditions = []
    if member_id is not None:
        conditions.append(Certificate.member_id == member_id)
    if user_id is not None:
        conditions.append(Certificate.user_id == user_id)
    return or_(*conditions) if conditions else None


def certificates_of(holder) -> list[Certificate]:
    """Every certificate of the person (member record or login), newest expiry first."""
    condition = holder_condition(*holder_ids(holder))
    if condition is None:
        return []
    return list(
        db.session.scalars(
            select(Certificate)
            .where(condition)
            .order_by(Certificate.expires_on.desc().nulls_first(), Certificate.id.desc())
        )
    )


@dataclass(frozen=True)
class Competence:
    """Where a person stands against one office's rule on one day."""

    office: str
    required: bool
    #: "ok" | "missing" | "pending" (a matching certificate waits for verification) |
    #: "expired" (beyond the grace period) | "grace" (expired, inside the grace period)
    state: str
    schemes: tuple[str, ...] = ()
    certificate: Certificate | None = None
    #: Expiry of the best matching verified certificate (None: none, or it never expires).
    expires_on: dt.date | None = None

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "grace")


def required_rule(role) -> CompetenceRule | None:
    """The AD's rule for the office of ``role`` when it asks for a certificate, else None."""
    office = office_of(role)
    return _rule(office) if office else None


def _rule(office: str) -> CompetenceRule | None:
    ad = current_ad()
    if not ad.require_certified_officers:
        return None
    rule = ad.competence_rule(office)
    return rule if rule is not None and rule.schemes else None


def _matching(certificates: list[Certificate], schemes: tuple[str, ...]) -> list[Certificate]:
    wanted = {normalise_scheme(s) for s in schemes}
    return [c for c in certificates if normalise_scheme(c.scheme) in wanted]


def competence_of(holder, role, on_date: dt.date | None = None) -> Competence:
    office = office_of(role)
    on_date = on_date or business_date()
    if office is None:
        return Competence(office="", required=False, state="ok")
    rule = _rule(office)
    if rule is None:
        return Competence(office=office, required=False, state="ok")
    matching = _matching(certificates_of(holder), rule.schemes)
    verified = [
        c
        for c in matching
        if CertificateStatus(c.status) is CertificateStatus.VERIFIED and c.issued_on <= on_date
    ]
    valid = [c for c in verified if c.expires_on is None or c.expires_on >= on_date]
    if valid:
        best = max(valid, key=lambda c: c.expires_on or dt.date.max)
        return Competence(office, True, "ok", rule.schemes, best, best.expires_on)
    grace = dt.timedelta(days=rule.grace_days)
    in_grace = [c for c in verified if c.expires_on + grace >= on_date]
    if in_grace:
        best = max(in_grace, key=lambda c: c.expires_on)
        return Competence(office, True, "grace", rule.schemes, best, best.expires_on)
    if verified:
        best = max(verified, key=lambda c: c.expires_on)
        return Competence(office, True, "expired", rule.schemes, best, best.expires_on)
    pending = [c for c in matching if CertificateStatus(c.status) is CertificateStatus.PENDING]
    if pending:
        return Competence(office, True, "pending", rule.schemes, pending[0], None)
    return Competence(office, True, "missing", rule.schemes)


def _schemes_text(schemes: tuple[str, ...]) -> str:
    return _(" atau ").join(f"'{s}'" for s in schemes)


def competence_problem(holder, role, on_date: dt.date | None = None) -> str | None:
    """Why ``holder`` may not hold office ``role`` on ``on_date`` (None: they may)."""
    on_date = on_date or business_date()
    status = competence_of(holder, role, on_date)
    if status.ok:
        return None
    rule = _rule(status.office)
    values = {
        "who": holder_label(holder),
        "office": _(rule.role_label) if rule else status.office,
        "schemes": _schemes_text(status.schemes),
        "date": on_date.strftime("%d-%m-%Y"),
    }
    if status.state == "pending":
        return _(
            "%(who)s belum boleh menjadi %(office)s: sertifikat kompetensi %(schemes)s sudah "
            "dicatat tetapi belum diverifikasi pengurus.",
            **values,
        )
    if status.state == "expired":
        return _(
            "%(who)s belum boleh menjadi %(office)s: sertifikat kompetensi %(schemes)s sudah "
            "habis pada %(expired)s (AD mewajibkan sertifikat yang berlaku pada %(date)s).",
            expired=status.expires_on.strftime("%d-%m-%Y"),
            **values,
        )
    return _(
        "%(who)s belum boleh menjadi %(office)s: belum punya sertifikat kompetensi %(schemes)s "
        "(LSP/BNSP) yang terverifikasi dan berlaku pada %(date)s, seperti diwajibkan AD.",
        **values,
    )


def ensure_competent(holder, role, on_date: dt.date | None = None) -> None:
    """Refuse (``Forbidden``, code ``not_certified``) when the AD's competence rule does not
    let ``holder`` (a Member or a User) hold office ``role`` on ``on_date`` (default today).
    ``role``: pengurus, pengawas, manager, loan_officer, or a login role (bendahara counts as
    pengurus; admin, anggota and partner are no office)."""
    problem = competence_problem(holder, role, on_date)
    if problem:
        raise Forbidden(problem, code="not_certified")


def answer_competence_check(
    sender,  # noqa: ARG001
    holder=None,
    email: str | None = None,
    role=None,
    on_date: dt.date | None = None,
    **kwargs,  # noqa: ARG001
) -> str | None:
    """The receiver of ``kmp.signals.competence_check_requested``: the refusal message, or
    None. Without ``holder`` the person is found by ``email`` (login, else member record);
    nobody found for an office that needs a certificate is a refusal too."""
    if office_of(role) is None:
        return None
    if holder is None and email:
        email = email.strip().lower()
        holder = db.session.scalar(select(User).where(User.email == email)) or db.session.scalar(
            select(Member).where(Member.email == email).order_by(Member.id).limit(1)
        )
    if holder is None:
        rule = required_rule(role)
        if rule is None:
            return None
        return _(
            "%(email)s belum boleh menjadi %(office)s: tidak ada anggota atau login dengan "
            "email itu yang punya sertifikat kompetensi %(schemes)s terverifikasi.",
            email=email or "–",
            office=_(rule.role_label),
            schemes=_schemes_text(rule.schemes),
        )
    return competence_problem(holder, role, on_date)
