"""Messages of meetings and ballots, all through the one outbox (``kmp.notify``).

* The **meeting notice** (agenda, place, link to the meeting page with its documents) goes to
  every member of the census (``members.census``; of the group, for an RA Kelompok) once,
  ``ad.notice_period_days`` (plus a day's margin) before the meeting: the
  ``governance-messages`` job queues it when that day comes, the board may send it earlier
  by hand. One ``INSERT ... SELECT`` per batch of members (``queue_bulk`` with a select),
  idempotent by the outbox's ``dedupe_key``.
* A **ballot** sends an opening message to its frozen census when it opens, one reminder
  ``KMP_VOTE_REMINDER_HOURS`` (default 24) before it closes to the census members who have
  not voted (online or on paper), and the result to the whole census when it closes. Each is
  idempotent per ballot and member (``dedupe_key`` ``<kind>:ballot:<id>:m<member>``).

The messages say nothing about how anyone voted: the reminder only reads who has a
participation row, never a choice.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import String, cast, func, literal, select

from governance.common import _event, _jakarta, current_ad
from governance.models import (
    BallotParticipation,
    CensusEntry,
    Meeting,
    MeetingStatus,
    Proposal,
    ProposalStatus,
    Resolution,
)
from kmp.errors import Conflict, DomainError, IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.notify import campaign_counts, queue_bulk
from kmp.timeutil import now_utc
from members.census.services import compute_census
from members.register.models import Member

BATCH = 5_000
REMINDER_HOURS = 24


def meeting_campaign(meeting: Meeting) -> str:
    return f"meeting:{meeting.id}"


def ballot_campaign(proposal: Proposal) -> str:
    return f"ballot:{proposal.id}"


def _base_url() -> str:
    return str(current_app.config.get("KMP_PUBLIC_URL") or "").rstrip("/")


def _name():
    return func.coalesce(Member.company_name, Member.full_name)


def _address():
    return func.coalesce(func.nullif(Member.email, ""), Member.phone)


def _queue_to_members(
    kind: str, campaign: str, member_ids: list[int], head: str, tail: str, subject: str
) -> int:
    """One message per member: ``head + name + tail``; set-based, in batches."""
    total = 0
    for start in range(0, len(member_ids), BATCH):
        chunk = member_ids[start : start + BATCH]
        rows = select(
            Member.id.label("member_id"),
            Member.user_id.label("user_id"),
            _address().label("address"),
            (literal(head) + cast(_name(), String) + literal(tail)).label("body"),
        ).where(Member.id.in_(chunk))
        total += queue_bulk(kind, campaign, rows, subject=subject)
    return total


# --------------------------------------------------------------------------- meeting notices


def notice_member_ids(meeting: Meeting, at: dt.datetime | None = None) -> list[int]:
    census, _excluded = compute_census(current_ad(), at or now_utc(), meeting.group_code)
    return [row.member_id for row in census]


def queue_meeting_notice(meeting: Meeting, *, by_user=None, now: dt.datetime | None = None) -> int:
    """Queue the notice to every census member (once). Returns the messages queued."""
    if meeting.status is MeetingStatus.CANCELLED:
        raise IllegalTransition(_("Rapat ini dibatalkan."), code="meeting_cancelled")
    if meeting.notice_sent_at is not None:
        raise Conflict(_("Undangan rapat ini sudah dikirim."), code="notice_already_sent")
    now = now or now_utc()
    if meeting.starts_at <= now:
        raise DomainError(
            _("Rapat sudah dimulai; undangan tidak bisa dikirim lagi."), code="too_late"
        )
    ad = current_ad()
    where = meeting.location or meeting.online_url or _("daring")
    link = f"{_base_url()}/rapat/{meeting.id}"
    subject = _("Undangan %(kind)s: %(title)s", kind=meeting.kind.label, title=meeting.title)
    head = _("Yth. ")
    tail = _(
        ',\n\nAnda diundang ke %(kind)s "%(title)s" pada %(when)s (%(mode)s, %(where)s).'
        "\n\nAcara:\n%(agenda)s\n\nAcara lengkap dan dokumen rapat: %(link)s",
        kind=meeting.kind.label,
        title=meeting.title,
        when=_jakarta(meeting.starts_at),
        mode=meeting.mode.label,
        where=where,
        agenda=meeting.agenda or "-",
        link=link,
    )
    ids = notice_member_ids(meeting, now)
    count = _queue_to_members(
        "meeting_notice", meeting_campaign(meeting), ids, head, tail, subject[:200]
    )
    meeting.notice_sent_at = now
    meeting.notice_period_days = ad.notice_period_days
    db.session.flush()
    note = f"{count} penerima"
    if meeting.notice_late:
        note += f"; terlambat (kurang dari {ad.notice_period_days} hari)"
    _event("notice_sent", by_user, meeting=meeting, note=note)
    return count


NOTICE_MARGIN = dt.timedelta(days=1)


def due_notices(now: dt.datetime | None = None) -> list[Meeting]:
    """Planned meetings without a notice whose notice day has come: the AD's period before
    the meeting, plus one day's margin so that the notice never lands late."""
    now = now or now_utc()
    period = dt.timedelta(days=current_ad().notice_period_days) + NOTICE_MARGIN
    return list(
        db.session.scalars(
            select(Meeting)
            .where(
                Meeting.status == MeetingStatus.PLANNED,
                Meeting.notice_sent_at.is_(None),
                Meeting.starts_at > now,
                Meeting.starts_at <= now + period,
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
    )


# --------------------------------------------------------------------------- ballots


def _census_ids(proposal: Proposal, *, non_voters: bool = False) -> list[int]:
    stmt = select(CensusEntry.member_id).where(CensusEntry.proposal_id == proposal.id)
    if non_voters:
        voted = select(BallotParticipation.member_id).where(
            BallotParticipation.proposal_id == proposal.id
        )
        stmt = stmt.where(CensusEntry.member_id.not_in(voted))
    return list(db.session.scalars(stmt.order_by(CensusEntry.member_id)))


def _ballot_link(proposal: Proposal) -> str:
    return f"{_base_url()}/pemungutan/{proposal.id}"


def queue_ballot_opened(proposal: Proposal) -> int:
    subject = _("Pemungutan suara dibuka: %(title)s", title=proposal.title)
    tail = _(
        ', pemungutan suara "%(title)s" sudah dibuka sampai %(until)s. Berikan suara Anda: '
        "%(link)s",
        title=proposal.title,
        until=_jakarta(proposal.closes_at),
        link=_ballot_link(proposal),
    )
    return _queue_to_members(
        "vote_open", ballot_campaign(proposal), _census_ids(proposal), _("Yth. "), tail, subject
    )


def queue_ballot_reminder(proposal: Proposal) -> int:
    """Only the census members without a participation (online or paper) yet."""
    subject = _("Pengingat: %(title)s", title=proposal.title)
    tail = _(
        ', Anda belum memberikan suara untuk "%(title)s". Pemungutan ditutup %(until)s: %(link)s',
        title=proposal.title,
        until=_jakarta(proposal.closes_at),
        link=_ballot_link(proposal),
    )
    ids = _census_ids(proposal, non_voters=True)
    count = _queue_to_members(
        "vote_reminder", ballot_campaign(proposal), ids, _("Yth. "), tail, subject
    )
    proposal.reminder_sent_at = now_utc()
    db.session.flush()
    return count


def queue_ballot_result(proposal: Proposal, resolution: Resolution) -> int:
    subject = _("Hasil pemungutan suara: %(title)s", title=proposal.title)
    tail = _(
        ', pemungutan suara "%(title)s" sudah ditutup. Hasil: %(outcome)s. Rinciannya: %(link)s',
        title=proposal.title,
        outcome=_(resolution.outcome.label),
        link=f"{_ballot_link(proposal)}/hasil",
    )
    return _queue_to_members(
        "vote_result", ballot_campaign(proposal), _census_ids(proposal), _("Yth. "), tail, subject
    )


def reminder_hours() -> int:
    return int(current_app.config.get("KMP_VOTE_REMINDER_HOURS") or REMINDER_HOURS)


def due_reminders(now: dt.datetime | None = None) -> list[Proposal]:
    now = now or now_utc()
    return list(
        db.session.scalars(
            select(Proposal)
            .where(
                Proposal.status == ProposalStatus.OPEN,
                Proposal.reminder_sent_at.is_(None),
                Proposal.closes_at > now,
                Proposal.closes_at <= now + dt.timedelta(hours=reminder_hours()),
            )
            .order_by(Proposal.id)
        )
    )


def run_message_schedule(now: dt.datetime | None = None) -> dict[str, list[int]]:
    """The job: due meeting notices and vote reminders. Idempotent (run it twice: nothing
    more is queued); one failing meeting does not stop the others. The caller commits."""
    now = now or now_utc()
    done: dict[str, list[int]] = {"notices": [], "reminders": [], "failed": []}
    for meeting in due_notices(now):
        try:
            with db.session.begin_nested():
                queue_meeting_notice(meeting, now=now)
            done["notices"].append(meeting.id)
        except DomainError:
            done["failed"].append(meeting.id)
    for proposal in due_reminders(now):
        with db.session.begin_nested():
            queue_ballot_reminder(proposal)
        done["reminders"].append(proposal.id)
    return done


def message_counts(meeting: Meeting) -> dict:
    """Sent/delivered/failed of the notice and of the meeting's ballots (for the page)."""
    out = {"notice": campaign_counts(meeting_campaign(meeting)), "ballots": []}
    for proposal in meeting.proposals:
        out["ballots"].append((proposal, campaign_counts(ballot_campaign(proposal))))
    return out
