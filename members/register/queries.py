"""Read side of the register: login to member, search and paging, the review queue, history."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from kmp.auth import normalise_phone
from kmp.extensions import db
from kmp.ledger.models import Account
from members.ad.config import ADConfig
from members.register.identity import MEMBER_NO_RE, clean_digits
from members.register.models import Member, MemberEvent, MemberStaff, MemberStatusCount
from members.register.states import MemberStatus

S = MemberStatus


OWN_MEMBER = "kmp_own_member"


def own_member_load_option():
    """The login's own member row read in the login user's query (``kmp.auth.load_user``),
    so a member page does not ask for it again."""
    from sqlalchemy.orm import joinedload

    from kmp.auth import User

    return joinedload(getattr(User, OWN_MEMBER))


def member_for_user(user) -> Member | None:
    """The member a login belongs to: the member's own login, else a company staff login."""
    if user is None or not getattr(user, "is_authenticated", True) or user.id is None:
        return None
    loaded = getattr(user, "__dict__", {})
    if OWN_MEMBER in loaded:  # read with the login user (``own_member_load_option``)
        member = loaded[OWN_MEMBER]
    else:
        member = db.session.scalar(select(Member).where(Member.user_id == user.id))
    if member is not None:
        return member
    return company_for_user(user)


def company_for_user(user) -> Member | None:
    if user is None or getattr(user, "id", None) is None:
        return None
    return db.session.scalar(
        select(Member)
        .join(MemberStaff, MemberStaff.member_id == Member.id)
        .where(MemberStaff.user_id == user.id)
    )


def is_staff_of(user, member: Member) -> bool:
    return (
        db.session.scalar(
            select(MemberStaff.id).where(
                MemberStaff.user_id == user.id, MemberStaff.member_id == member.id
            )
        )
        is not None
    )


def member_account_ids(user) -> list[int]:
    """Ledger account ids of the login's member (for the ledger's "my statement" page).

    A member's own login (the usual case) is one indexed join; a company staff login, or a
    member without accounts yet, falls back to the member lookup."""
    if user is None or not getattr(user, "is_authenticated", True) or user.id is None:
        return []
    own = list(
        db.session.scalars(
            select(Account.id)
            .join(Member, Member.id == Account.owner_id)
            .where(Member.user_id == user.id)
            .order_by(Account.code)
        )
    )
    if own:
        return own
    member = member_for_user(user)
    if member is None:
        return []
    return list(
        db.session.scalars(
            select(Account.id).where(Account.owner_id == member.id).order_by(Account.code)
        )
    )


def get_member(member_id: int) -> Member | None:
    return db.session.get(Member, member_id)


def member_by_no(member_no: str) -> Member | None:
    return db.session.scalar(select(Member).where(Member.member_no == member_no))


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def paginate(stmt, page: int, per_page: int, total: int | None = None) -> Page:
    """One page of ``stmt``; ``total`` when the caller already knows it. A short page (fewer
    rows than ``per_page``, e.g. a search by member number) gives the total itself, so only a
    full or empty page runs the count query."""
    page = max(1, page)
    offset = (page - 1) * per_page
    items = list(db.session.scalars(stmt.limit(per_page).offset(offset)))
    if total is None and 0 < len(items) < per_page:
        total = offset + len(items)
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return Page(items, page, per_page, total or 0)


def register_query(q: str | None = None, group: str | None = None, status: str | None = None):
    """The buku daftar anggota: search by name, number, phone, NIK suffix or platform ID."""
    stmt = select(Member)
    if group:
        stmt = stmt.where(Member.group_code == group)
    if status:
        stmt = stmt.where(Member.status == MemberStatus(status))
    q = (q or "").strip()
    if MEMBER_NO_RE.match(q.upper()):
        # a whole member number: one indexed lookup (the substring search scans the register)
        return stmt.where(Member.member_no == q.upper()).order_by(Member.id.desc())
    if q:
        conditions = [
            Member.full_name.icontains(q, autoescape=True),
            Member.member_no.icontains(q, autoescape=True),
            Member.platform_worker_id == q.upper(),
        ]
        digits = clean_digits(q).lstrip("+")
        if digits.isdigit() and len(digits) >= 4:
            conditions.append(Member.nik.endswith(digits, autoescape=True))
            conditions.append(Member.phone.endswith(digits[-9:], autoescape=True))
            try:
                conditions.append(Member.phone == normalise_phone(q))
            except ValueError:
                pass
        stmt = stmt.where(or_(*conditions))
    return stmt.order_by(Member.id.desc())


