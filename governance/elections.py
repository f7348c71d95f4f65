"""Elections of officers: nominations, the candidate list, appointing the elected."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from governance.common import ABSTAIN, _event, _jakarta, _refuse, current_ad
from governance.models import (
    Nomination,
    NominationStatus,
    Office,
    Proposal,
    ProposalStatus,
)
from kmp.auth import user_id_of
from kmp.errors import Conflict
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import business_date, now_utc
from members.ad.config import ADConfig
from members.officers.models import OfficerBody, OfficerFunction
from members.register.models import Member
from members.register.states import MemberStatus


def nominate_candidate(
    proposal: Proposal, member: Member, by_user=None, statement: str | None = None
) -> Nomination:
    """Nominate ``member`` for an election. A candidate who fails the AD's competence rule for
    the office today (no verified certificate of its scheme) is refused with the reason."""
    if not proposal.is_election:
        raise _refuse(gettext("Usulan ini bukan pemilihan."), "not_election")
    if proposal.status is not ProposalStatus.DRAFT:
        raise _refuse(
            gettext("Pencalonan sudah ditutup: pemungutan suara sudah dibuka."),
            "nominations_closed",
        )
    now = now_utc()
    if proposal.nominations_open_at and now < proposal.nominations_open_at:
        raise _refuse(
            gettext(
                "Pencalonan baru dibuka %(nominations_open_at)s.",
                nominations_open_at=_jakarta(proposal.nominations_open_at),
            ),
            "nominations_not_open",
        )
    if proposal.nominations_close_at and now >= proposal.nominations_close_at:
        raise _refuse(
            gettext(
                "Pencalonan sudah ditutup %(nominations_close_at)s.",
                nominations_close_at=_jakarta(proposal.nominations_close_at),
            ),
            "nominations_closed",
        )
    who = f"{member.display_name} ({member.member_no or 'tanpa nomor'})"
    if member.status is not MemberStatus.ACTIVE:
        raise _refuse(
            gettext("%(who)s bukan anggota aktif, jadi tidak bisa dicalonkan.", who=who),
            "member_not_active",
            "member_no",
        )
    ad = current_ad()
    group = ad.get_group(member.group_code)
    if group is None or not group.is_active or not group.members_vote:
        raise _refuse(
            gettext(
                "%(who)s: kelompoknya tidak punya hak suara menurut AD, jadi tidak "
                "bisa dicalonkan.",
                who=who,
            ),
            "group_no_vote",
            "member_no",
        )
    from members.training.competence import competence_problem

    today = business_date(now)
    problem = competence_problem(member, proposal.office.value, today)
    if problem:
        raise _refuse(
            gettext(
                "%(who)s tidak bisa dicalonkan. %(problem)s Daftarkan atau perbarui "
                "sertifikatnya dulu.",
                who=who,
                problem=problem,
            ),
            "not_certified",
            "member_no",
        )
    nomination = Nomination(
        proposal_id=proposal.id,
        member_id=member.id,
        group_code=member.group_code,
        statement=(statement or None),
        nominated_by_id=user_id_of(by_user),
    )
    db.session.add(nomination)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            gettext("%(who)s sudah dicalonkan.", who=who),
            code="already_nominated",
            field="member_no",
        ) from error
    _event("candidate_nominated", by_user, proposal=proposal, note=member.member_no)
    return nomination


def withdraw_nomination(nomination: Nomination, by_user=None) -> Nomination:
    if nomination.proposal.status is not ProposalStatus.DRAFT:
        raise _refuse(
            gettext("Pemungutan suara sudah dibuka; calon tidak bisa ditarik."),
            "nominations_closed",
        )
    nomination.status = NominationStatus.WITHDRAWN
    db.session.flush()
    _event(
        "candidate_withdrawn",
        by_user,
        proposal=nomination.proposal,
        note=nomination.member.member_no,
    )
    return nomination


def _prepare_election(proposal: Proposal, ad: ADConfig, weights: dict[str, int]) -> None:
    nominations = [n for n in proposal.nominations if n.status is NominationStatus.ACCEPTED]
    if not nominations:
        raise _refuse(
            gettext("Belum ada calon; pemungutan suara pemilihan tidak bisa dibuka."),
            "no_candidates",
        )
    for n in nominations:
        if n.group_code not in weights:
            raise _refuse(
                gettext(
                    "Calon %(display_name)s berasal dari kelompok %(group_code)s yang "
                    "tidak punya pemilih; tarik pencalonannya.",
                    display_name=n.member.display_name,
                    group_code=n.group_code,
                ),
                "candidate_group_not_voting",
            )
    field = "pengurus_seats" if proposal.office is Office.PENGURUS else "pengawas_seats"
    reserved = {
        g.code: getattr(g, field)
        for g in ad.active_groups
        if g.code in weights and getattr(g, field) > 0
    }
    if sum(reserved.values()) > (proposal.seats or 0):
        raise _refuse(
            gettext(
                "AD mencadangkan %(reserved)s kursi untuk kelompok, lebih banyak dari "
                "%(seats)s kursi yang dipilih; tambah jumlah kursi.",
                reserved=sum(reserved.values()),
                seats=proposal.seats,
            ),
            "reserved_over_seats",
        )
    proposal.reserved_seats = reserved
    proposal.options = [
        {"key": n.member.member_no, "label": n.member.display_name, "group": n.group_code}
        for n in nominations
    ] + [{"key": ABSTAIN, "label": "Abstain"}]


def _appoint_elected(proposal: Proposal, data: dict, by_user) -> None:
    """Make the elected officers. Each must pass the AD's competence rule on the day the term
    starts (``ensure_competent``, through ``appoint_officer``): one whose certificate lapsed
    since the nomination is elected but NOT appointed; the reason, naming the missing
    certificate, is recorded (event ``elected_not_appointed``) and the board appoints them
    directly once a verified certificate is in. The vote's result stands either way."""
    from members.officers.services import appoint_officer, competence_day
    from members.training.competence import competence_problem

    elected = data["weighted"]["elected"]
    members = {
        m.member_no: m
        for m in db.session.scalars(select(Member).where(Member.member_no.in_(elected)))
    }
    body = OfficerBody(proposal.office.value)
    function = (
        OfficerFunction.PENGAWAS
        if body is OfficerBody.PENGAWAS
        else OfficerFunction.ANGGOTA_PENGURUS
    )
    day = competence_day(proposal.term_start, proposal.term_end)
    appointed = []
    for member_no in elected:
        problem = competence_problem(members[member_no], body.value, day)
        if problem:
            _event("elected_not_appointed", by_user, proposal=proposal, note=problem)
            continue
        appoint_officer(
            members[member_no],
            body=body,
            function=function,
            term_start=proposal.term_start,
            term_end=proposal.term_end,
            by_user=by_user,
        )
        appointed.append(member_no)
    if appointed:
        _event("officers_appointed", by_user, proposal=proposal, note=", ".join(appointed))
