"""The one census: who may vote, computed from the register and the ledger.

Domain decision 7: active members of the AD's active voting groups whose simpanan pokok is
fully paid and whose simpanan wajib arrears are at most ``ad.max_wajib_arrears_months``,
admitted on or before the instant the ballot opens. Governance freezes this list when a
ballot opens (``governance.services.open_proposal``); every active member left out comes
back with the reason, shown to them and to the pengawas:

* ``group_no_vote`` -- the member's group does not vote under the AD (``members_vote``), or
  the group is no longer active;
* ``joined_after`` -- admitted after the ballot opened;
* ``pokok_unpaid`` -- the pokok principal account holds less than the group's AD pokok
  (e.g. a member imported as active with part of the pokok);
* ``arrears`` -- more months of unpaid wajib than the AD allows
  (``members.savings.billing.arrears_months``).

Speed: one set-based query reads every active member with the reason already decided in SQL
(a LEFT JOIN to the principal account, no query per member); the arrears are then asked for
the remaining candidates in one call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from kmp.extensions import db
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account
from kmp.timeutil import business_date, now_utc
from members.ad.config import ADConfig
from members.register.models import Member
from members.register.queries import _pokok_required_expr
from members.register.states import MemberStatus

GROUP_NO_VOTE = "group_no_vote"
JOINED_AFTER = "joined_after"
POKOK_UNPAID = "pokok_unpaid"
ARREARS = "arrears"
#: Every reason a member can be left out, in the order they are checked.
REASONS = (GROUP_NO_VOTE, JOINED_AFTER, POKOK_UNPAID, ARREARS)


@dataclass(frozen=True)
class CensusRow:
    member_id: int
    member_no: str
    group_code: str
    user_id: int | None = None


@dataclass(frozen=True)
class ExclusionRow:
    member_id: int
    group_code: str
    reason: str
    arrears_months: int | None = None
    #: For ``pokok_unpaid``: what the principal account holds and what the AD asks.
    pokok_paid_idr: int | None = None
    pokok_required_idr: int | None = None


def _reason_expr(ad: ADConfig, at: dt.datetime, paid, required):
    voting = [g.code for g in ad.active_groups if g.members_vote]
    on_date = business_date(at)
    no_vote = Member.group_code.not_in(voting) if voting else literal(True)
    return case(
        (no_vote, literal(GROUP_NO_VOTE)),
        (
            or_(
                and_(Member.joined_date.is_not(None), Member.joined_date > on_date),
                and_(Member.activated_at.is_not(None), Member.activated_at > at),
            ),
            literal(JOINED_AFTER),
        ),
        (paid < required, literal(POKOK_UNPAID)),
        else_=literal(None),
    )


def compute_census(
    ad: ADConfig, at: dt.datetime | None = None, group: str | None = None
) -> tuple[list[CensusRow], list[ExclusionRow]]:
    """Who may vote on a ballot opening at ``at`` (default now), and who is left out and why.

    ``group`` limits both lists to one member group. Rows come in member-number order."""
    at = at or now_utc()
    prefix = MEMBER_ACCOUNTS["pokok"][0]
    principal = aliased(Account)
    paid = func.coalesce(principal.balance_idr * principal.normal_sign, 0)
    required = _pokok_required_expr(ad)
    reason = _reason_expr(ad, at, paid, required)
    stmt = (
        select(
            Member.id,
            Member.member_no,
            Member.group_code,
            Member.user_id,
            reason.label("reason"),
            paid.label("paid"),
            required.label("required"),
        )
        .outerjoin(
            principal,
            and_(
                principal.owner_id == Member.id,
                principal.code == literal(prefix + ":") + Member.member_no,
            ),
        )
        .where(Member.status == MemberStatus.ACTIVE, Member.member_no.is_not(None))
        .order_by(Member.member_no)
    )
    if group is not None:
        stmt = stmt.where(Member.group_code == group)
    excluded: list[ExclusionRow] = []
    candidates = []
    for row in db.session.execute(stmt):
        if row.reason is None:
            candidates.append(row)
        elif row.reason == POKOK_UNPAID:
            excluded.append(
                ExclusionRow(
                    row.id,
                    row.group_code,
                    POKOK_UNPAID,
                    pokok_paid_idr=int(row.paid or 0),
                    pokok_required_idr=int(row.required or 0),
                )
            )
        else:
            excluded.append(ExclusionRow(row.id, row.group_code, row.reason))
    from members.savings import billing

    months = (
        billing.arrears_months([r.id for r in candidates], business_date(at)) if candidates else {}
    )
    limit = ad.max_wajib_arrears_months
    census = []
    for row in candidates:
        owed = int(months.get(row.id, 0))
        if owed > limit:
            excluded.append(ExclusionRow(row.id, row.group_code, ARREARS, owed))
        else:
            census.append(CensusRow(row.id, row.member_no, row.group_code, row.user_id))
    return census, excluded


def eligible_members(
    ad: ADConfig, on_date: dt.date | None = None, group: str | None = None
) -> list[CensusRow]:
    """The voters only (a thin wrapper of :func:`compute_census` at the end of ``on_date``,
    Jakarta time; default now)."""
    at = None
    if on_date is not None:
        from kmp.timeutil import JAKARTA

        at = dt.datetime.combine(on_date, dt.time(23, 59, 59), JAKARTA).astimezone(dt.UTC)
    return compute_census(ad, at, group)[0]


#: The old name of a census row (``eligible_members`` returned these).
EligibleMember = CensusRow
