"""The frozen census of a ballot: who is in, who is left out and why, the counts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from governance.common import _jakarta, arrears_months, current_ad
from governance.models import (
    BallotChoice,
    BallotParticipation,
    CensusEntry,
    CensusExclusion,
    OpenBallotVote,
    Proposal,
)
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import business_date
from members.ad.config import ADConfig
from members.register.models import Member
from members.register.states import MemberStatus


@dataclass(frozen=True)
class CensusRow:
    member_id: int
    member_no: str
    group_code: str


@dataclass(frozen=True)
class ExclusionRow:
    member_id: int
    group_code: str
    reason: str
    arrears_months: int | None = None


def compute_census(ad: ADConfig, at: dt.datetime) -> tuple[list[CensusRow], list[ExclusionRow]]:
    """Who may vote on a ballot opening at ``at`` (domain decision 7).

    Active members (membership is active only once simpanan pokok is fully paid: the members
    state machine) of the AD's active voting groups, admitted on or before ``at``, with at most
    ``max_wajib_arrears_months`` of wajib arrears. Active members left out are returned with
    the reason."""
    voting = {g.code for g in ad.active_groups if g.members_vote}
    on_date = business_date(at)
    rows = db.session.execute(
        select(
            Member.id, Member.member_no, Member.group_code, Member.joined_date, Member.activated_at
        )
        .where(Member.status == MemberStatus.ACTIVE, Member.member_no.is_not(None))
        .order_by(Member.id)
    ).all()
    excluded: list[ExclusionRow] = []
    candidates = []
    for r in rows:
        if r.group_code not in voting:
            excluded.append(ExclusionRow(r.id, r.group_code, "group_no_vote"))
        elif (r.joined_date is not None and r.joined_date > on_date) or (
            r.activated_at is not None and r.activated_at > at
        ):
            excluded.append(ExclusionRow(r.id, r.group_code, "joined_after"))
        else:
            candidates.append(r)
    months = arrears_months([r.id for r in candidates], on_date)
    census = []
    for r in candidates:
        owed = months.get(r.id, 0)
        if owed > ad.max_wajib_arrears_months:
            excluded.append(ExclusionRow(r.id, r.group_code, "arrears", owed))
        else:
            census.append(CensusRow(r.id, r.member_no, r.group_code))
    return census, excluded


def census_refusal(proposal: Proposal, member: Member) -> DomainError:
    exclusion = db.session.scalar(
        select(CensusExclusion).where(
            CensusExclusion.proposal_id == proposal.id, CensusExclusion.member_id == member.id
        )
    )
    opened = _jakarta(proposal.opened_at) if proposal.opened_at else "saat dibuka"
    base = f"Anda tidak ada dalam daftar pemilih yang dibekukan {opened}"
    if exclusion is not None and exclusion.reason == "arrears":
        ad_limit = ""
        try:
            ad_limit = f" (batas AD: {current_ad().max_wajib_arrears_months} bulan)"
        except DomainError:
            pass
        return DomainError(
            f"{base}: tunggakan simpanan wajib Anda {exclusion.arrears_months} bulan"
            f"{ad_limit}. Lunasi tunggakan agar bisa memilih pada pemungutan berikutnya.",
            code="not_in_census_arrears",
            status=403,
        )
    if exclusion is not None and exclusion.reason == "group_no_vote":
        return DomainError(
            f"{base}: kelompok Anda tidak punya hak suara menurut AD.",
            code="not_in_census_group",
            status=403,
        )
    if (exclusion is not None and exclusion.reason == "joined_after") or (
        member.activated_at is not None
        and proposal.opened_at is not None
        and member.activated_at > proposal.opened_at
    ):
        return DomainError(
            f"{base}: Anda menjadi anggota aktif sesudah pemungutan suara "
            "dibuka. Daftar pemilih tidak berubah sesudah dibuka.",
            code="not_in_census_joined_after",
            status=403,
        )
    if member.status is not MemberStatus.ACTIVE:
        return DomainError(
            f"{base}: status keanggotaan Anda '{member.status.label}'.",
            code="not_in_census_status",
            status=403,
        )
    return DomainError(f"{base}.", code="not_in_census", status=403)


def _counts(proposal: Proposal) -> dict[str, dict[str, int]]:
    table = BallotChoice if proposal.secret else OpenBallotVote
    rows = db.session.execute(
        select(table.group_code, table.option, func.count())
        .where(table.proposal_id == proposal.id)
        .group_by(table.group_code, table.option)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for group_code, option, n in rows:
        counts[group_code][option] = n
    return counts


def census_counts(proposal: Proposal) -> dict[str, int]:
    return dict(
        db.session.execute(
            select(CensusEntry.group_code, func.count())
            .where(CensusEntry.proposal_id == proposal.id)
            .group_by(CensusEntry.group_code)
        ).all()
    )


def participation_counts(proposal: Proposal) -> dict[str, int]:
    return dict(
        db.session.execute(
            select(BallotParticipation.group_code, func.count())
            .where(BallotParticipation.proposal_id == proposal.id)
            .group_by(BallotParticipation.group_code)
        ).all()
    )
