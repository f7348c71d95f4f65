"""Account claim ("Aktifkan akun"): a member without a login claims one.

Members brought in by the spreadsheet import, or admitted without a login, get an invitation
message (``invite_members``: one set-based insert into the outbox, idempotent per member). At
``/aktifkan-akun`` the member gives their member number and NIK; when both match a member
without a login who has a phone number on record, a 6-digit code goes to that phone
(WhatsApp/SMS, through the outbox). With the code they choose a password and get a login
(role anggota, the phone on record as its login) linked to their membership.

The machinery is the phone password reset's (``kmp.auth.issue_phone_code`` /
``check_phone_code``, purpose ``claim``, keyed by the member number): short expiry, five wrong
codes block a code, sends rate-limited per member number and per client address by the view,
and the same answer whether or not the member exists or the NIK matches (a decoy code row).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import String, cast, func, literal, select

from kmp.auth import (
    User,
    check_password_strength,
    check_phone_code,
    create_user,
    issue_phone_code,
    reset_code_ttl,
    spend_phone_code,
)
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.notify import queue_bulk, queue_notification
from members.register.models import Member
from members.register.states import MemberStatus

PURPOSE = "claim"
CLAIMABLE = (MemberStatus.ACTIVE, MemberStatus.APPROVED)
BATCH = 5_000


def claim_key(member_no: str) -> str:
    return (member_no or "").strip().upper()[:40]


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def claim_url() -> str:
    return str(current_app.config.get("KMP_PUBLIC_URL") or "").rstrip("/") + "/aktifkan-akun"


def invite_members(member_ids: list[int]) -> int:
    """Queue the invitation to claim a login to each of these members who has none yet and a
    phone or e-mail on record (one ``INSERT ... SELECT`` per batch). Idempotent per member."""
    head = _("Yth. ")
    middle = _(", Anda terdaftar sebagai anggota koperasi dengan nomor anggota ")
    tail = _(
        ". Aktifkan akun Anda di %(link)s dengan nomor anggota, NIK, dan kode yang kami "
        "kirim ke nomor HP Anda.",
        link=claim_url(),
    )
    total = 0
    for start in range(0, len(member_ids), BATCH):
        chunk = member_ids[start : start + BATCH]
        rows = select(
            Member.id.label("member_id"),
            func.coalesce(func.nullif(Member.phone, ""), Member.email).label("address"),
            func.nullif(Member.email, "").label("alt_address"),
            (
                literal(head)
                + cast(func.coalesce(Member.company_name, Member.full_name), String)
                + literal(middle)
                + Member.member_no
                + literal(tail)
            ).label("body"),
        ).where(
            Member.id.in_(chunk),
            Member.user_id.is_(None),
            Member.member_no.is_not(None),
            Member.status.in_(CLAIMABLE),
        )
        total += queue_bulk(
            "account_invite", "account_invite", rows, subject=_("Aktifkan akun koperasi Anda")
        )
    return total


def _claimable(member_no: str, nik: str) -> Member | None:
    member = db.session.scalar(select(Member).where(Member.member_no == claim_key(member_no)))
    if member is None or member.user_id is not None or member.status not in CLAIMABLE:
        return None
    if not member.phone or _digits(member.nik) != _digits(nik) or len(_digits(nik)) != 16:
        return None
    if db.session.scalar(select(User.id).where(User.phone == member.phone)) is not None:
        return None  # the number is some other login already: the board sorts that out
    return member


def request_claim_code(member_no: str, nik: str) -> None:
    """Send a claim code to the phone on record when member number and NIK match a member
    without a login; the same work (a decoy code, nothing sent) otherwise. Flushes."""
    member = _claimable(member_no, nik)
    code = issue_phone_code(
        claim_key(member_no), purpose=PURPOSE, subject_id=member.id if member else None
    )
    if member is None:
        return
    minutes = max(reset_code_ttl() // 60, 1)
    queue_notification(
        kind="account_claim",
        address=member.phone,
        subject=_("Kode aktivasi akun KMP"),
        body=_(
            "Kode aktivasi akun KMP Anda: %(code)s. Berlaku %(minutes)s menit, hanya sekali "
            "pakai. Jangan berikan kode ini kepada siapa pun, termasuk pengurus koperasi.",
            code=code,
            minutes=minutes,
        ),
        member_id=member.id,
        params={"code": code},
        urgent=True,
    )


def claim_account(member_no: str, code: str, password: str) -> User:
    """Create the member's login with the code sent to their phone. A wrong code counts (the
    caller commits even when this raises); a weak password does not spend the code."""
    row = check_phone_code(claim_key(member_no), code, purpose=PURPOSE)
    member = db.session.get(Member, row.subject_id)
    if member is None or member.user_id is not None or member.status not in CLAIMABLE:
        raise DomainError(_("Akun ini sudah aktif atau tidak bisa diaktifkan."), field="code")
    check_password_strength(password)
    spend_phone_code(row)
    email = (member.email or "").strip().lower() or None
    if email and db.session.scalar(select(User.id).where(User.email == email)) is not None:
        email = None
    user = create_user(
        full_name=member.display_name,
        password=password,
        email=email,
        phone=member.phone,
        roles=("anggota",),
    )
    member.user_id = user.id
    db.session.flush()
    return user
