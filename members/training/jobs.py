"""The daily certificate-expiry job: warnings 90 and 30 days before a certificate expires.

Thresholds: the AD's ``certificate_warning_days`` (default 90) and ``FINAL_WARNING_DAYS`` (30).
A verified certificate whose expiry is within a threshold gets ONE warning for the most
urgent threshold it has reached (a certificate first seen 20 days before expiry gets only the
30-day warning). ``certificate_warnings`` (unique per certificate and threshold) records what
was sent, so a second run the same day -- or a second scheduler host -- sends nothing again;
the messages carry dedupe keys too. Who hears: the holder (their member phone/e-mail, else
the login's), and every active pengurus login gets one digest per run listing the
competence certificates (schemes the AD's competence rule names) that were warned.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kmp.auth import Role, User, UserRole
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.scheduler import Job
from kmp.timeutil import business_date
from members.ad.competence import normalise_scheme
from members.ad.services import current_ad
from members.training.models import Certificate, CertificateStatus, CertificateWarning

FINAL_WARNING_DAYS = 30


def warning_thresholds() -> tuple[int, ...]:
    """Largest first, e.g. (90, 30)."""
    days = {current_ad().certificate_warning_days, FINAL_WARNING_DAYS}
    return tuple(sorted((d for d in days if d > 0), reverse=True))


def _holder_contact(certificate: Certificate) -> tuple[str | None, str | None, User | None]:
    member, login = certificate.member, certificate.user
    login = login or (member.user if member is not None else None)
    phone = (member.phone if member is not None else None) or (login.phone if login else None)
    email = (member.email if member is not None else None) or (login.email if login else None)
    return phone or email, email, login


def _warn_holder(certificate: Certificate, days_left: int, threshold: int) -> int:
    from kmp.notify import queue_notification, recipient_locale

    address, email, login = _holder_contact(certificate)
    with recipient_locale(login):
        message = queue_notification(
            kind="certificate_expiry",
            address=address,
            alt_address=email,
            subject=_("Sertifikat Anda akan habis"),
            body=_(
                "Sertifikat %(scheme)s nomor %(number)s habis pada %(date)s (%(days)s hari "
                "lagi). Segera perpanjang ke %(issuer)s dan serahkan sertifikat barunya ke "
                "pengurus.",
                scheme=certificate.scheme,
                number=certificate.lsp_bnsp_number,
                date=certificate.expires_on.strftime("%d-%m-%Y"),
                days=days_left,
                issuer=certificate.issuer,
            ),
            member_id=certificate.member_id,
            user_id=login.id if login is not None else None,
            dedupe_key=f"certificate_expiry:{certificate.id}:{threshold}",
        )
    return 1 if message is not None else 0


def _board_logins() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.PENGURUS)),
                User.is_active_flag.is_(True),
            )
            .order_by(User.id)
        )
    )


def _tell_board(warned: list[tuple[Certificate, int]]) -> int:
    from kmp.notify import queue_notification, recipient_locale

    competence = {normalise_scheme(s) for r in current_ad().competence_rules for s in r.schemes}
    rows = [(c, d) for c, d in warned if normalise_scheme(c.scheme) in competence]
    if not rows:
        return 0
    digest = hashlib.sha256(",".join(str(c.id) for c, _d in rows).encode()).hexdigest()[:16]
    sent = 0
    for user in _board_logins():
        with recipient_locale(user):
            lines = "\n".join(
                _(
                    "- %(name)s: %(scheme)s, habis %(date)s (%(days)s hari lagi)",
                    name=c.holder_name,
                    scheme=c.scheme,
                    date=c.expires_on.strftime("%d-%m-%Y"),
                    days=d,
                )
                for c, d in rows
            )
            message = queue_notification(
                kind="certificate_expiry",
                address=user.email or user.phone,
                subject=_("Sertifikat kompetensi yang akan habis"),
                body=_(
                    "Sertifikat kompetensi berikut akan habis:\n%(lines)s\n\nDaftar lengkap: "
                    "menu Sertifikat.",
                    lines=lines,
                ),
                user_id=user.id,
                dedupe_key=f"certificate_expiry_board:{user.id}:{digest}",
            )
        sent += 1 if message is not None else 0
    return sent


def send_expiry_warnings(on: dt.date | None = None) -> dict[str, int]:
    """Send the warnings that are due on ``on`` (default today); idempotent."""
    on = on or business_date()
    thresholds = warning_thresholds()
    if not thresholds:
        return {"warned": 0, "messages": 0}
    candidates = list(
        db.session.scalars(
            select(Certificate)
            .where(
                Certificate.status == CertificateStatus.VERIFIED,
                Certificate.expires_on.is_not(None),
                Certificate.expires_on >= on,
                Certificate.expires_on <= on + dt.timedelta(days=thresholds[0]),
            )
            .order_by(Certificate.expires_on, Certificate.id)
        )
    )
    sent_before: dict[int, set[int]] = {}
    for certificate_id, days in db.session.execute(
        select(CertificateWarning.certificate_id, CertificateWarning.days).where(
            CertificateWarning.certificate_id.in_([c.id for c in candidates])
        )
    ):
        sent_before.setdefault(certificate_id, set()).add(days)
    warned: list[tuple[Certificate, int]] = []
    messages = 0
    for certificate in candidates:
        days_left = (certificate.expires_on - on).days
        due = min(t for t in thresholds if days_left <= t)
        if any(t <= due for t in sent_before.get(certificate.id, ())):
            continue  # a warning at least this urgent went out already
        row = CertificateWarning(certificate_id=certificate.id, days=due, sent_on=on)
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            continue  # another run recorded it a moment ago
        row.recipients = _warn_holder(certificate, days_left, due)
        messages += row.recipients
        warned.append((certificate, days_left))
    messages += _tell_board(warned)
    db.session.flush()
    return {"warned": len(warned), "messages": messages}


def expiry_warnings_job() -> None:
    send_expiry_warnings()


JOBS = [
    Job(
        id="members.certificate_expiry",
        func=expiry_warnings_job,
        trigger="cron",
        trigger_args={"hour": 7, "minute": 0},  # 07:00 WIB, after the quiet hours
        description="Peringatan sertifikat yang akan habis (90 dan 30 hari)",
    )
]
