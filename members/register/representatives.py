"""A platform company's representative login: the one staff login that votes for it.

A company member (kind company, group platform) has several staff logins (``MemberStaff``,
role partner). At most one of them is the representative (``is_representative``; a partial
unique index holds it in the database). The company votes once, like any member, and only
through that login (``governance.voters``). The representative is designated by the board
(pengurus, bendahara, admin) or by the company's manager: its current representative or the
login that applied for the company.
"""

from __future__ import annotations

from sqlalchemy import select, update

from kmp.auth import Role, User, user_id_of
from kmp.errors import DomainError, Forbidden
from kmp.extensions import db
from kmp.i18n import gettext as _
from members.register.models import Member, MemberStaff
from members.register.services import record_event

#: Board roles that may designate a company's representative.
DESIGNATORS = (Role.PENGURUS, Role.BENDAHARA, Role.ADMIN)


def representative_of(company: Member) -> MemberStaff | None:
    return db.session.scalar(
        select(MemberStaff).where(
            MemberStaff.member_id == company.id, MemberStaff.is_representative.is_(True)
        )
    )


def staff_row(user, company: Member) -> MemberStaff | None:
    if getattr(user, "id", None) is None:
        return None
    return db.session.scalar(
        select(MemberStaff).where(
            MemberStaff.member_id == company.id, MemberStaff.user_id == user.id
        )
    )


def can_designate(user, company: Member) -> bool:
    """The board, the company's current representative, or the login that applied for it."""
    if user is None or getattr(user, "id", None) is None:
        return False
    if user.has_role(*DESIGNATORS):
        return True
    mine = staff_row(user, company)
    return mine is not None and (mine.is_representative or company.user_id == user.id)


def may_move_money_for(user, member: Member) -> bool:
    """Who may pay or withdraw for ``member``: the member's own login; for a company, its
    representative or the login that applied for it (not any staff login, not the board)."""
    if user is None or getattr(user, "id", None) is None:
        return False
    if member.user_id == user.id:
        return True
    if not member.is_company:
        return False
    mine = staff_row(user, member)
    return mine is not None and mine.is_representative


def designate_representative(company: Member, staff_user: User, by_user) -> MemberStaff:
    """Make ``staff_user`` (a staff login of ``company``) its representative; the previous
    one, if any, stops being it. Flushes; the caller commits."""
    if not company.is_company:
        raise DomainError(_("Hanya anggota perusahaan yang punya perwakilan."), code="not_company")
    if not can_designate(by_user, company):
        raise Forbidden(
            _(
                "Perwakilan %(company)s hanya bisa ditunjuk oleh pengurus atau perwakilan "
                "perusahaan saat ini.",
                company=company.display_name,
            ),
            code="not_designator",
        )
    row = staff_row(staff_user, company)
    if row is None:
        raise DomainError(
            _("Login itu bukan staf %(company)s.", company=company.display_name),
            code="not_staff",
            field="staff",
        )
    if row.is_representative:
        return row
    db.session.execute(
        update(MemberStaff)
        .where(MemberStaff.member_id == company.id, MemberStaff.is_representative.is_(True))
        .values(is_representative=False)
        .execution_options(synchronize_session="fetch")
    )
    db.session.flush()
    row.is_representative = True
    db.session.flush()
    record_event(
        company,
        "representative_designated",
        user_id_of(by_user),
        _(
            "Perwakilan: %(name)s (%(login)s)",
            name=staff_user.full_name,
            login=staff_user.login_name,
        ),
    )
    db.session.flush()
    return row
