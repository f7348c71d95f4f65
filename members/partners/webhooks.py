"""Outbound partner webhooks: the outbox, signing, delivery with retries."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets

from sqlalchemy import select

from kmp.auth import user_id_of
from kmp.errors import DomainError
from kmp.extensions import db
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
    secret = "whsec_" + secrets.token_urlsafe(32)
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


def sign_webhook(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
    retried with backoff (1 min, 5 min, 30 min, 2 h, 12 h), then marked failed."""
    import requests

    http = http or requests
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
            response = http.post(
                hook.url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-KMP-Event": delivery.event,
                    "X-KMP-Delivery": str(delivery.id),
                    "X-KMP-Signature": sign_webhook(hook.secret, body),
                },
                timeout=WEBHOOK_TIMEOUT_SECONDS,
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
            error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
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
