"""The notifier: messages to members and staff by e-mail or WhatsApp, through an outbox.

Features never talk to a mail server or a WhatsApp provider themselves. They call
``queue_notification(...)`` inside their own transaction; the message is stored in the
``notifications`` outbox and leaves the server only after that transaction commits, when the
``deliver-notifications`` job (every minute, also ``flask --app wsgi kmp notify-deliver``)
hands it to the configured adapter. A rolled-back action therefore never sends a message, and
a message whose delivery failed is retried (up to ``MAX_ATTEMPTS``) instead of being lost.

``KMP_NOTIFIER`` chooses the adapter (architecture principle 8):

- ``fake`` (development and tests): nothing leaves the server; delivered messages are kept in
  ``get_registry().fake_outbox`` (a list) and stay readable in the outbox table;
- ``email``: SMTP with ``KMP_SMTP_HOST``, ``KMP_SMTP_PORT`` (587), ``KMP_SMTP_USER``,
  ``KMP_SMTP_PASSWORD``, ``KMP_SMTP_FROM`` and STARTTLS; messages addressed to a phone number
  go to the WhatsApp adapter, which is an interface only (``WhatsAppSender``): production must
  install a provider with ``register_whatsapp_sender(app, sender)``, or they are marked failed
  with a clear reason.

``dedupe_key`` makes a message idempotent (a monthly bill per member and month is queued once,
however often the billing job runs).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

from flask import Flask, current_app
from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import StrEnumType, UTCDateTime
from kmp.extensions import db
from kmp.registry import get_registry
from kmp.timeutil import now_utc

log = logging.getLogger("kmp.notify")

MAX_ATTEMPTS = 5

#: ``(address, body) -> None``; raises on failure.
WhatsAppSender = Callable[[str, str], None]


class Channel(enum.StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(db.Model):
    """One message in the outbox (member_id is a plain number: ``kmp`` knows no features)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 10))
    address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    #: What the message belongs to, for counts per campaign (``meeting:12``, ``ballot:7``).
    campaign: Mapped[str | None] = mapped_column(String(80), index=True)
    status: Mapped[NotificationStatus] = mapped_column(
        StrEnumType(NotificationStatus, 10), default=NotificationStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def recipient_locale(user=None):
    """A context in which gettext speaks the recipient's language (their login's ``locale``,
    else the cooperative's default), also outside a request (jobs, CLI)::

        with recipient_locale(member.user):
            queue_notification(..., body=_("Selamat ..."))
    """
    from flask_babel import force_locale

    languages = current_app.config.get("KMP_LANGUAGES", ("id", "en"))
    locale = getattr(user, "locale", None)
    if locale not in languages:
        locale = current_app.config.get("BABEL_DEFAULT_LOCALE", "id")
    return force_locale(locale)


def channel_for(address: str) -> Channel:
    return Channel.EMAIL if "@" in address else Channel.WHATSAPP


def queue_notification(
    *,
    kind: str,
    address: str | None,
    body: str,
    subject: str = "",
    user_id: int | None = None,
    member_id: int | None = None,
    dedupe_key: str | None = None,
    campaign: str | None = None,
) -> Notification | None:
    """Store a message for delivery after the caller's transaction commits.

    Returns None (and stores nothing) when there is no address to send to, or when a message
    with the same ``dedupe_key`` was queued before.
    """
    if not address:
        return None
    if dedupe_key is not None:
        exists = db.session.scalar(
            select(Notification.id).where(Notification.dedupe_key == dedupe_key)
        )
        if exists is not None:
            return None
    message = Notification(
        kind=kind,
        channel=channel_for(address),
        address=address,
        subject=subject[:200],
        body=body,
        user_id=user_id,
        member_id=member_id,
        dedupe_key=dedupe_key,
        campaign=campaign,
        status=NotificationStatus.PENDING,
        attempts=0,
    )
    db.session.add(message)
    db.session.flush()
    return message


def register_whatsapp_sender(app: Flask, sender: WhatsAppSender) -> None:
    get_registry(app).whatsapp_sender = sender


def _send_email(message: Notification) -> None:
    config = current_app.config
    host = config.get("KMP_SMTP_HOST")
    if not host:
        raise RuntimeError("KMP_SMTP_HOST is not set")
    email = EmailMessage()
    email["From"] = config.get("KMP_SMTP_FROM") or config.get("KMP_SMTP_USER") or "kmp@localhost"
    email["To"] = message.address
    email["Subject"] = message.subject or config.get("KMP_COOP_NAME", "KMP")
    email.set_content(message.body)
    with smtplib.SMTP(host, int(config.get("KMP_SMTP_PORT", 587)), timeout=15) as smtp:
        smtp.starttls()
        if config.get("KMP_SMTP_USER"):
            smtp.login(config["KMP_SMTP_USER"], config.get("KMP_SMTP_PASSWORD", ""))
        smtp.send_message(email)


def _send(message: Notification) -> None:
    if current_app.config.get("KMP_NOTIFIER", "fake") == "fake":
        get_registry().fake_outbox.append(
            {
                "channel": str(message.channel),
                "address": message.address,
                "subject": message.subject,
                "body": message.body,
                "kind": message.kind,
            }
        )
        return
    if message.channel == Channel.EMAIL:
        _send_email(message)
        return
    sender = get_registry().whatsapp_sender
    if sender is None:
        raise RuntimeError("no WhatsApp sender is installed (register_whatsapp_sender)")
    sender(message.address, message.body)


def deliver_pending(limit: int = 500) -> tuple[int, int]:
    """Hand pending messages to the adapter; returns (sent, failed). The caller commits."""
    pending = db.session.scalars(
        select(Notification)
        .where(Notification.status == NotificationStatus.PENDING)
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    sent = failed = 0
    for message in pending:
        message.attempts += 1
        try:
            _send(message)
        except Exception as error:  # noqa: BLE001 - any adapter failure is retried, then failed
            message.last_error = str(error)[:500]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = NotificationStatus.FAILED
                failed += 1
            log.warning("notification %s not delivered: %s", message.id, error)
            continue
        message.status = NotificationStatus.SENT
        message.sent_at = now_utc()
        sent += 1
    db.session.flush()
    return sent, failed


def fake_outbox(app: Flask | None = None) -> list[dict]:
    """What the fake adapter delivered (tests and the demo read it)."""
    return get_registry(app).fake_outbox


def deliver_job() -> None:
    """Scheduled every minute; ``run_job`` gives the app context, the lock and the commit."""
    deliver_pending()


def init_app(app: Flask) -> None:
    from kmp.scheduler import Job, register_jobs

    register_jobs(
        app,
        Job(
            id="notifications-deliver",
            func=deliver_job,
            trigger="interval",
            trigger_args={"minutes": 1},
            description="Kirim pesan yang menunggu di kotak keluar",
        ),
    )
