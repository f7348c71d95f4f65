"""Outbound partner webhooks: the outbox, signing, delivery with retries.

Signed by the Standard Webhooks scheme (https://www.standardwebhooks.com/, the
``standardwebhooks`` library): headers ``webhook-id`` (the delivery, stable across retries),
``webhook-timestamp`` (this attempt, Unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``); partners verify with the library and
its five-minute replay window (``docs/partner-webhooks.md``). The target must be a public
https address: checked when saved and again before every attempt (``kmp.http``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets

import requests
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from kmp.auth import user_id_of
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.http import UnsafeTarget, check_public_url, public_session
from kmp.i18n import gettext
from kmp.timeutil import now_utc
from members.partners.models import DeliveryStatus, PartnerWebhook, WebhookDelivery, WorkerLink
from members.register import services as register_services
from members.register.models import Member

WEBHOOK_BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=12),
)


WEBHOOK_MAX_ATTEMPTS = len(WEBHOOK_BACKOFF) + 1


WEBHOOK_TIMEOUT_SECONDS = 10

log = logging.getLogger("kmp.partners.webhooks")

#: What the partner sees of a failed attempt: a generic reason, never the exception's text
#: (which would tell an attacker what answers inside the network).
DELIVERY_ERRORS = {
    "timeout": _l("Waktu habis menunggu jawaban"),
    "connection": _l("Tidak dapat terhubung"),
    "blocked_address": _l("Alamat tidak diizinkan (bukan alamat publik)"),
    "redirect": _l("Pengalihan (redirect) tidak diikuti"),
    "http_status": _l("Jawaban bukan 2xx"),
}


def webhook_of(company_id: int) -> PartnerWebhook | None:
    return db.session.scalar(select(PartnerWebhook).where(PartnerWebhook.company_id == company_id))


def set_webhook(company: Member, url: str, by_user) -> tuple[PartnerWebhook, str]:
    """Point the company's notifications at ``url`` (https only) with a NEW signing secret;
    returns the webhook and the secret (shown once)."""
    url = (url or "").strip()
    if not url.startswith("https://") or len(url) > 500 or any(c.isspace() for c in url):
        raise DomainError(
            gettext("Alamat webhook harus diawali https:// (maks. 500 karakter)."),
            code="invalid_url",
            field="url",
        )
    try:
        check_public_url(url)
    except UnsafeTarget:
        raise DomainError(
            gettext(
                "Alamat webhook harus mengarah ke server publik: alamat lokal, privat atau "
                "yang tidak bisa ditemukan tidak diterima."
            ),
            code="unsafe_url",
            field="url",
        ) from None
    secret = new_webhook_secret()
    hook = webhook_of(company.id)
    if hook is None:
        hook = PartnerWebhook(company_id=company.id, url=url, secret=secret)
        db.session.add(hook)
    hook.url, hook.secret, hook.is_active = url, secret, True
    hook.created_by_id = user_id_of(by_user)
    register_services.record_event(company, "webhook_set", by_user, f"Webhook: {url}")
    db.session.flush()
    return hook, secret


def disable_webhook(company: Member, by_user) -> None:
    hook = webhook_of(company.id)
    if hook is not None and hook.is_active:
        hook.is_active = False
        register_services.record_event(company, "webhook_disabled", by_user, "Webhook dimatikan")
        db.session.flush()


def queue_webhook(company_id: int, event: str, data: dict) -> WebhookDelivery | None:
    hook = webhook_of(company_id)
    if hook is None or not hook.is_active:
        return None
    delivery = WebhookDelivery(
        webhook_id=hook.id,
        event=event,
        payload=data,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now_utc(),
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def on_member_status_changed(sender, member=None, old=None, new=None, **_extra) -> None:  # noqa: ARG001
    """``kmp.signals.member_status_changed``: tell each company the worker consented to."""
    if member is None:
        return
    for link in db.session.scalars(
        select(WorkerLink).where(
            WorkerLink.member_id == member.id, WorkerLink.withdrawn_at.is_(None)
        )
    ):
        queue_webhook(
            link.company_id,
            "worker.status_changed",
            {
                "platform_worker_id": link.platform_worker_id,
                "member_no": member.member_no,
                "old_status": getattr(old, "value", old),
                "new_status": getattr(new, "value", new),
            },
        )


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_webhook(secret: str, body: bytes) -> str:
    """The older ``X-KMP-Signature`` header (kept for partners who verify it already)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhook_headers(secret: str, delivery_id: int, body: bytes, at: dt.datetime):
    """``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` for one attempt."""
    msg_id = f"msg_kmp_{delivery_id}"
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def webhook_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(
        {
            "id": delivery.id,
            "event": delivery.event,
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def deliver_webhooks(limit: int = 100, *, http=None) -> tuple[int, int]:
    """Send due notifications; returns ``(delivered, failed_attempts)``. A failed attempt is
    retried with backoff (1 min, 5 min, 30 min, 2 h, 12 h), then marked failed. The target is
    checked again before each attempt: a name now resolving to a private address is refused."""
    http = http or public_session(timeout=(5.0, WEBHOOK_TIMEOUT_SECONDS))
    now = now_utc()
    due = list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
    )
    delivered = failed = 0
    for delivery in due:
        hook = db.session.get(PartnerWebhook, delivery.webhook_id)
        body = webhook_body(delivery)
        delivery.attempts += 1
        error = None
        try:
            check_public_url(hook.url)
            response = http.post(
                hook.url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-KMP-Event": delivery.event,
                    "X-KMP-Delivery": str(delivery.id),
                    "X-KMP-Signature": sign_webhook(hook.secret, body),
                    **standard_webhook_headers(hook.secret, delivery.id, body, now_utc()),
                },
                allow_redirects=False,
            )
            delivery.last_status_code = response.status_code
            if 200 <= response.status_code < 300:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now_utc()
                delivery.next_attempt_at = None
                delivery.last_error = None
                delivered += 1
                continue
            error = "redirect" if 300 <= response.status_code < 400 else "http_status"
        except UnsafeTarget as exc:
            log.warning("webhook %s: refused target %s (%s)", delivery.id, hook.url, exc)
            delivery.last_status_code = None
            error = "blocked_address"
        except requests.RequestException as exc:
            log.info("webhook %s: %s: %s", delivery.id, type(exc).__name__, exc)
            delivery.last_status_code = None
            error = "timeout" if isinstance(exc, requests.Timeout) else "connection"
            if isinstance(exc, requests.TooManyRedirects):
                error = "redirect"
        failed += 1
        delivery.last_error = error
        if delivery.attempts >= WEBHOOK_MAX_ATTEMPTS or not hook.is_active:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now_utc() + WEBHOOK_BACKOFF[delivery.attempts - 1]
    db.session.flush()
    return delivered, failed


def webhook_log(company_id: int, limit: int = 50) -> list[WebhookDelivery]:
    hook = webhook_of(company_id)
    if hook is None:
        return []
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def deliver_webhooks_job() -> None:
    """Scheduled every minute: send due partner notifications."""
    deliver_webhooks()
