"""The frozen census of a ballot: who is in, who is left out and why, the counts.

Who may vote is decided by the members feature's one census,
``members.census.services.compute_census`` (re-exported here); this module explains a
refusal and counts the frozen lists."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from governance.common import _jakarta, current_ad
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
from kmp.i18n import gettext as _
from kmp.money import format_rupiah
from members.census.services import (
    ARREARS,
    GROUP_NO_VOTE,
    JOINED_AFTER,
    POKOK_UNPAID,
    CensusRow,
    ExclusionRow,
    compute_census,
)
from members.register.models import Member
from members.register.states import MemberStatus

__all__ = [
    "CensusRow",
    "ExclusionRow",
    "census_counts",
    "census_refusal",
    "compute_census",
    "participation_counts",
]


def _pokok_refusal(base: str, exclusion: CensusExclusion) -> DomainError:
    paid, required = exclusion.pokok_paid_idr or 0, exclusion.pokok_required_idr or 0
    return DomainError(
        _(
            "%(base)s: simpanan pokok Anda belum lunas saat itu (%(paid)s dari %(required)s, "
            "kurang %(left)s). Lunasi simpanan pokok agar bisa memilih pada pemungutan "
            "berikutnya.",
            base=base,
            paid=format_rupiah(paid),
            required=format_rupiah(required),
            left=format_rupiah(max(required - paid, 0)),
        ),
        code="not_in_census_pokok",
        status=403,
    )


def census_refusal(proposal: Proposal, member: Member) -> DomainError:
    exclusion = db.session.scalar(
        select(CensusExclusion).where(
            CensusExclusion.proposal_id == proposal.id, CensusExclusion.member_id == member.id
        )
    )
    opened = _jakarta(proposal.opened_at) if proposal.opened_at else _("saat dibuka")
    base = _("Anda tidak ada dalam daftar pemilih yang dibekukan %(opened)s", opened=opened)
    if exclusion is not None and exclusion.reason == POKOK_UNPAID:
        return _pokok_refusal(base, exclusion)
    if exclusion is not None and exclusion.reason == ARREARS:
        ad_limit = ""
        try:
            ad_limit = _(" (batas AD: %(n)s bulan)", n=current_ad().max_wajib_arrears_months)
        except DomainError:
            pass
        return DomainError(
            _(
                "%(base)s: tunggakan simpanan wajib Anda %(months)s bulan%(limit)s. Lunasi "
                "tunggakan agar bisa memilih pada pemungutan berikutnya.",
                base=base,
                months=exclusion.arrears_months,
                limit=ad_limit,
            ),
            code="not_in_census_arrears",
            status=403,
        )
    if exclusion is not None and exclusion.reason == GROUP_NO_VOTE:
        return DomainError(
            _("%(base)s: kelompok Anda tidak punya hak suara menurut AD.", base=base),
            code="not_in_census_group",
            status=403,
        )
    if (exclusion is not None and exclusion.reason == JOINED_AFTER) or (
        member.activated_at is not None
        and proposal.opened_at is not None
        and member.activated_at > proposal.opened_at
    ):
        return DomainError(
            _(
                "%(base)s: Anda menjadi anggota aktif sesudah pemungutan suara "
                "dibuka. Daftar pemilih tidak berubah sesudah dibuka.",
                base=base,
            ),
            code="not_in_census_joined_after",
            status=403,
        )
    if member.status is not MemberStatus.ACTIVE:
        return DomainError(
            _(
                "%(base)s: status keanggotaan Anda '%(status)s'.",
                base=base,
                status=member.status.label,
            ),
            code="not_in_census_status",
            status=403,
        )
    return DomainError(_("%(base)s.", base=base), code="not_in_census", status=403)


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
