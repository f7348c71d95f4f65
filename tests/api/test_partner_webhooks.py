"""Outbound webhooks: signed notifications when a remittance is processed or a linked
worker's status changes, retried with backoff, with a delivery log (issue 8); signed by the
Standard Webhooks scheme and sent only to public addresses (issue 24, must show 6 and 7).

DNS is faked by monkeypatching ``socket.getaddrinfo`` (``fake_dns``): no test resolves a name."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket

import pytest
import responses
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc, set_clock
from members.exits import services as exits_services
from members.partners import remittances as partners_remittances
from members.partners import webhooks as partners_webhooks
from members.partners.models import DeliveryStatus, WebhookDelivery
from tests.conftest import csrf_from

HOOK = "https://partner.example/kmp-hook"
PUBLIC_IP = "93.184.215.14"


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """Names ending in ``.example`` resolve through this table (a public address unless a
    test re-points them); any other name does not resolve. Literal addresses pass through."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            pass
        else:
            return real(host, port, *args, **kwargs)
        if not host.endswith(".example"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for address in table.get(host, [PUBLIC_IP]):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port or 443, 0, 0) if ":" in address else (address, port or 443)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


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
    assert call.headers["X-KMP-Signature"] == expected  # the older header, kept
    verified = Webhook(secret).verify(call.body, dict(call.headers))  # Standard Webhooks
    assert verified["data"]["remittance_id"] == "R-1"
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


# ------------------------------------------------ issue 24, must show 6: Standard Webhooks


def _one_delivery(world, ref="R-1"):
    worker = world.worker(link_to=world.company)
    _hook, secret = partners_webhooks.set_webhook(world.company, HOOK, world.pengurus)
    db.session.commit()
    _remit(world, worker, ref)
    return secret


@responses.activate
def test_a_delivery_verifies_with_the_standardwebhooks_library(world):
    secret = _one_delivery(world)
    responses.add(responses.POST, HOOK, status=200)
    assert partners_webhooks.deliver_webhooks() == (1, 0)
    call = responses.calls[0].request
    headers = dict(call.headers)
    assert secret.startswith("whsec_")
    payload = Webhook(secret).verify(call.body, headers)
    assert payload["event"] == "remittance.processed"
    delivery = db.session.scalar(select(WebhookDelivery))
    assert headers["webhook-id"] == f"msg_kmp_{delivery.id}"
    # a changed body, another secret or a missing header do not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(call.body.replace(b"R-1", b"R-2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(partners_webhooks.new_webhook_secret()).verify(call.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(call.body, {k: v for k, v in headers.items() if k != "webhook-id"})


@responses.activate
def test_a_replayed_delivery_outside_the_window_is_rejected(world):
    ten_minutes_ago = now_utc() - dt.timedelta(minutes=10)
    set_clock(lambda: ten_minutes_ago)  # the delivery was signed ten minutes ago ...
    secret = _one_delivery(world)
    responses.add(responses.POST, HOOK, status=200)
    assert partners_webhooks.deliver_webhooks() == (1, 0)
    set_clock(None)  # ... and an attacker replays it now
    call = responses.calls[0].request
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(call.body, dict(call.headers))


@responses.activate
def test_a_retry_keeps_its_id_and_is_signed_afresh(world):
    secret = _one_delivery(world)
    responses.add(responses.POST, HOOK, status=503)
    responses.add(responses.POST, HOOK, status=200)
    start = now_utc()
    assert partners_webhooks.deliver_webhooks() == (0, 1)
    set_clock(lambda: start + dt.timedelta(minutes=2))
    assert partners_webhooks.deliver_webhooks() == (1, 0)
    first, second = (dict(c.request.headers) for c in responses.calls[-2:])
    assert first["webhook-id"] == second["webhook-id"]
    assert int(second["webhook-timestamp"]) - int(first["webhook-timestamp"]) >= 120
    set_clock(None)
    assert Webhook(secret).verify(responses.calls[-1].request.body, second)["id"]


# ------------------------------------------------ issue 24, must show 7: public targets only

PRIVATE_TARGETS = [
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://10.0.0.8/hook",
    "https://10.255.1.1/hook",
    "https://192.168.1.10/hook",
    "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://localhost/hook",
    "https://nowhere.invalid/hook",
    "https://user:pw@partner.example/hook",
]


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
def test_a_private_or_loopback_target_is_refused_at_save(world, url):
    with pytest.raises(DomainError) as refused:
        partners_webhooks.set_webhook(world.company, url, world.pengurus)
    assert refused.value.code in ("unsafe_url", "invalid_url")
    assert partners_webhooks.webhook_of(world.company.id) is None


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["::1"],
        ["fe80::1"],
        [PUBLIC_IP, "10.0.0.1"],
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused_at_save(world, fake_dns, answers):
    fake_dns["internal.example"] = answers
    with pytest.raises(DomainError) as refused:
        partners_webhooks.set_webhook(world.company, "https://internal.example/h", world.pengurus)
    assert refused.value.code == "unsafe_url"


@responses.activate
@pytest.mark.parametrize("answer", ["127.0.0.1", "10.9.8.7", "169.254.169.254", "::1"])
def test_a_name_re_pointed_after_saving_is_refused_at_send(world, fake_dns, client, answer):
    from kmp.auth import User

    _one_delivery(world)  # saved while partner.example was public
    fake_dns["partner.example"] = [answer]  # ... then re-pointed inside the network
    responses.add(responses.POST, HOOK, status=200)
    assert partners_webhooks.deliver_webhooks() == (0, 1)
    db.session.commit()
    assert len(responses.calls) == 0  # nothing was sent
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.last_error == "blocked_address" and delivery.status == DeliveryStatus.PENDING
    # the partner sees a generic reason, not the address or the exception
    with client.session_transaction() as session:
        session["_user_id"] = db.session.get(User, world.company.user_id).get_id()
        session["_fresh"] = True
    page = client.get(f"/mitra/{world.company.id}/webhook").get_data(as_text=True)
    assert "bukan alamat publik" in page and answer not in page


@responses.activate
def test_a_redirect_is_not_followed(world):
    _one_delivery(world)
    responses.add(
        responses.POST, HOOK, status=307, headers={"Location": "https://169.254.169.254/"}
    )
    assert partners_webhooks.deliver_webhooks() == (0, 1)
    assert [c.request.url for c in responses.calls] == [HOOK]
    assert db.session.scalar(select(WebhookDelivery)).last_error == "redirect"


@responses.activate
def test_connection_errors_reach_the_partner_as_a_generic_reason(world):
    import requests

    _one_delivery(world)
    responses.add(
        responses.POST, HOOK, body=requests.ConnectionError("[Errno 111] 10.0.0.3:443 refused")
    )
    assert partners_webhooks.deliver_webhooks() == (0, 1)
    assert db.session.scalar(select(WebhookDelivery)).last_error == "connection"


def test_the_socket_refuses_a_non_public_peer(world):  # noqa: ARG001 - app context
    """Defence in depth: even if a name changed its answer between the check and the connect,
    the connection itself is refused when the peer is not public (a real local socket)."""
    from kmp.http import UnsafeTarget, public_session

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with pytest.raises(UnsafeTarget):
            public_session().post(f"http://127.0.0.1:{port}/", data=b"{}")
