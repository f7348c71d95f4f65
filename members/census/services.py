"""The one census: who may vote, computed from the register and the ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import aliased

from kmp.extensions import db
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account
from kmp.timeutil import business_date
from members.ad.config import ADConfig
from members.register.models import Member
from members.register.queries import _pokok_required_expr
from members.register.states import MemberStatus


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
            Member.status == MemberStatus.ACTIVE,
            Member.group_code.in_(voting),
            paid >= _pokok_required_expr(ad),
        )
        .order_by(Member.member_no)
    )
    rows = db.session.execute(stmt).all()
    from members.savings.billing import arrears_months

    arrears = arrears_months([r.id for r in rows], on_date or business_date()) if rows else {}
    limit = ad.max_wajib_arrears_months
    return [
        EligibleMember(r.id, r.member_no, r.group_code, r.user_id)
        for r in rows
        if arrears.get(r.id, 0) <= limit
    ]
