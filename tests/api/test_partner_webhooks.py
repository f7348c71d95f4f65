"""Outbound webhooks: signed (HMAC-SHA256) notifications when a remittance is processed or a
linked worker's status changes, retried with backoff, with a delivery log (issue 8)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
import responses
from sqlalchemy import select

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc, set_clock
from members.exits import services as exits_services
from members.partners import remittances as partners_remittances
from members.partners import webhooks as partners_webhooks
from members.partners.models import DeliveryStatus, WebhookDelivery
from tests.conftest import csrf_from

HOOK = "https://partner.example/kmp-hook"


def _remit(world, worker, ref="R-1"):
    partners_remittances.submit_remittance(
        world.company,
        remittance_ref=ref,
        total_idr=25_000,
        lines=[partners_remittances.RemittanceLineIn(worker.platform_worker_id, "wajib", 25_000)],
    )
    db.session.commit()


@responses.activate
def test_remittance_notification_is_signed_and_delivered(world):
    worker = world.worker(link_to=world.company)
    _hook, secret = partners_webhooks.set_webhook(world.company, HOOK, world.pengurus)
    db.session.commit()
    _remit(world, worker)
    responses.add(responses.POST, HOOK, status=204)
    assert partners_webhooks.deliver_webhooks() == (1, 0)
    db.session.commit()
    call = responses.calls[0].request
    expected = "sha256=" + hmac.new(secret.encode(), call.body, hashlib.sha256).hexdigest()
    assert call.headers["X-KMP-Signature"] == expected
    assert call.headers["X-KMP-Event"] == "remittance.processed"
    body = json.loads(call.body)
    assert body["data"]["remittance_id"] == "R-1" and body["data"]["accepted_idr"] == 25_000
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert partners_webhooks.deliver_webhooks() == (0, 0)  # delivered once only


@responses.activate
def test_failures_are_retried_with_backoff_then_marked_failed(world):
    worker = world.worker(link_to=world.company)
    partners_webhooks.set_webhook(world.company, HOOK, world.pengurus)
    db.session.commit()
    _remit(world, worker)
    responses.add(responses.POST, HOOK, status=500)
    start = now_utc()
    assert partners_webhooks.deliver_webhooks() == (0, 1)
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 500
    assert delivery.next_attempt_at - start >= dt.timedelta(minutes=1)
    assert partners_webhooks.deliver_webhooks() == (0, 0)  # not due yet
    clock = start
    for _attempt in range(partners_webhooks.WEBHOOK_MAX_ATTEMPTS - 1):
        clock = clock + dt.timedelta(hours=13)
        set_clock(lambda c=clock: c)
        assert partners_webhooks.deliver_webhooks() == (0, 1)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == partners_webhooks.WEBHOOK_MAX_ATTEMPTS


@responses.activate
def test_worker_status_change_notifies_linked_company_only(world):
    worker = world.worker(link_to=world.company)
    partners_webhooks.set_webhook(world.company, HOOK, world.pengurus)
    partners_webhooks.set_webhook(world.other, "https://other.example/hook", world.pengurus)
    db.session.commit()
    exits_services.request_exit(worker, by_user=world.pengurus, reason="Pindah kota")
    db.session.commit()
    events = db.session.scalars(select(WebhookDelivery)).all()
    assert [(e.event, e.payload["platform_worker_id"]) for e in events] == [
        ("worker.status_changed", worker.platform_worker_id)
    ]
    assert events[0].payload["new_status"] == "exit_requested"


def test_webhook_url_must_be_https(world):
    with pytest.raises(DomainError):
        partners_webhooks.set_webhook(world.company, "http://partner.example/x", world.pengurus)


def test_webhook_page_sets_secret_once_and_shows_log(world, client, login_as):
    from kmp.auth import User

    login_as(user=db.session.get(User, world.company.user_id))
    path = f"/mitra/{world.company.id}/webhook"
    token = csrf_from(client.get(path).get_data(as_text=True))
    bad = client.post(path, data={"csrf_token": token, "url": "ftp://x", "action": "set"})
    assert bad.status_code == 422 and "https://" in bad.get_data(as_text=True)
    good = client.post(path, data={"csrf_token": token, "url": HOOK, "action": "set"})
    assert good.status_code == 200 and "whsec_" in good.get_data(as_text=True)
    assert "whsec_" not in client.get(path).get_data(as_text=True)
    off = client.post(path, data={"csrf_token": token, "url": HOOK, "action": "disable"})
    assert off.status_code == 200
    assert partners_webhooks.webhook_of(world.company.id).is_active is False
    login_as(user=db.session.get(User, world.other.user_id))
    assert client.get(path).status_code == 403
