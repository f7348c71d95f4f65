"""The notifier: messages to members and staff by WhatsApp, SMS or e-mail, through one outbox.

Features never talk to a provider themselves. They call ``queue_notification(...)`` (one
message) or ``queue_bulk(...)`` (a campaign: one set-based insert per batch) inside their own
transaction; the message is stored in the ``notifications`` outbox and leaves only after that
transaction commits, when the ``notifications-deliver`` job (every minute; also
``flask --app wsgi kmp notify-deliver``) hands it to the recipient's channel: their preferred
one, then the fallback chain (WhatsApp -> SMS -> e-mail), with retries and exponential backoff,
per-provider rate limits, opt-outs and quiet hours (``kmp.notify.delivery``). A rolled-back
action never sends a message; ``dedupe_key`` makes a message idempotent.

``KMP_NOTIFIER`` chooses the providers (``kmp.notify.providers``): ``fake`` in development and
tests (what was "sent" is kept in ``get_registry().fake_outbox``), or real channels:
``whatsapp`` (Cloud API templates, ``kmp.notify.templates``), ``sms`` (Zenziva), ``email``
(SMTP). Delivery reports of WhatsApp arrive at ``/pesan/whatsapp/webhook`` and move each
message forward through queued -> sent -> delivered -> read (or failed). The board sees every
message and every campaign under ``/pesan``; ``campaign_counts(campaign)`` gives the counts a
page (the meeting page) shows.

Public API (everything a feature needs)::

    queue_notification(*, kind, address, body, subject="", user_id=None, member_id=None,
                       dedupe_key=None, campaign=None, params=None, alt_address=None,
                       urgent=None) -> Notification | None
    queue_bulk(kind, campaign, rows, *, subject="", body=None, urgent=None,
               batch_size=5000) -> int
    campaign_counts(campaign) -> dict   # queued/sent/delivered/read/failed/skipped/total
    recipient_locale(user=None)         # a context manager (gettext in their language)
    set_channel_preference(channel, *, user_id=None, address=None) -> None
    channel_preference(*, user_id=None, address=None) -> Channel | None
    set_opt_outs(kinds, *, user_id=None, address=None, source="web") -> set[str]
    opt_out(kind="*", *, user_id=None, address=None, source="web") -> None
    opted_out_kinds(*, user_id=None, address=None) -> set[str]
    deliver_pending(limit=500) -> (sent, failed)      # one batch; the caller commits
    deliver_all(*, batch=None, seconds=None) -> DeliveryReport   # commits per batch
    fake_outbox(app=None) -> list[dict]
"""

from __future__ import annotations

from flask import Flask

from kmp.notify.delivery import (
    MAX_ATTEMPTS,
    DeliveryReport,
    deliver_all,
    deliver_batch,
    deliver_pending,
    get_provider,
)
from kmp.notify.jobs import JOB_ID, deliver_job
from kmp.notify.models import (
    Channel,
    Notification,
    NotificationEvent,
    NotificationOptOut,
    NotificationPreference,
    NotificationStatus,
)
from kmp.notify.providers import ProviderError
from kmp.notify.services import (
    campaign_counts,
    channel_for,
    channel_preference,
    opt_out,
    opted_out_kinds,
    queue_bulk,
    queue_notification,
    recipient_locale,
    record_status_updates,
    set_channel_preference,
    set_opt_outs,
)
from kmp.registry import get_registry

__all__ = [
    "JOB_ID",
    "MAX_ATTEMPTS",
    "Channel",
    "DeliveryReport",
    "Notification",
    "NotificationEvent",
    "NotificationOptOut",
    "NotificationPreference",
    "NotificationStatus",
    "ProviderError",
    "campaign_counts",
    "channel_for",
    "channel_preference",
    "deliver_all",
    "deliver_batch",
    "deliver_job",
    "deliver_pending",
    "fake_outbox",
    "get_provider",
    "init_app",
    "opt_out",
    "opted_out_kinds",
    "queue_bulk",
    "queue_notification",
    "recipient_locale",
    "record_status_updates",
    "set_channel_preference",
    "set_opt_outs",
]


def fake_outbox(app: Flask | None = None) -> list[dict]:
    """What the fake provider delivered (tests and the demo read it)."""
    return get_registry(app).fake_outbox


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from kmp.extensions import csrf
    from kmp.notify.jobs import JOBS
    from kmp.notify.views import BOARD_READ, bp, whatsapp_webhook
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    csrf.exempt(whatsapp_webhook)
    register_jobs(app, *JOBS)
    register_nav(
        app,
        NavItem("notify.messages", lazy_gettext("Pesan"), tuple(r.value for r in BOARD_READ), 75),
    )
