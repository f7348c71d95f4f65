"""Governance use cases (verb_noun): meetings, notices, attendance, minutes, proposals,
nominations, the census, casting and closing ballots. Services flush, never commit.

The proposal state machine::

    draft ──open──> open ──close──> closed
      │               │
      └──cancel──> cancelled <──cancel──┘

Opening freezes the census and snapshots the AD (quorum, threshold, group weights, reserved
seats, version); closing tallies with ``governance.tally``, records a ``Resolution`` and sends
``resolution_adopted`` / ``resolution_rejected``. Both happen on schedule (the
``governance-ballots`` job, every minute) or by a pengurus; every cast checks the window by
timestamp too, so a late job never lets a late vote in.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from flask import current_app
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from governance import logic
from governance.models import (
    ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    Attendance,
    AttendanceHow,
    BallotChoice,
    BallotParticipation,
    CensusEntry,
    CensusExclusion,
    GovernanceEvent,
    Meeting,
    MeetingKind,
    MeetingMode,
    MeetingStatus,
    Minutes,
    MinutesAttachment,
    Nomination,
    NominationStatus,
    Office,
    OpenBallotVote,
    Outcome,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Resolution,
)
from governance.tally import GroupInput, TallyError, tally_election, tally_proposal
from kmp import signals
from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.notify import queue_notification
from kmp.timeutil import JAKARTA, business_date, now_utc
from members.ad.config import ADConfig
from members.officers.models import OfficerBody, OfficerFunction
from members.register.models import Member
from members.register.states import MemberStatus

log = logging.getLogger("kmp.governance")

ABSTAIN = "abstain"
YES_NO_OPTIONS = (
    {"key": "yes", "label": "Setuju"},
    {"key": "no", "label": "Tidak setuju"},
    {"key": ABSTAIN, "label": "Abstain"},
)
ONLINE_CHECKIN_BEFORE = dt.timedelta(hours=1)
ONLINE_CHECKIN_AFTER = dt.timedelta(hours=12)

S = ProposalStatus
TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    S.DRAFT: frozenset({S.OPEN, S.CANCELLED}),
    S.OPEN: frozenset({S.CLOSED, S.CANCELLED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


def check_transition(current: ProposalStatus, target: ProposalStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"Usulan berstatus '{current.label}' tidak bisa menjadi '{target.label}'.",
            code="illegal_proposal_transition",
        )


# --------------------------------------------------------------------------- adapters


def current_ad() -> ADConfig:
    from members.ad.services import current_ad as members_current_ad

    return members_current_ad()


def arrears_months(member_ids: list[int], on_date: dt.date) -> dict[int, int]:
    """Months of simpanan wajib arrears per member: the ONE place the census asks.

    Asked of the members feature's billing directly (governance sits above members).
    """
    if not member_ids:
        return {}
    from members.savings.billing import arrears_months as billing_arrears_months

    return {int(k): int(v) for k, v in billing_arrears_months(member_ids, on_date).items()}


def _event(action: str, by_user=None, *, meeting=None, proposal=None, note=None) -> None:
    db.session.add(
        GovernanceEvent(
            action=action,
            by_user_id=user_id_of(by_user),
            meeting_id=getattr(meeting, "id", None),
            proposal_id=getattr(proposal, "id", None),
            note=note,
        )
    )
    target = f"proposal:{proposal.id}" if proposal is not None else f"meeting:{meeting.id}"
    signals.audit_event.send(
        current_app._get_current_object(),
        action=f"governance.{action}",
        target=target,
        before=None,
        after=note,
    )


def _refuse(message: str, code: str, field: str | None = None) -> DomainError:
    return DomainError(message, code=code, field=field)


def _jakarta(instant: dt.datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%d-%m-%Y %H.%M WIB")


# --------------------------------------------------------------------------- meetings


def create_meeting(
    *,
    kind: MeetingKind | str,
    title: str,
    starts_at: dt.datetime,
    mode: MeetingMode | str,
    agenda: str = "",
    location: str | None = None,
    online_url: str | None = None,
    fiscal_year: int | None = None,
    group_code: str | None = None,
    by_user=None,
) -> Meeting:
    kind, mode = MeetingKind(kind), MeetingMode(mode)
    title = (title or "").strip()
    if not title:
        raise _refuse("Judul rapat wajib diisi.", "required", "title")
    if starts_at.tzinfo is None:
        raise ValueError("starts_at must be aware")
    location = (location or "").strip() or None
    if mode is not MeetingMode.ONLINE and not location:
        raise _refuse(
            "Tempat rapat wajib diisi untuk rapat tatap muka atau hibrida.", "required", "location"
        )
    if kind is MeetingKind.RAT:
        if fiscal_year is None:
            raise _refuse(
                "RAT harus menyebut tahun buku yang dipertanggungjawabkan.",
                "required",
                "fiscal_year",
            )
        if not 2000 <= fiscal_year <= business_date(starts_at).year:
            raise _refuse(
                "Tahun buku RAT harus tahun yang sudah berjalan sebelum rapat.",
                "fiscal_year_invalid",
                "fiscal_year",
            )
    else:
        fiscal_year = None
    if kind is MeetingKind.RA_KELOMPOK:
        ad = current_ad()
        if ad.get_group(group_code) is None:
            raise _refuse("Pilih kelompok untuk RA Kelompok.", "required", "group_code")
    else:
        group_code = None
    meeting = Meeting(
        kind=kind,
        title=title,
        agenda=(agenda or "").strip(),
        starts_at=starts_at,
        mode=mode,
        location=location,
        online_url=(online_url or "").strip() or None,
        fiscal_year=fiscal_year,
        group_code=group_code,
        created_by_id=user_id_of(by_user),
    )
    db.session.add(meeting)
    db.session.flush()
    _event("meeting_created", by_user, meeting=meeting, note=title)
    return meeting


def _meeting_recipients(meeting: Meeting):
    stmt = select(Member).where(Member.status == MemberStatus.ACTIVE)
    if meeting.group_code:
        stmt = stmt.where(Member.group_code == meeting.group_code)
    return db.session.scalars(stmt.order_by(Member.id))


def send_notice(meeting: Meeting, by_user=None) -> int:
    """Send the invitation to every active member (of the group, for an RA Kelompok).

    Sent once; a notice later than the AD's notice period is still sent but flagged as late
    (``Meeting.notice_late``) on every page that shows the meeting."""
    if meeting.status is MeetingStatus.CANCELLED:
        raise IllegalTransition("Rapat ini dibatalkan.", code="meeting_cancelled")
    if meeting.notice_sent_at is not None:
        raise Conflict("Undangan rapat ini sudah dikirim.", code="notice_already_sent")
    now = now_utc()
    if meeting.starts_at <= now:
        raise _refuse("Rapat sudah dimulai; undangan tidak bisa dikirim lagi.", "too_late")
    ad = current_ad()
    where = meeting.location or meeting.online_url or "daring"
    subject = f"Undangan {meeting.kind.label}: {meeting.title}"
    count = 0
    for member in _meeting_recipients(meeting):
        body = (
            f"Yth. {member.display_name},\n\nAnda diundang ke {meeting.kind.label} "
            f'"{meeting.title}" pada {_jakarta(meeting.starts_at)} ({meeting.mode.label}, '
            f"{where}).\n\nAcara:\n{meeting.agenda or '-'}\n"
        )
        queued = queue_notification(
            kind="meeting_notice",
            subject=subject,
            body=body,
            member_id=member.id,
            user_id=member.user_id,
            address=member.email or member.phone,
            campaign=f"meeting:{meeting.id}",
            dedupe_key=f"meeting_notice:{meeting.id}:{member.id}",
        )
        count += queued is not None
    meeting.notice_sent_at = now
    meeting.notice_period_days = ad.notice_period_days
    db.session.flush()
    note = f"{count} penerima"
    if meeting.notice_late:
        note += f"; terlambat (kurang dari {ad.notice_period_days} hari)"
    _event("notice_sent", by_user, meeting=meeting, note=note)
    return count


def mark_meeting_held(meeting: Meeting, by_user=None) -> Meeting:
    if meeting.status is not MeetingStatus.PLANNED:
        raise IllegalTransition("Hanya rapat yang direncanakan bisa ditandai sudah diadakan.")
    if meeting.starts_at > now_utc():
        raise _refuse("Rapat belum dimulai.", "not_started")
    meeting.status = MeetingStatus.HELD
    db.session.flush()
    _event("meeting_held", by_user, meeting=meeting)
    return meeting


def cancel_meeting(meeting: Meeting, by_user=None, reason: str = "") -> Meeting:
    if meeting.status is not MeetingStatus.PLANNED:
        raise IllegalTransition("Hanya rapat yang direncanakan bisa dibatalkan.")
    if not (reason or "").strip():
        raise _refuse("Alasan pembatalan wajib diisi.", "reason_required", "reason")
    meeting.status = MeetingStatus.CANCELLED
    db.session.flush()
    _event("meeting_cancelled", by_user, meeting=meeting, note=reason.strip())
    return meeting


def record_attendance(
    meeting: Meeting, member: Member, how: AttendanceHow | str, by_user=None
) -> Attendance:
    """Record that ``member`` attends (in-person check-in by the board, or online by the
    member themself around the meeting time). Recording twice is refused."""
    how = AttendanceHow(how)
    if meeting.status is MeetingStatus.CANCELLED:
        raise IllegalTransition("Rapat ini dibatalkan.", code="meeting_cancelled")
    if member.status is not MemberStatus.ACTIVE:
        raise _refuse(
            f"{member.display_name} bukan anggota aktif.", "member_not_active", "member_no"
        )
    if meeting.group_code and member.group_code != meeting.group_code:
        raise _refuse(
            f"{member.display_name} bukan anggota kelompok {meeting.group_code}.",
            "wrong_group",
            "member_no",
        )
    now = now_utc()
    if how is AttendanceHow.ONLINE:
        if meeting.mode is MeetingMode.IN_PERSON:
            raise _refuse("Rapat ini hanya tatap muka.", "in_person_only")
        if (
            not meeting.starts_at - ONLINE_CHECKIN_BEFORE
            <= now
            <= (meeting.starts_at + ONLINE_CHECKIN_AFTER)
        ):
            raise _refuse(
                "Kehadiran daring dicatat mulai 1 jam sebelum rapat sampai 12 jam "
                "sesudah rapat dimulai.",
                "outside_window",
            )
    elif meeting.mode is MeetingMode.ONLINE:
        raise _refuse("Rapat ini daring: tidak ada presensi di tempat.", "online_only")
    who = f"{member.display_name} ({member.member_no})"
    attendance = Attendance(
        meeting_id=meeting.id,
        member_id=member.id,
        how=how,
        at=now,
        recorded_by_id=user_id_of(by_user),
    )
    db.session.add(attendance)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"{who} sudah tercatat hadir.",
            code="already_attending",
            field="member_no",
        ) from error
    return attendance


def check_in_member(meeting: Meeting, member_no: str, by_user=None) -> Attendance:
    """In-person check-in by member number (typed, or read from the member card's QR code)."""
    text = (member_no or "").strip().upper()
    member = db.session.scalar(select(Member).where(Member.member_no == text)) if text else None
    if member is None:
        raise NotFound(
            f"Nomor anggota '{text}' tidak ditemukan.", code="member_not_found", field="member_no"
        )
    return record_attendance(meeting, member, AttendanceHow.CHECKIN, by_user)


def save_minutes(meeting: Meeting, text: str, by_user=None) -> Minutes:
    minutes = meeting.minutes
    if minutes is None:
        minutes = Minutes(meeting_id=meeting.id, text="")
        db.session.add(minutes)
        meeting.minutes = minutes
    if minutes.published_at is not None:
        raise IllegalTransition(
            "Notulen sudah diterbitkan dan tidak bisa diubah.", code="minutes_published"
        )
    minutes.text = (text or "").strip()
    minutes.updated_at = now_utc()
    minutes.updated_by_id = user_id_of(by_user)
    db.session.flush()
    return minutes


def add_minutes_attachment(
    meeting: Meeting, *, file_name: str, content_type: str, data: bytes, by_user=None
) -> MinutesAttachment:
    if not data:
        raise _refuse("Berkas kosong.", "file_empty", "file")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise _refuse(
            f"Lampiran paling besar {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.",
            "file_too_large",
            "file",
        )
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in ATTACHMENT_TYPES:
        raise _refuse("Lampiran harus PDF, PNG atau JPG.", "file_type", "file")
    if not _sniff_ok(content_type, data):
        raise _refuse(
            "Isi berkas tidak cocok dengan jenisnya (PDF, PNG atau JPG).", "file_type", "file"
        )
    minutes = meeting.minutes or save_minutes(meeting, "", by_user)
    if minutes.published_at is not None:
        raise IllegalTransition(
            "Notulen sudah diterbitkan dan tidak bisa diubah.", code="minutes_published"
        )
    name = (file_name or "lampiran").replace("/", "_").replace("\\", "_").strip()[:200]
    attachment = MinutesAttachment(
        minutes_id=minutes.id,
        file_name=name or "lampiran",
        content_type=content_type,
        size_bytes=len(data),
        data=data,
        created_by_id=user_id_of(by_user),
    )
    db.session.add(attachment)
    db.session.flush()
    return attachment


def _sniff_ok(content_type: str, data: bytes) -> bool:
    magic = {
        "application/pdf": (b"%PDF-",),
        "image/png": (b"\x89PNG\r\n\x1a\n",),
        "image/jpeg": (b"\xff\xd8\xff",),
    }[content_type]
    return any(data.startswith(m) for m in magic)


def publish_minutes(meeting: Meeting, by_user=None) -> Minutes:
    minutes = meeting.minutes
    if minutes is None or not minutes.text.strip():
        raise _refuse("Tulis notulen dulu sebelum diterbitkan.", "minutes_empty", "text")
    if minutes.published_at is not None:
        raise Conflict("Notulen sudah diterbitkan.", code="minutes_published")
    minutes.published_at = now_utc()
    db.session.flush()
    _event("minutes_published", by_user, meeting=meeting)
    return minutes


# --------------------------------------------------------------------------- proposals


def create_proposal(
    *,
    kind: ProposalKind | str,
    title: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    body: str = "",
    secret: bool = True,
    allow_change: bool = False,
    meeting: Meeting | None = None,
    reference: str | None = None,
    seats: int | None = None,
    office: Office | str | None = None,
    term_start: dt.date | None = None,
    term_end: dt.date | None = None,
    nominations_open_at: dt.datetime | None = None,
    nominations_close_at: dt.datetime | None = None,
    by_user=None,
) -> Proposal:
    kind = ProposalKind(kind)
    title = (title or "").strip()
    if not title:
        raise _refuse("Judul usulan wajib diisi.", "required", "title")
    if closes_at <= opens_at:
        raise _refuse("Waktu tutup harus sesudah waktu buka.", "window_order", "closes_at")
    if closes_at <= now_utc():
        raise _refuse("Waktu tutup sudah lewat.", "window_past", "closes_at")
    if meeting is not None and meeting.status is MeetingStatus.CANCELLED:
        raise _refuse("Rapat itu dibatalkan.", "meeting_cancelled", "meeting_id")
    reference = (reference or "").strip() or None
    if kind is ProposalKind.SHU_ALLOCATION and reference and ":" not in reference:
        raise _refuse(
            "Rujukan ditulis seperti 'distribution_run:12'.", "reference_format", "reference"
        )
    options: list[dict] = [dict(o) for o in YES_NO_OPTIONS]
    if kind is ProposalKind.ELECTION:
        options = [{"key": ABSTAIN, "label": "Abstain"}]
        if not seats or seats < 1:
            raise _refuse("Jumlah kursi harus paling sedikit 1.", "seats_required", "seats")
        if office is None:
            raise _refuse(
                "Pilih badan yang dipilih (pengurus atau pengawas).", "required", "office"
            )
        office = Office(office)
        if term_start is None or term_end is None or term_end <= term_start:
            raise _refuse("Isi masa jabatan: akhir harus sesudah awal.", "term_order", "term_end")
        max_years = current_ad().officer_term_max_years
        from members.register.services import add_years

        if term_end > add_years(term_start, max_years):
            raise _refuse(
                f"Masa jabatan paling lama {max_years} tahun (UU 25/1992 Ps 29).",
                "term_too_long",
                "term_end",
            )
        nominations_open_at = nominations_open_at or now_utc()
        nominations_close_at = nominations_close_at or opens_at
        if nominations_close_at <= nominations_open_at:
            raise _refuse(
                "Akhir pencalonan harus sesudah awalnya.",
                "nomination_window",
                "nominations_close_at",
            )
        if nominations_close_at > opens_at:
            raise _refuse(
                "Pencalonan harus ditutup sebelum pemungutan suara dibuka.",
                "nomination_window",
                "nominations_close_at",
            )
    else:
        seats = office = term_start = term_end = None
        nominations_open_at = nominations_close_at = None
    proposal = Proposal(
        kind=kind,
        title=title,
        body=(body or "").strip(),
        options=options,
        opens_at=opens_at,
        closes_at=closes_at,
        secret=bool(secret),
        allow_change=bool(allow_change),
        meeting_id=meeting.id if meeting is not None else None,
        reference=reference,
        seats=seats,
        office=office,
        term_start=term_start,
        term_end=term_end,
        nominations_open_at=nominations_open_at,
        nominations_close_at=nominations_close_at,
        created_by_id=user_id_of(by_user),
        status=ProposalStatus.DRAFT,
    )
    db.session.add(proposal)
    db.session.flush()
    _event("proposal_created", by_user, proposal=proposal, meeting=meeting, note=title)
    return proposal


def _lock(proposal: Proposal, *, shared: bool = False) -> Proposal:
    """Re-read the proposal under a row lock (FOR UPDATE, or FOR SHARE when ``shared``).

    Casting takes the shared lock and closing the exclusive one, so on PostgreSQL a close
    waits for the casts in flight and a cast that starts after the close sees it closed."""
    stmt = (
        select(Proposal)
        .where(Proposal.id == proposal.id)
        .with_for_update(read=shared)
        .execution_options(populate_existing=True)
    )
    return db.session.execute(stmt).scalar_one()


def nominate_candidate(
    proposal: Proposal, member: Member, by_user=None, statement: str | None = None
) -> Nomination:
    """Nominate ``member`` for an election. With the AD's ``require_certified_officers`` on, a
    candidate without a competence certificate valid today is refused with the reason."""
    if not proposal.is_election:
        raise _refuse("Usulan ini bukan pemilihan.", "not_election")
    if proposal.status is not ProposalStatus.DRAFT:
        raise _refuse(
            "Pencalonan sudah ditutup: pemungutan suara sudah dibuka.", "nominations_closed"
        )
    now = now_utc()
    if proposal.nominations_open_at and now < proposal.nominations_open_at:
        raise _refuse(
            f"Pencalonan baru dibuka {_jakarta(proposal.nominations_open_at)}.",
            "nominations_not_open",
        )
    if proposal.nominations_close_at and now >= proposal.nominations_close_at:
        raise _refuse(
            f"Pencalonan sudah ditutup {_jakarta(proposal.nominations_close_at)}.",
            "nominations_closed",
        )
    who = f"{member.display_name} ({member.member_no or 'tanpa nomor'})"
    if member.status is not MemberStatus.ACTIVE:
        raise _refuse(
            f"{who} bukan anggota aktif, jadi tidak bisa dicalonkan.",
            "member_not_active",
            "member_no",
        )
    ad = current_ad()
    group = ad.get_group(member.group_code)
    if group is None or not group.is_active or not group.members_vote:
        raise _refuse(
            f"{who}: kelompoknya tidak punya hak suara menurut AD, jadi tidak bisa dicalonkan.",
            "group_no_vote",
            "member_no",
        )
    if ad.require_certified_officers:
        from members.officers.services import has_valid_certificate

        today = business_date(now)
        if not has_valid_certificate(member, today):
            raise _refuse(
                f"{who} tidak bisa dicalonkan: belum punya sertifikat kompetensi "
                f"(LSP/BNSP) yang berlaku pada {today.strftime('%d-%m-%Y')}. AD mewajibkan "
                "pengurus dan pengawas bersertifikat; daftarkan atau perbarui sertifikatnya "
                "dulu.",
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
            f"{who} sudah dicalonkan.", code="already_nominated", field="member_no"
        ) from error
    _event("candidate_nominated", by_user, proposal=proposal, note=member.member_no)
    return nomination


def withdraw_nomination(nomination: Nomination, by_user=None) -> Nomination:
    if nomination.proposal.status is not ProposalStatus.DRAFT:
        raise _refuse(
            "Pemungutan suara sudah dibuka; calon tidak bisa ditarik.", "nominations_closed"
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


def open_proposal(proposal: Proposal, *, by_user=None, now: dt.datetime | None = None) -> Proposal:
    """Open the ballot: freeze the census and snapshot the AD. ``by_user=None`` is the
    scheduler (only once ``opens_at`` has come); a pengurus may open early."""
    proposal = _lock(proposal)
    check_transition(proposal.status, ProposalStatus.OPEN)
    now = now or now_utc()
    if now >= proposal.closes_at:
        raise _refuse(
            "Waktu pemungutan suara sudah habis; usulan tidak bisa dibuka.", "window_past"
        )
    if now < proposal.opens_at:
        if by_user is None:
            raise _refuse("Belum waktunya dibuka.", "not_yet")
        proposal.opens_at = now
    if proposal.is_election:
        if proposal.nominations_close_at and now < proposal.nominations_close_at:
            if by_user is None:
                raise _refuse("Pencalonan belum ditutup.", "nominations_open")
            proposal.nominations_close_at = now
    ad = current_ad()
    census, excluded = compute_census(ad, now)
    if not census:
        raise _refuse(
            "Tidak ada anggota yang berhak memilih; pemungutan suara tidak bisa dibuka.",
            "census_empty",
        )
    eligible_groups = {row.group_code for row in census}
    weights = {
        g.code: g.vote_weight_bp
        for g in ad.active_groups
        if g.members_vote and g.code in eligible_groups and g.vote_weight_bp > 0
    }
    if proposal.is_election:
        _prepare_election(proposal, ad, weights)
    if proposal.kind.is_special:
        threshold = ad.special_threshold
    else:
        threshold = ad.ordinary_threshold
    proposal.ad_version_id = ad.version_id
    proposal.quorum_num, proposal.quorum_den = ad.quorum.numerator, ad.quorum.denominator
    proposal.quorum_inclusive = not ad.quorum.strict
    proposal.require_group_quorum = ad.quorum_per_group
    proposal.threshold_num, proposal.threshold_den = threshold.numerator, threshold.denominator
    proposal.threshold_inclusive = not threshold.strict
    proposal.group_weights = weights
    census = [row for row in census if row.group_code in weights]
    if census:
        db.session.execute(
            insert(CensusEntry),
            [
                {
                    "proposal_id": proposal.id,
                    "member_id": r.member_id,
                    "member_no": r.member_no,
                    "group_code": r.group_code,
                }
                for r in census
            ],
        )
    if excluded:
        db.session.execute(
            insert(CensusExclusion),
            [
                {
                    "proposal_id": proposal.id,
                    "member_id": e.member_id,
                    "group_code": e.group_code,
                    "reason": e.reason,
                    "arrears_months": e.arrears_months,
                }
                for e in excluded
            ],
        )
    proposal.census_fingerprint = logic.census_fingerprint(
        (r.member_no, r.group_code) for r in census
    )
    proposal.census_size = len(census)
    proposal.status = ProposalStatus.OPEN
    proposal.opened_at = now
    proposal.opened_by_id = user_id_of(by_user)
    db.session.flush()
    _event(
        "proposal_opened",
        by_user,
        proposal=proposal,
        note=f"{len(census)} pemilih; sidik jari {proposal.census_fingerprint}",
    )
    return proposal


def _prepare_election(proposal: Proposal, ad: ADConfig, weights: dict[str, int]) -> None:
    nominations = [n for n in proposal.nominations if n.status is NominationStatus.ACCEPTED]
    if not nominations:
        raise _refuse(
            "Belum ada calon; pemungutan suara pemilihan tidak bisa dibuka.", "no_candidates"
        )
    for n in nominations:
        if n.group_code not in weights:
            raise _refuse(
                f"Calon {n.member.display_name} berasal dari kelompok "
                f"{n.group_code} yang tidak punya pemilih; tarik pencalonannya.",
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
            f"AD mencadangkan {sum(reserved.values())} kursi untuk kelompok, lebih banyak dari "
            f"{proposal.seats} kursi yang dipilih; tambah jumlah kursi.",
            "reserved_over_seats",
        )
    proposal.reserved_seats = reserved
    proposal.options = [
        {"key": n.member.member_no, "label": n.member.display_name, "group": n.group_code}
        for n in nominations
    ] + [{"key": ABSTAIN, "label": "Abstain"}]


def cancel_proposal(proposal: Proposal, by_user=None, reason: str = "") -> Proposal:
    proposal = _lock(proposal)
    check_transition(proposal.status, ProposalStatus.CANCELLED)
    if not (reason or "").strip():
        raise _refuse("Alasan pembatalan wajib diisi.", "reason_required", "reason")
    proposal.status = ProposalStatus.CANCELLED
    proposal.cancelled_reason = reason.strip()
    db.session.flush()
    _event("proposal_cancelled", by_user, proposal=proposal, note=reason.strip())
    return proposal


# --------------------------------------------------------------------------- casting


@dataclass(frozen=True)
class CastResult:
    receipt_code: str | None  # None on an open (roll-call) ballot
    changed: bool
    change_token: str | None  # only on a secret ballot that allows a change


def ballot_secret() -> str:
    return current_app.config.get("KMP_BALLOT_SECRET") or current_app.config["SECRET_KEY"]


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


def cast_vote(
    proposal: Proposal, member: Member, option: str, *, now: dt.datetime | None = None
) -> CastResult:
    """Record ``member``'s vote for ``option`` in one transaction (the caller commits).

    Checked here: the ballot is open *by its timestamps at this instant*, the member is in the
    frozen census, the option exists, and a second vote is only a change when the proposal
    allows it. ``UNIQUE (proposal_id, member_id)`` on ``ballot_participations`` is the final
    guard: a concurrent duplicate fails in the database and is refused here."""
    proposal = _lock(proposal, shared=True)
    now = now or now_utc()
    if proposal.status is ProposalStatus.DRAFT or now < proposal.opens_at:
        raise _refuse("Pemungutan suara belum dibuka.", "ballot_not_open")
    if proposal.status is not ProposalStatus.OPEN or now >= proposal.closes_at:
        raise DomainError(
            f"Pemungutan suara sudah ditutup ({_jakarta(proposal.closes_at)}); "
            "suara tidak diterima.",
            code="ballot_closed",
            status=409,
        )
    census = db.session.execute(
        select(CensusEntry.group_code).where(
            CensusEntry.proposal_id == proposal.id, CensusEntry.member_id == member.id
        )
    ).first()
    if census is None:
        raise census_refusal(proposal, member)
    group_code = census.group_code
    if option not in proposal.option_keys:
        raise _refuse("Pilihan tidak dikenal.", "invalid_option", "option")
    existing = db.session.execute(
        select(BallotParticipation)
        .where(
            BallotParticipation.proposal_id == proposal.id,
            BallotParticipation.member_id == member.id,
        )
        .with_for_update()
    ).scalar_one_or_none()
    token = None
    if proposal.secret and proposal.allow_change:
        token = logic.change_token(ballot_secret(), proposal.id, member.id)
    if existing is not None:
        if not proposal.allow_change:
            raise Conflict(
                "Suara Anda untuk usulan ini sudah tercatat; usulan ini tidak "
                "mengizinkan perubahan suara.",
                code="already_voted",
            )
        return _change_vote(proposal, member, existing, option, token)
    participation = BallotParticipation(
        proposal_id=proposal.id,
        member_id=member.id,
        group_code=group_code,
        cast_at=now,
        change_count=0,
    )
    db.session.add(participation)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            "Suara Anda untuk usulan ini sudah tercatat.", code="already_voted"
        ) from error
    if proposal.secret:
        receipt = logic.new_receipt_code()
        db.session.execute(
            insert(BallotChoice).values(
                id=_random_id(),
                proposal_id=proposal.id,
                group_code=group_code,
                option=option,
                receipt_code=receipt,
                change_hash=logic.change_hash(token) if token else None,
            )
        )
        return CastResult(receipt, False, token)
    db.session.add(
        OpenBallotVote(
            proposal_id=proposal.id,
            member_id=member.id,
            group_code=group_code,
            option=option,
            updated_at=now,
        )
    )
    db.session.flush()
    return CastResult(None, False, None)


def _random_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _change_vote(
    proposal: Proposal,
    member: Member,
    participation: BallotParticipation,
    option: str,
    token: str | None,
) -> CastResult:
    participation.change_count += 1
    if not proposal.secret:
        vote = db.session.scalar(
            select(OpenBallotVote).where(
                OpenBallotVote.proposal_id == proposal.id, OpenBallotVote.member_id == member.id
            )
        )
        vote.option = option
        vote.updated_at = now_utc()
        db.session.flush()
        return CastResult(None, True, None)
    hashed = logic.change_hash(token)
    removed = db.session.execute(
        delete(BallotChoice).where(
            BallotChoice.proposal_id == proposal.id, BallotChoice.change_hash == hashed
        )
    )
    if removed.rowcount != 1:
        raise Conflict(
            "Suara sebelumnya tidak ditemukan; perubahan dibatalkan.",
            code="previous_choice_missing",
        )
    receipt = logic.new_receipt_code()
    db.session.execute(
        insert(BallotChoice).values(
            id=_random_id(),
            proposal_id=proposal.id,
            group_code=participation.group_code,
            option=option,
            receipt_code=receipt,
            change_hash=hashed,
        )
    )
    db.session.flush()
    return CastResult(receipt, True, token)


# --------------------------------------------------------------------------- closing


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


def tally_of(proposal: Proposal) -> dict:
    """Tally the stored ballots with the AD snapshot taken at opening; JSON form."""
    counts = _counts(proposal)
    eligible = census_counts(proposal)
    participants = participation_counts(proposal)
    for code in set(counts) | set(participants):
        cast = sum(counts.get(code, {}).values())
        if cast != participants.get(code, 0):
            raise IllegalTransition(
                f"Jumlah pilihan ({cast}) dan jumlah pemilih ({participants.get(code, 0)}) "
                f"kelompok {code} tidak sama; penutupan dihentikan untuk diperiksa.",
                code="tally_inconsistent",
            )
    weights = proposal.group_weights or {}
    groups = [
        GroupInput(code, int(weights[code]), eligible.get(code, 0), counts.get(code, {}))
        for code in weights
        if eligible.get(code, 0) > 0
    ]
    quorum = Fraction(proposal.quorum_num, proposal.quorum_den)
    if proposal.is_election:
        candidates = [o["key"] for o in proposal.options if o["key"] != ABSTAIN]
        result = tally_election(
            groups,
            candidates,
            proposal.seats,
            proposal.reserved_seats or {},
            {o["key"]: o["group"] for o in proposal.options if o["key"] != ABSTAIN},
            quorum=quorum,
            quorum_inclusive=bool(proposal.quorum_inclusive),
            require_group_quorum=bool(proposal.require_group_quorum),
            abstain_option=ABSTAIN,
        )
        data = logic.election_result_json(result)
        data["passed"] = result.quorate and bool(result.weighted and result.weighted.elected)
    else:
        result = tally_proposal(
            groups,
            proposal.option_keys,
            quorum=quorum,
            threshold=Fraction(proposal.threshold_num, proposal.threshold_den),
            threshold_inclusive=bool(proposal.threshold_inclusive),
            quorum_inclusive=bool(proposal.quorum_inclusive),
            require_group_quorum=bool(proposal.require_group_quorum),
            abstain_option=ABSTAIN,
            yes_option="yes",
        )
        data = logic.proposal_result_json(result)
    data["census_fingerprint"] = proposal.census_fingerprint
    data["ad_version_id"] = proposal.ad_version_id
    data["participations"] = sum(participants.values())
    return data


def close_proposal(
    proposal: Proposal, *, by_user=None, now: dt.datetime | None = None
) -> Resolution:
    """Close the ballot, tally it, record the resolution and send the signal. ``by_user=None``
    is the scheduler (only once ``closes_at`` has come); a pengurus may close early."""
    proposal = _lock(proposal)
    check_transition(proposal.status, ProposalStatus.CLOSED)
    now = now or now_utc()
    if now < proposal.closes_at:
        if by_user is None:
            raise _refuse("Belum waktunya ditutup.", "not_yet")
        proposal.closes_at = max(now, proposal.opens_at + dt.timedelta(microseconds=1))
    try:
        data = tally_of(proposal)
    except TallyError as error:  # pragma: no cover - guarded by the census at opening
        raise DomainError(f"Penghitungan suara gagal: {error}", code="tally_failed") from error
    outcome = Outcome.PASSED if data["passed"] else Outcome.FAILED
    resolution = Resolution(
        proposal_id=proposal.id,
        outcome=outcome,
        tally=data,
        adopted_at=now,
        decided_by_id=user_id_of(by_user),
    )
    db.session.add(resolution)
    proposal.status = ProposalStatus.CLOSED
    proposal.closed_at = now
    proposal.closed_by_id = user_id_of(by_user)
    if proposal.secret:
        _scrub_choices(proposal)
    db.session.flush()
    if proposal.is_election and outcome is Outcome.PASSED:
        _appoint_elected(proposal, data, by_user)
    _event("proposal_closed", by_user, proposal=proposal, note=outcome.value)
    app = current_app._get_current_object()
    if outcome is Outcome.PASSED:
        signals.resolution_adopted.send(app, resolution=resolution, proposal=proposal)
    else:
        signals.resolution_rejected.send(app, proposal=proposal)
    return resolution


def _scrub_choices(proposal: Proposal) -> None:
    """Rewrite the closed ballot's choices in random order with fresh ids and no change
    hashes: the live table then keeps neither the casting order nor the change link."""
    rows = db.session.execute(
        select(BallotChoice.group_code, BallotChoice.option, BallotChoice.receipt_code).where(
            BallotChoice.proposal_id == proposal.id
        )
    ).all()
    db.session.execute(delete(BallotChoice).where(BallotChoice.proposal_id == proposal.id))
    rows = list(rows)
    random.SystemRandom().shuffle(rows)
    if rows:
        db.session.execute(
            insert(BallotChoice),
            [
                {
                    "id": _random_id(),
                    "proposal_id": proposal.id,
                    "group_code": g,
                    "option": o,
                    "receipt_code": r,
                    "change_hash": None,
                }
                for g, o, r in rows
            ],
        )


def _appoint_elected(proposal: Proposal, data: dict, by_user) -> None:
    from members.officers.services import appoint_officer

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
    for member_no in elected:
        appoint_officer(
            members[member_no],
            body=body,
            function=function,
            term_start=proposal.term_start,
            term_end=proposal.term_end,
            by_user=by_user,
        )
    _event("officers_appointed", by_user, proposal=proposal, note=", ".join(elected))


# --------------------------------------------------------------------------- schedule


def run_ballot_schedule(now: dt.datetime | None = None) -> dict[str, list[int]]:
    """The every-minute job: open due drafts, close due ballots, cancel drafts whose window
    passed without opening. Idempotent; one failing proposal does not stop the others."""
    now = now or now_utc()
    done: dict[str, list[int]] = {"opened": [], "closed": [], "cancelled": [], "failed": []}
    for proposal in db.session.scalars(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.DRAFT, Proposal.opens_at <= now)
        .order_by(Proposal.id)
    ).all():
        try:
            with db.session.begin_nested():
                if proposal.closes_at <= now:
                    cancel_proposal(
                        proposal, None, "Tidak dibuka sampai waktu pemungutan habis (otomatis)."
                    )
                    done["cancelled"].append(proposal.id)
                else:
                    open_proposal(proposal, now=now)
                    done["opened"].append(proposal.id)
        except DomainError as error:
            log.warning("proposal %s not opened: %s", proposal.id, error.message)
            done["failed"].append(proposal.id)
    for proposal in db.session.scalars(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.OPEN, Proposal.closes_at <= now)
        .order_by(Proposal.id)
    ).all():
        try:
            with db.session.begin_nested():
                close_proposal(proposal, now=now)
                done["closed"].append(proposal.id)
        except DomainError as error:
            log.error("proposal %s not closed: %s", proposal.id, error.message)
            done["failed"].append(proposal.id)
    return done
