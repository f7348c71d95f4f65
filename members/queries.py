"""Read side of membership: who is the member behind a login, the register, the review queue,
the census of eligible voters, the jasa modal basis and the certification watch list."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass

from sqlalchemy import String, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import aliased

from kmp.auth import normalise_phone
from kmp.extensions import db
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account, Posting
from kmp.timeutil import business_date
from members.ad import ADConfig
from members.identity import MEMBER_NO_RE, clean_digits
from members.models import (
    Certificate,
    ExitCase,
    Member,
    MemberEvent,
    MemberStaff,
    Officer,
    Receipt,
)
from members.states import MemberStatus

S = MemberStatus


# --------------------------------------------------------------------------- who is who


def member_for_user(user) -> Member | None:
    """The member a login belongs to: the member's own login, else a company staff login."""
    if user is None or not getattr(user, "is_authenticated", True) or user.id is None:
        return None
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


# --------------------------------------------------------------------------- pagination


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


# --------------------------------------------------------------------------- register


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
    """Members by status over the whole register (one index-only scan of ``ix_members_status``:
    linear in members, so the register shows it on the unfiltered list only)."""
    rows = db.session.execute(select(Member.status, func.count()).group_by(Member.status))
    return {MemberStatus(s).value: n for s, n in rows}


# --------------------------------------------------------------------------- review queue


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
    from members.services import APPLICANT_PRINCIPAL_PREFIX

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


# --------------------------------------------------------------------------- member pages


def member_history(member: Member) -> list[MemberEvent]:
    return list(
        db.session.scalars(
            select(MemberEvent).where(MemberEvent.member_id == member.id).order_by(MemberEvent.id)
        )
    )


def member_receipts(member: Member) -> list[Receipt]:
    return list(
        db.session.scalars(
            select(Receipt).where(Receipt.member_id == member.id).order_by(Receipt.id.desc())
        )
    )


def member_exit_cases(member: Member) -> list[ExitCase]:
    return list(
        db.session.scalars(
            select(ExitCase).where(ExitCase.member_id == member.id).order_by(ExitCase.id.desc())
        )
    )


def savings_balances(member: Member, by_code: dict[str, int] | None = None) -> dict[str, int]:
    """``{'pokok': ..., 'wajib': ..., 'sukarela': ..., 'shu': ...}`` natural balances
    (``by_code``: the member's ``balances_of_member`` when the caller already read them)."""
    from kmp.ledger.queries import balances_of_member

    if by_code is None:
        by_code = balances_of_member(member.id)
    result = {}
    for kind, (prefix, _, _) in MEMBER_ACCOUNTS.items():
        result[kind] = by_code.get(f"{prefix}:{member.member_no}", 0) if member.member_no else 0
    return result


