"""No self-dealing, no maker-checker dead end: who may record or decide a money movement
into or out of a member's savings.

Nobody records or approves a money movement into their own member account: not the
member's own login, not a staff login of a company member, and (for a request) not the login
that asked for it. The decision is the bendahara's; when every bendahara is conflicted (the
only bendahara is the member, or the one who asked), another pengurus decides -- or the
pengawas too, when the AD says so (``pengawas_decide_without_bendahara``). A refusal names who
can decide: the roles and, when there are few, the names.

``money_refusal(...)`` answers (None or the ``Forbidden`` to raise); ``ensure_may_move_money``
raises it. ``members.savings.withdrawals`` asks before approving or rejecting a withdrawal;
the cash receipt page asks before recording a receipt.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kmp.auth import Role, User, UserRole
from kmp.errors import Forbidden
from kmp.extensions import db
from kmp.i18n import gettext as _
from members.register.models import Member, MemberStaff

#: Name people in a refusal when there are at most this many.
MAX_NAMES = 5


@dataclass(frozen=True)
class Deciders:
    """Who may decide a money movement of one member (``fallback`` when no bendahara can)."""

    bendahara: tuple[User, ...]
    fallback_roles: tuple[Role, ...]
    fallback: tuple[User, ...]
    has_bendahara: bool = True


def conflicted_user_ids(member: Member, requested_by_id: int | None = None) -> set[int]:
    """Logins that may not decide for ``member``: its own, its company's staff, the asker."""
    ids = {member.user_id} if member.user_id else set()
    if member.is_company:
        ids.update(
            db.session.scalars(
                select(MemberStaff.user_id).where(MemberStaff.member_id == member.id)
            )
        )
    if requested_by_id:
        ids.add(requested_by_id)
    return ids


def _holders(*roles: Role, excluding: set[int]) -> tuple[User, ...]:
    rows = db.session.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(roles), User.is_active_flag.is_(True))
        .order_by(User.full_name, User.id)
        .distinct()
    )
    return tuple(u for u in rows if u.id not in excluding)


def _pengawas_may_decide() -> bool:
    from members.ad.services import current_ad

    return current_ad().pengawas_decide_without_bendahara


def deciders(
    member: Member, requested_by_id: int | None = None, *, recording: bool = False
) -> Deciders:
    """The bendahara who may decide, else the fallback (pengurus; pengawas too when the AD
    says so -- never for recording cash, which is not oversight work)."""
    excluding = conflicted_user_ids(member, requested_by_id)
    every = _holders(Role.BENDAHARA, excluding=set())
    bendahara = tuple(u for u in every if u.id not in excluding)
    with_pengawas = not recording and _pengawas_may_decide()
    roles = (Role.PENGURUS, Role.PENGAWAS) if with_pengawas else (Role.PENGURUS,)
    # the fallback is for a conflicted bendahara only: no bendahara at all is the board's
    # to fix (invite one), not a reason to let anyone handle the money
    fallback = _holders(*roles, excluding=excluding) if every and not bendahara else ()
    return Deciders(bendahara, roles, fallback, has_bendahara=bool(every))


def _names(users: tuple[User, ...]) -> str:
    if len(users) > MAX_NAMES:
        return _("%(n)s orang", n=len(users))
    return ", ".join(u.full_name for u in users)


def who_can(found: Deciders) -> str:
    if found.bendahara:
        return _("Yang bisa: bendahara %(names)s.", names=_names(found.bendahara))
    if not found.has_bendahara:
        return _("Koperasi belum punya bendahara: admin perlu mengundang bendahara.")
    role_words = (
        _("pengurus atau pengawas") if Role.PENGAWAS in found.fallback_roles else _("pengurus")
    )
    if found.fallback:
        return _(
            "Tidak ada bendahara lain, jadi yang bisa: %(roles)s lain (%(names)s).",
            roles=role_words,
            names=_names(found.fallback),
        )
    return _(
        "Tidak ada bendahara lain dan tidak ada %(roles)s lain: admin perlu mengundang "
        "pengurus atau bendahara baru.",
        roles=role_words,
    )


def money_refusal(
    member: Member, by_user, *, requested_by_id: int | None = None, recording: bool = False
) -> Forbidden | None:
    """Why ``by_user`` may not record (``recording``) or decide a money movement for
    ``member``, or None when it may. ``by_user`` is a ``User`` or its id (services take
    either)."""
    if not isinstance(by_user, User):
        by_user = db.session.get(User, by_user) if by_user is not None else None
    if by_user is None:
        return Forbidden(_("Keputusan ini perlu login bendahara."), code="maker_checker")
    user_id = by_user.id
    found = deciders(member, requested_by_id, recording=recording)
    conflicted = conflicted_user_ids(member, requested_by_id)
    if user_id in conflicted:
        if user_id == requested_by_id and user_id != member.user_id:
            first = _(
                "Pengajuan ini harus diputuskan oleh bendahara lain, bukan oleh yang mengajukan."
            )
        elif recording:
            first = _("Anda tidak boleh mencatat setoran ke rekening simpanan Anda sendiri.")
        else:
            first = _(
                "Anda tidak boleh memutuskan pengambilan dari rekening simpanan Anda sendiri; "
                "bendahara lain yang memutuskan."
            )
        return Forbidden(f"{first} {who_can(found)}", code="maker_checker")
    if by_user.has_role(Role.BENDAHARA):
        return None
    if found.fallback and by_user.has_role(*found.fallback_roles):
        return None
    return Forbidden(
        _(
            "Ini keputusan bendahara; pengurus lain hanya menggantikan bila satu-satunya "
            "bendahara adalah anggota yang bersangkutan atau yang mengajukan."
        )
        + " "
        + who_can(found),
        code="maker_checker",
    )


def ensure_may_move_money(
    member: Member, by_user, *, requested_by_id: int | None = None, recording: bool = False
) -> None:
    refusal = money_refusal(member, by_user, requested_by_id=requested_by_id, recording=recording)
    if refusal is not None:
        raise refusal
