"""The company's contribution summary (set-based) and the workers who consent to be seen."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kmp import signals
from kmp.extensions import db
from kmp.replica import read_execute
from kmp.timeutil import business_date
from members.partners.links import links_query, worker_view
from members.partners.models import LineStatus, Remittance, RemittanceLine, WorkerLink
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings import billing as savings_billing
from members.savings.models import Obligation


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def company_summary(company: Member) -> dict:
    """Aggregates a partner may always see (no personal data), set-based: a handful of grouped
    queries whatever the number of linked workers or remittance lines. Read through
    ``read_execute``, so a dashboard inside ``replica_reads()`` uses the read replica."""
    linked_ids = select(WorkerLink.member_id).where(
        WorkerLink.company_id == company.id, WorkerLink.withdrawn_at.is_(None)
    )
    linked, active = read_execute(
        select(
            func.count(Member.id),
            func.count(Member.id).filter(Member.status == MemberStatus.ACTIVE),
        ).where(Member.id.in_(linked_ids))
    ).one()
    arrears = read_execute(  # active linked workers with an unpaid month billed
        select(func.count(func.distinct(Obligation.member_id)))
        .join(Member, Member.id == Obligation.member_id)
        .where(
            Obligation.member_id.in_(linked_ids),
            Obligation.is_open.is_(True),
            Obligation.period <= business_date(),
            Member.status == MemberStatus.ACTIVE,
        )
    ).scalar_one()
    rows = read_execute(
        select(Remittance.paid_on, RemittanceLine.purpose, func.sum(RemittanceLine.amount_idr))
        .join(RemittanceLine, RemittanceLine.remittance_id == Remittance.id)
        .where(
            Remittance.company_id == company.id,
            RemittanceLine.status == LineStatus.ACCEPTED,
        )
        .group_by(Remittance.paid_on, RemittanceLine.purpose)
    )
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for paid_on, purpose, amount in rows:
        by_month[_month(paid_on)][str(purpose)] += int(amount)
    totals = read_execute(
        select(
            func.count(Remittance.id),
            func.coalesce(func.sum(Remittance.accepted_idr), 0),
            func.coalesce(func.sum(Remittance.rejected_idr), 0),
        ).where(Remittance.company_id == company.id)
    ).one()
    patronage = signals.ask(
        signals.partner_patronage_requested,
        current_app._get_current_object(),
        company_id=company.id,
    )
    months = sorted(by_month)[-12:]
    return {
        "linked": int(linked),
        "active": int(active),
        "arrears_count": int(arrears),
        "remittance_count": int(totals[0]),
        "accepted_idr": int(totals[1]),
        "rejected_idr": int(totals[2]),
        "wajib_by_month": [(m, int(by_month[m].get("wajib", 0))) for m in months],
        "savings_by_month": [(m, dict(by_month[m])) for m in months],
        "patronage_by_month": patronage,
    }


def consenting_workers(company: Member) -> list[dict]:
    """The company's consenting workers with their status and arrears: the links with their
    members in one query, the arrears of all of them in one grouped query."""
    links = db.session.scalars(
        links_query(company.id).options(joinedload(WorkerLink.member)).order_by(WorkerLink.id)
    ).all()
    arrears = savings_billing.arrears_idr_of([link.member_id for link in links])
    return [worker_view(link, arrears.get(link.member_id, 0)) for link in links]