def exit_cases(status: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    stmt = select(ExitCase)
    if status:
        stmt = stmt.where(ExitCase.status == status)
    return paginate(stmt.order_by(ExitCase.id.desc()), page, per_page)


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


# --------------------------------------------------------------------------- census


@dataclass(frozen=True)
class EligibleMember:
    member_id: int
    member_no: str
    group_code: str
    user_id: int | None


def eligible_members(
    ad: ADConfig, on_date: dt.date | None = None, group: str | None = None
) -> list[EligibleMember]:
    """The voters' census (domain decision 7): active members of voting groups whose pokok is
    fully paid and whose wajib arrears are at most ``ad.max_wajib_arrears_months``.

    Arrears in months come from ``members.billing.arrears_months``.
    Balances are the current maintained ones (freeze the list when the ballot opens).
    """

    voting = [g.code for g in ad.active_groups if g.members_vote]
    if group is not None:
        voting = [c for c in voting if c == group]
    if not voting:
        return []
    prefix = MEMBER_ACCOUNTS["pokok"][0]
    principal = aliased(Account)
    paid = func.coalesce(principal.balance_idr * principal.normal_sign, 0)
    stmt = (
        select(Member.id, Member.member_no, Member.group_code, Member.user_id)
        .outerjoin(
            principal,
            and_(
                principal.owner_id == Member.id,
                principal.code == literal(prefix + ":") + Member.member_no,
            ),
        )
        .where(
            Member.status == S.ACTIVE,
            Member.group_code.in_(voting),
            paid >= _pokok_required_expr(ad),
        )
        .order_by(Member.member_no)
    )
    rows = db.session.execute(stmt).all()
    from members.billing import arrears_months

    arrears = arrears_months([r.id for r in rows], on_date or business_date()) if rows else {}
    limit = ad.max_wajib_arrears_months
    return [
        EligibleMember(r.id, r.member_no, r.group_code, r.user_id)
        for r in rows
        if arrears.get(r.id, 0) <= limit
    ]


# --------------------------------------------------------------------------- jasa modal basis


@functools.cache
def _month_ends(year: int) -> tuple[dt.date, ...]:
    ends = []
    for month in range(1, 13):
        first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
        ends.append(first_next - dt.timedelta(days=1))
    return tuple(ends)


@dataclass(frozen=True)
class CapitalBasisRow:
    member_id: int
    member_no: str
    group_code: str
    status: str
    capital_idr: int  # pokok + wajib: at year end, or the floor of the month-end average
    months: int  # month ends of the year at which the person was a member (0-12)
    exited_date: dt.date | None = None


CAPITAL_BASIS_LEADING = 6  # id, member_no, group_code, status, joined_date, exited_date


def capital_basis_query(fiscal_year: int, basis: str = "year_end", group: str | None = None):
    """The SELECT behind :func:`capital_basis`, unordered, for callers that join more to it
    (the SHU run joins the year's patronage). Columns: ``id, member_no, group_code, status``
    (plain text), ``joined_date, exited_date``, then the pokok + wajib balance at the year end
    (``year_end``: one sum) or at each of the twelve month ends (``average_month_end``)."""
    ends = _month_ends(fiscal_year)
    year_start, year_end = dt.date(fiscal_year, 1, 1), ends[-1]
    prefixes = (MEMBER_ACCOUNTS["pokok"][0] + ":", MEMBER_ACCOUNTS["wajib"][0] + ":")
    signed = Posting.amount_idr * Account.normal_sign
    if basis == "year_end":  # the join already stops at the year end
        sums = [func.coalesce(func.sum(signed), 0).label("capital")]
    else:
        sums = [
            func.coalesce(func.sum(case((Posting.entry_date <= end, signed), else_=0)), 0).label(
                f"capital_{i}"
            )
            for i, end in enumerate(ends, start=1)
        ]
    status = type_coerce(Member.status, String()).label("status")  # plain str: no enum per row
    stmt = (
        select(
            Member.id,
            Member.member_no,
            Member.group_code,
            status,
            Member.joined_date,
            Member.exited_date,
            *sums,
        )
        .join(Account, Account.owner_id == Member.id)
        .outerjoin(Posting, and_(Posting.account_id == Account.id, Posting.entry_date <= year_end))
        .where(
            Member.member_no.is_not(None),
            or_(Account.code.startswith(prefixes[0]), Account.code.startswith(prefixes[1])),
            or_(Member.joined_date.is_(None), Member.joined_date <= year_end),
            or_(Member.exited_date.is_(None), Member.exited_date >= year_start),
        )
        .group_by(
            Member.id,
            Member.member_no,
            Member.group_code,
            Member.status,
            Member.joined_date,
            Member.exited_date,
        )
    )
    if group:
        stmt = stmt.where(Member.group_code == group)
    return stmt


def capital_and_months(row, fiscal_year: int, basis: str) -> tuple[int, int]:
    """(capital basis, months of membership) of one :func:`capital_basis_query` row."""
    joined, exited = row[4], row[5]
    year_start, year_end = dt.date(fiscal_year, 1, 1), dt.date(fiscal_year, 12, 31)
    if basis == "year_end":
        capital = int(row[CAPITAL_BASIS_LEADING] or 0)
    else:
        monthly = row[CAPITAL_BASIS_LEADING : CAPITAL_BASIS_LEADING + 12]
        capital = sum(int(v or 0) for v in monthly) // 12
    if (joined is None or joined < year_start) and (exited is None or exited > year_end):
        return capital, 12  # the common case: a member all year
    months = sum(
        1
        for end in _month_ends(fiscal_year)
        if (joined is None or joined <= end) and (exited is None or exited > end)
    )
    return capital, months


def capital_basis(
    fiscal_year: int, basis: str = "year_end", group: str | None = None
) -> list[CapitalBasisRow]:
    """The jasa modal basis per member for SHU (domain decision 9), set-based: one grouped
    query over the pokok and wajib postings. Members who held a number at some point in the
    year are listed (exited ones with their ``months``), by member number."""
    stmt = capital_basis_query(fiscal_year, basis, group).order_by(Member.member_no)
    result = []
    for row in db.session.execute(stmt):
        capital, months = capital_and_months(row, fiscal_year, basis)
        result.append(
            CapitalBasisRow(
                row.id,
                row.member_no,
                row.group_code,
                MemberStatus(row.status).value,
                capital,
                months,
                row.exited_date,
            )
        )
    return result


# --------------------------------------------------------------------------- officers


@dataclass(frozen=True)
class WatchRow:
    officer: Officer
    problem: str  # "missing" | "expired" | "expiring"
    expires_on: dt.date | None


def current_officers(on_date: dt.date | None = None) -> list[Officer]:
    on_date = on_date or business_date()
    return list(
        db.session.scalars(
            select(Officer)
            .where(
                Officer.term_start <= on_date,
                Officer.term_end >= on_date,
                or_(Officer.ended_on.is_(None), Officer.ended_on > on_date),
            )
            .order_by(Officer.body, Officer.function, Officer.id)
        )
    )


def all_officers() -> list[Officer]:
    return list(db.session.scalars(select(Officer).order_by(Officer.term_end.desc(), Officer.id)))


def certification_watchlist(on_date: dt.date | None = None, days: int = 90) -> list[WatchRow]:
    """Sitting officers whose certificate is missing, expired, or expires within ``days``."""
    on_date = on_date or business_date()
    horizon = on_date + dt.timedelta(days=days)
    rows = []
    for officer in current_officers(on_date):
        conditions = []
        if officer.member_id is not None:
            conditions.append(Certificate.member_id == officer.member_id)
        user_id = officer.user_id or (officer.member.user_id if officer.member else None)
        if user_id is not None:
            conditions.append(Certificate.user_id == user_id)
        best = (
            db.session.scalar(
                select(func.max(Certificate.expires_on)).where(
                    or_(*conditions), Certificate.issued_on <= on_date
                )
            )
            if conditions
            else None
        )
        if best is None:
            rows.append(WatchRow(officer, "missing", None))
        elif best < on_date:
            rows.append(WatchRow(officer, "expired", best))
        elif best <= horizon:
            rows.append(WatchRow(officer, "expiring", best))
    return rows


def certificates_of(member_id: int | None, user_id: int | None) -> list[Certificate]:
    conditions = []
    if member_id is not None:
        conditions.append(Certificate.member_id == member_id)
    if user_id is not None:
        conditions.append(Certificate.user_id == user_id)
    if not conditions:
        return []
    return list(
        db.session.scalars(
            select(Certificate).where(or_(*conditions)).order_by(Certificate.expires_on.desc())
        )
    )
