"""Meetings (RA Kelompok, RA Paripurna, RAT): creation, notices, attendance, check-in, minutes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from governance.common import _event, _refuse, current_ad
from governance.models import (
    ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    Attendance,
    AttendanceHow,
    Meeting,
    MeetingKind,
    MeetingMode,
    MeetingStatus,
    Minutes,
    MinutesAttachment,
)
from kmp.auth import user_id_of
from kmp.errors import Conflict, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import business_date, now_utc
from members.register.models import Member
from members.register.states import MemberStatus

ONLINE_CHECKIN_BEFORE = dt.timedelta(hours=1)


ONLINE_CHECKIN_AFTER = dt.timedelta(hours=12)


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
        raise _refuse(gettext("Judul rapat wajib diisi."), "required", "title")
    if starts_at.tzinfo is None:
        raise ValueError("starts_at must be aware")
    location = (location or "").strip() or None
    if mode is not MeetingMode.ONLINE and not location:
        raise _refuse(
            gettext("Tempat rapat wajib diisi untuk rapat tatap muka atau hibrida."),
            "required",
            "location",
        )
    if kind is MeetingKind.RAT:
        if fiscal_year is None:
            raise _refuse(
                gettext("RAT harus menyebut tahun buku yang dipertanggungjawabkan."),
                "required",
                "fiscal_year",
            )
        if not 2000 <= fiscal_year <= business_date(starts_at).year:
            raise _refuse(
                gettext("Tahun buku RAT harus tahun yang sudah berjalan sebelum rapat."),
                "fiscal_year_invalid",
                "fiscal_year",
            )
    else:
        fiscal_year = None
    if kind is MeetingKind.RA_KELOMPOK:
        ad = current_ad()
        if ad.get_group(group_code) is None:
            raise _refuse(gettext("Pilih kelompok untuk RA Kelompok."), "required", "group_code")
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


def send_notice(meeting: Meeting, by_user=None) -> int:
    """Send the invitation to every census member (of the group, for an RA Kelompok), once,
    through the outbox (``governance.notices``). A notice later than the AD's notice period
    is still sent but flagged as late (``Meeting.notice_late``) on every page that shows it."""
    from governance.notices import queue_meeting_notice

    return queue_meeting_notice(meeting, by_user=by_user)


def mark_meeting_held(meeting: Meeting, by_user=None) -> Meeting:
    if meeting.status is not MeetingStatus.PLANNED:
        raise IllegalTransition(
            gettext("Hanya rapat yang direncanakan bisa ditandai sudah diadakan.")
        )
    if meeting.starts_at > now_utc():
        raise _refuse(gettext("Rapat belum dimulai."), "not_started")
    meeting.status = MeetingStatus.HELD
    db.session.flush()
    _event("meeting_held", by_user, meeting=meeting)
    return meeting


def cancel_meeting(meeting: Meeting, by_user=None, reason: str = "") -> Meeting:
    if meeting.status is not MeetingStatus.PLANNED:
        raise IllegalTransition(gettext("Hanya rapat yang direncanakan bisa dibatalkan."))
    if not (reason or "").strip():
        raise _refuse(gettext("Alasan pembatalan wajib diisi."), "reason_required", "reason")
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
        raise IllegalTransition(gettext("Rapat ini dibatalkan."), code="meeting_cancelled")
    if member.status is not MemberStatus.ACTIVE:
        raise _refuse(
            gettext("%(display_name)s bukan anggota aktif.", display_name=member.display_name),
            "member_not_active",
            "member_no",
        )
    if meeting.group_code and member.group_code != meeting.group_code:
        raise _refuse(
            gettext(
                "%(display_name)s bukan anggota kelompok %(group_code)s.",
                display_name=member.display_name,
                group_code=meeting.group_code,
            ),
            "wrong_group",
            "member_no",
        )
    now = now_utc()
    if how is AttendanceHow.ONLINE:
        if meeting.mode is MeetingMode.IN_PERSON:
            raise _refuse(gettext("Rapat ini hanya tatap muka."), "in_person_only")
        if (
            not meeting.starts_at - ONLINE_CHECKIN_BEFORE
            <= now
            <= (meeting.starts_at + ONLINE_CHECKIN_AFTER)
        ):
            raise _refuse(
                gettext(
                    "Kehadiran daring dicatat mulai 1 jam sebelum rapat sampai 12 jam "
                    "sesudah rapat dimulai."
                ),
                "outside_window",
            )
    elif meeting.mode is MeetingMode.ONLINE:
        raise _refuse(gettext("Rapat ini daring: tidak ada presensi di tempat."), "online_only")
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
            gettext("%(who)s sudah tercatat hadir.", who=who),
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
            gettext("Nomor anggota '%(no)s' tidak ditemukan.", no=text),
            code="member_not_found",
            field="member_no",
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
            gettext("Notulen sudah diterbitkan dan tidak bisa diubah."), code="minutes_published"
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
        raise _refuse(gettext("Berkas kosong."), "file_empty", "file")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise _refuse(
            gettext("Lampiran paling besar %(mb)s MB.", mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)),
            "file_too_large",
            "file",
        )
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in ATTACHMENT_TYPES:
        raise _refuse(gettext("Lampiran harus PDF, PNG atau JPG."), "file_type", "file")
    if not _sniff_ok(content_type, data):
        raise _refuse(
            gettext("Isi berkas tidak cocok dengan jenisnya (PDF, PNG atau JPG)."),
            "file_type",
            "file",
        )
    minutes = meeting.minutes or save_minutes(meeting, "", by_user)
    if minutes.published_at is not None:
        raise IllegalTransition(
            gettext("Notulen sudah diterbitkan dan tidak bisa diubah."), code="minutes_published"
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
        raise _refuse(gettext("Tulis notulen dulu sebelum diterbitkan."), "minutes_empty", "text")
    if minutes.published_at is not None:
        raise Conflict(gettext("Notulen sudah diterbitkan."), code="minutes_published")
    minutes.published_at = now_utc()
    db.session.flush()
    _event("minutes_published", by_user, meeting=meeting)
    return minutes
