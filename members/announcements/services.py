"""Announcement services: recipients, the preview, the set-based send. Flush, never commit.

The text may use two placeholders, filled per member in the database: ``{nama}`` (the
member's name) and ``{nomor}`` (their member number). Recipients are the active members (of
one group, or all) with a phone number or e-mail on record; opt-outs of the ``announcement``
kind are honoured by the outbox at delivery.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import String, cast, func, literal, select

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.notify import queue_bulk
from members.ad.services import current_ad
from members.announcements.models import Announcement
from members.register.models import Member
from members.register.states import MemberStatus

PLACEHOLDERS = {"{nama}": "name", "{nomor}": "member_no"}
MAX_BODY = 1000
KIND = "announcement"


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str
    group_code: str | None
    recipients: int
    example: str  # the text as the first recipient gets it
    token: str


def _address():
    return func.coalesce(func.nullif(Member.phone, ""), func.nullif(Member.email, ""))


def _recipients(group_code: str | None):
    stmt = select(Member).where(
        Member.status == MemberStatus.ACTIVE,
        Member.member_no.is_not(None),
        _address().is_not(None),
    )
    if group_code:
        stmt = stmt.where(Member.group_code == group_code)
    return stmt


def _checked(subject: str, body: str, group_code: str | None) -> tuple[str, str, str | None]:
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise DomainError(_("Judul pengumuman wajib diisi."), field="subject")
    if not body:
        raise DomainError(_("Isi pengumuman wajib diisi."), field="body")
    if len(body) > MAX_BODY:
        raise DomainError(
            _("Isi pengumuman paling panjang %(n)s karakter.", n=MAX_BODY), field="body"
        )
    group_code = (group_code or "").strip() or None
    if group_code and current_ad().get_group(group_code) is None:
        raise DomainError(_("Kelompok tidak dikenal."), field="group_code")
    return subject[:200], body, group_code


def _fill(body: str, name: str, member_no: str) -> str:
    return body.replace("{nama}", name).replace("{nomor}", member_no)


def preview_announcement(subject: str, body: str, group_code: str | None) -> Preview:
    """What would be sent, to how many, and the text the first recipient would read."""
    subject, body, group_code = _checked(subject, body, group_code)
    count = db.session.scalar(select(func.count()).select_from(_recipients(group_code).subquery()))
    first = db.session.scalar(_recipients(group_code).order_by(Member.member_no).limit(1))
    example = _fill(body, first.display_name, first.member_no) if first else body
    return Preview(subject, body, group_code, int(count or 0), example, secrets.token_hex(16))


def send_announcement(
    subject: str, body: str, group_code: str | None, token: str, by_user=None
) -> Announcement:
    """Queue the announcement for every recipient (one ``INSERT ... SELECT``); the preview's
    token makes a repeated submit a refusal, not a second campaign."""
    subject, body, group_code = _checked(subject, body, group_code)
    token = (token or "").strip()[:40]
    if not token:
        raise DomainError(_("Lihat pratinjau dulu sebelum mengirim."), field="body")
    if db.session.scalar(select(Announcement.id).where(Announcement.token == token)):
        raise Conflict(_("Pengumuman ini sudah dikirim."), code="announcement_sent")
    announcement = Announcement(
        token=token,
        subject=subject,
        body=body,
        group_code=group_code,
        sent_by_id=user_id_of(by_user),
    )
    db.session.add(announcement)
    db.session.flush()
    name = cast(func.coalesce(Member.company_name, Member.full_name), String)
    text = func.replace(func.replace(literal(body), "{nama}", name), "{nomor}", Member.member_no)
    members = _recipients(group_code).subquery()
    rows = select(
        Member.id.label("member_id"),
        Member.user_id.label("user_id"),
        _address().label("address"),
        text.label("body"),
    ).where(Member.id.in_(select(members.c.id)))
    announcement.recipients = queue_bulk(KIND, announcement.campaign, rows, subject=subject)
    db.session.flush()
    return announcement


def recent_announcements(limit: int = 20) -> list[Announcement]:
    return list(
        db.session.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit))
    )
