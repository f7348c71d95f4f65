"""Read-only governance queries for the pages."""

from __future__ import annotations

from sqlalchemy import func, select

from governance.models import (
    Attendance,
    BallotChoice,
    BallotParticipation,
    CensusEntry,
    CensusExclusion,
    GovernanceEvent,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Nomination,
    NominationStatus,
    OpenBallotVote,
    Proposal,
    ProposalStatus,
)
from kmp.extensions import db
from kmp.notify import Notification
from members.register.models import Member


def meetings(include_cancelled: bool = True) -> list[Meeting]:
    stmt = select(Meeting).order_by(Meeting.starts_at.desc())
    if not include_cancelled:
        stmt = stmt.where(Meeting.status != MeetingStatus.CANCELLED)
    return list(db.session.scalars(stmt))


def rat_held_on(fiscal_year: int):
    """Jakarta date of the first RAT held (or planned, not cancelled) for ``fiscal_year``."""
    return db.session.scalar(
        select(func.min(Meeting.starts_at)).where(
            Meeting.kind == MeetingKind.RAT,
            Meeting.fiscal_year == fiscal_year,
            Meeting.status == MeetingStatus.HELD,
        )
    )


def rat_planned(fiscal_year: int) -> Meeting | None:
    return db.session.scalar(
        select(Meeting)
        .where(
            Meeting.kind == MeetingKind.RAT,
            Meeting.fiscal_year == fiscal_year,
            Meeting.status == MeetingStatus.PLANNED,
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )


def attendance_of(meeting: Meeting) -> list[tuple[Attendance, Member]]:
    return list(
        db.session.execute(
            select(Attendance, Member)
            .join(Member, Member.id == Attendance.member_id)
            .where(Attendance.meeting_id == meeting.id)
            .order_by(Attendance.at)
        ).tuples()
    )


def attendance_count(meeting: Meeting) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.meeting_id == meeting.id)
    )


def has_attended(meeting: Meeting, member: Member) -> bool:
    return (
        db.session.scalar(
            select(Attendance.id).where(
                Attendance.meeting_id == meeting.id, Attendance.member_id == member.id
            )
        )
        is not None
    )


def notices_of(meeting: Meeting) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.campaign == f"meeting:{meeting.id}")
    )


def proposals(*, visible_to_members: bool) -> list[Proposal]:
    stmt = select(Proposal).order_by(Proposal.opens_at.desc(), Proposal.id.desc())
    if visible_to_members:
        stmt = stmt.where(Proposal.status.in_([ProposalStatus.OPEN, ProposalStatus.CLOSED]))
    return list(db.session.scalars(stmt))


def participation_of(proposal: Proposal, member: Member) -> BallotParticipation | None:
    return db.session.scalar(
        select(BallotParticipation).where(
            BallotParticipation.proposal_id == proposal.id,
            BallotParticipation.member_id == member.id,
        )
    )


def in_census(proposal: Proposal, member: Member) -> bool:
    return (
        db.session.scalar(
            select(CensusEntry.id).where(
                CensusEntry.proposal_id == proposal.id, CensusEntry.member_id == member.id
            )
        )
        is not None
    )


def census_rows(proposal: Proposal) -> list[tuple[CensusEntry, Member]]:
    return list(
        db.session.execute(
            select(CensusEntry, Member)
            .join(Member, Member.id == CensusEntry.member_id)
            .where(CensusEntry.proposal_id == proposal.id)
            .order_by(CensusEntry.member_no)
        ).tuples()
    )


def exclusion_rows(proposal: Proposal) -> list[tuple[CensusExclusion, Member]]:
    return list(
        db.session.execute(
            select(CensusExclusion, Member)
            .join(Member, Member.id == CensusExclusion.member_id)
            .where(CensusExclusion.proposal_id == proposal.id)
            .order_by(Member.member_no)
        ).tuples()
    )


def receipts(proposal: Proposal) -> list[tuple[str, str, str]]:
    """``(receipt_code, group_code, option)`` sorted by receipt code (never by casting order)."""
    return list(
        db.session.execute(
            select(BallotChoice.receipt_code, BallotChoice.group_code, BallotChoice.option)
            .where(BallotChoice.proposal_id == proposal.id)
            .order_by(BallotChoice.receipt_code)
        ).tuples()
    )


def find_receipt(proposal: Proposal, code: str) -> BallotChoice | None:
    return db.session.scalar(
        select(BallotChoice).where(
            BallotChoice.proposal_id == proposal.id, BallotChoice.receipt_code == code
        )
    )


def roll_call(proposal: Proposal) -> list[tuple[OpenBallotVote, Member]]:
    return list(
        db.session.execute(
            select(OpenBallotVote, Member)
            .join(Member, Member.id == OpenBallotVote.member_id)
            .where(OpenBallotVote.proposal_id == proposal.id)
            .order_by(Member.member_no)
        ).tuples()
    )


def nominations(proposal: Proposal, *, accepted_only: bool = False) -> list[Nomination]:
    stmt = select(Nomination).where(Nomination.proposal_id == proposal.id).order_by(Nomination.id)
    if accepted_only:
        stmt = stmt.where(Nomination.status == NominationStatus.ACCEPTED)
    return list(db.session.scalars(stmt))


def events(limit: int = 200) -> list[GovernanceEvent]:
    return list(
        db.session.scalars(
            select(GovernanceEvent)
            .order_by(GovernanceEvent.at.desc(), GovernanceEvent.id.desc())
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- board to-do


def meetings_to_notify_count() -> int:
    """Planned meetings still ahead whose notice has not been sent."""
    from governance.models import Meeting, MeetingStatus
    from kmp.timeutil import now_utc

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Meeting)
            .where(
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.starts_at > now_utc(),
                Meeting.notice_sent_at.is_(None),
            )
        )
        or 0
    )


def ballots_running_count() -> int:
    """Ballots scheduled or open (the board watches them through to the result)."""
    from governance.models import Proposal, ProposalStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Proposal)
            .where(Proposal.status.in_((ProposalStatus.DRAFT, ProposalStatus.OPEN)))
        )
        or 0
    )