def search_members(
    q=None, group=None, status=None, page: int = 1, per_page: int = 50, total: int | None = None
) -> Page:
    return paginate(register_query(q, group, status), page, per_page, total)


def status_counts() -> dict[str, int]:
    """Members by status over the whole register: the few rows of ``member_status_counts``
    (kept by the database's triggers on ``members``), not a count of the register."""
    rows = db.session.execute(
        select(MemberStatusCount.status, MemberStatusCount.n).where(MemberStatusCount.n > 0)
    )
    return {MemberStatus(s).value: int(n) for s, n in rows}


def _pokok_required_expr(ad: ADConfig):
    return case({g.code: g.pokok_idr for g in ad.groups}, value=Member.group_code, else_=0)


def review_queue(
    ad: ADConfig,
    *,
    group: str | None = None,
    status: str | None = None,
    pokok_paid: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Applications waiting for the board: rows of (member, paid_idr, required_idr)."""
    from members.register.admission import APPLICANT_PRINCIPAL_PREFIX

    deposit = aliased(Account)
    paid = func.coalesce(deposit.balance_idr * deposit.normal_sign, 0)
    required = _pokok_required_expr(ad)
    stmt = select(Member, paid.label("paid"), required.label("required")).outerjoin(
        deposit,
        and_(
            deposit.owner_id == Member.id, deposit.code.startswith(APPLICANT_PRINCIPAL_PREFIX + ":")
        ),
    )
    statuses = [MemberStatus(status)] if status else [S.APPLIED, S.APPROVED]
    stmt = stmt.where(Member.status.in_(statuses))
    if group:
        stmt = stmt.where(Member.group_code == group)
    if pokok_paid is True:
        stmt = stmt.where(paid >= required)
    elif pokok_paid is False:
        stmt = stmt.where(paid < required)
    stmt = stmt.order_by(Member.applied_at, Member.id)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return Page(
        [(m, int(p or 0), int(r or 0)) for m, p, r in rows], max(page, 1), per_page, total or 0
    )


def member_history(member: Member) -> list[MemberEvent]:
    return list(
        db.session.scalars(
            select(MemberEvent).where(MemberEvent.member_id == member.id).order_by(MemberEvent.id)
        )
    )


def company_staff(member: Member) -> list[MemberStaff]:
    return list(
        db.session.scalars(
            select(MemberStaff).where(MemberStaff.member_id == member.id).order_by(MemberStaff.id)
        )
    )


def platform_member_count(platform: str | None) -> int:
    if not platform:
        return 0
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Member)
            .where(
                Member.platform == platform, Member.status == S.ACTIVE, Member.kind == "individual"
            )
        )
        or 0
    )


# --------------------------------------------------------------------------- board to-do


def applications_waiting_count() -> int:
    """Applications waiting for the board's decision (the to-do counter of the queue)."""
    return int(
        db.session.scalar(
            select(func.count()).select_from(Member).where(Member.status == MemberStatus.APPLIED)
        )
        or 0
    )


def nik_corrections_waiting_count() -> int:
    from members.register.models import NikCorrection, RequestStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(NikCorrection)
            .where(NikCorrection.status == RequestStatus.PENDING)
        )
        or 0
    )


def exits_waiting_count() -> int:
    """Exit cases waiting for a decision or for the refund to be paid."""
    from members.register.models import ExitCase, ExitStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(ExitCase)
            .where(ExitCase.status.in_((ExitStatus.REQUESTED, ExitStatus.PAYABLE)))
        )
        or 0
    )
