"""WhatsApp Cloud API adapter, faked at the HTTP layer with ``responses`` (issue 21, must show 1):
the request Meta documents, template parameters, error and throttling answers, retries, and
the status webhook with good and bad signatures."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import responses
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.notify import (
    Channel,
    Notification,
    NotificationEvent,
    NotificationStatus,
    deliver_pending,
    opted_out_kinds,
    queue_notification,
)
from kmp.notify.providers.whatsapp import classify_error, clean_param, parse_status_updates
from tests.integration.notify_support import (
    GRAPH_URL,
    VERIFY_TOKEN,
    ZENZIVA_URL,
    graph_error,
    graph_ok,
    post_webhook,
    status_payload,
)

S = NotificationStatus
PHONE = "+6281234567890"
pytestmark = pytest.mark.usefixtures("real_providers")


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _queue(**extra) -> Notification:
    values = {"kind": "wajib_bill", "address": PHONE, "body": "Tagihan Maret: Rp 25.000"}
    message = queue_notification(**{**values, **extra})
    db.session.commit()
    return message


def _reload(message: Notification) -> Notification:
    db.session.expire_all()
    return db.session.get(Notification, message.id)


# --------------------------------------------------------------------------- sending


def test_template_message_has_the_documented_shape(app, mock):
    mock.add(responses.POST, GRAPH_URL, json=graph_ok("wamid.ABC1"))
    message = _queue(body="Tagihan Maret:\n\tRp 25.000   (bayar di aplikasi)")
    assert deliver_pending() == (1, 0)
    db.session.commit()
    request = mock.calls[0].request
    assert request.headers["Authorization"] == "Bearer EAAG-test-token"
    assert json.loads(request.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "kmp_wajib_bill",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": app.config["KMP_COOP_NAME"]},
                        # no new lines, tabs or runs of spaces in a parameter (Meta refuses them)
                        {"type": "text", "text": "Tagihan Maret: Rp 25.000 (bayar di aplikasi)"},
                    ],
                }
            ],
        },
    }
    message = _reload(message)
    assert (message.status, message.provider, message.provider_message_id) == (
        S.SENT,
        "whatsapp",
        "wamid.ABC1",
    )


def test_configured_template_takes_named_parameters_in_order(app, mock, monkeypatch):
    monkeypatch.setitem(
        app.config,
        "KMP_WHATSAPP_TEMPLATES",
        json.dumps(
            {
                "meeting_notice": {
                    "name": "undangan_rat",
                    "language": "id",
                    "params": ["name", "meeting", "date"],
                }
            }
        ),
    )
    mock.add(responses.POST, GRAPH_URL, json=graph_ok())
    _queue(
        kind="meeting_notice",
        params={"date": "14 Maret 2026", "name": "Budi", "meeting": "RAT 2025"},
    )
    deliver_pending()
    template = json.loads(mock.calls[0].request.body)["template"]
    assert template["name"] == "undangan_rat"
    assert [p["text"] for p in template["components"][0]["parameters"]] == [
        "Budi",
        "RAT 2025",
        "14 Maret 2026",
    ]


def test_security_code_uses_an_authentication_template_with_its_button(app, mock):
    mock.add(responses.POST, GRAPH_URL, json=graph_ok())
    _queue(kind="login_code", body="Kode masuk Anda 482913", params={"code": "482913"})
    deliver_pending()
    components = json.loads(mock.calls[0].request.body)["template"]["components"]
    assert components == [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "482913"}],
        },
    ]


def test_a_template_parameter_without_value_goes_to_sms(app, mock):
    """Today's password reset carries a link, not a code: WhatsApp cannot carry it, SMS can."""
    mock.add(
        responses.POST, ZENZIVA_URL, json={"messageId": "77", "status": "1", "text": "Success"}
    )
    message = _queue(kind="password_reset", body="Buka tautan ini ...")
    assert deliver_pending() == (1, 0)
    message = _reload(message)
    assert [c.request.url for c in mock.calls] == [ZENZIVA_URL]  # WhatsApp was never called
    assert message.channel == Channel.SMS and "needs parameter(s) code" in message.last_error


# --------------------------------------------------------------------------- error answers


def test_not_a_whatsapp_user_falls_back_to_sms(app, mock):
    mock.add(
        responses.POST,
        GRAPH_URL,
        json=graph_error(131026, "Message undeliverable", "Receiver is incapable"),
        status=400,
    )
    mock.add(
        responses.POST, ZENZIVA_URL, json={"messageId": "9001", "status": "1", "text": "Success"}
    )
    message = _queue()
    assert deliver_pending() == (1, 0)
    message = _reload(message)
    assert (message.channel, message.provider, message.provider_message_id) == (
        Channel.SMS,
        "zenziva",
        "9001",
    )
    assert message.tried == ["whatsapp"] and "code 131026" in message.last_error


@pytest.mark.parametrize(
    ("code", "pause"),
    [(130429, 30), (80007, 300), (4, 300)],
)
def test_throttling_codes_pause_whatsapp_and_spend_no_attempt(app, mock, clock, code, pause):
    mock.add(responses.POST, GRAPH_URL, json=graph_error(code, "Rate limit hit"), status=400)
    first = _queue()
    second = _queue(address="+6281234567891")
    assert deliver_pending() == (0, 0)
    assert len(mock.calls) == 1  # the second message did not hit the paused provider
    for row in (_reload(first), _reload(second)):
        assert row.status == S.PENDING and row.attempts == 0
        assert (row.next_attempt_at - clock.now).total_seconds() == pause
    mock.replace(responses.POST, GRAPH_URL, json=graph_ok())
    clock.advance(seconds=pause + 1)
    assert deliver_pending() == (2, 0)


def test_pair_rate_limit_waits_for_that_recipient_only(app, mock, clock):
    mock.add(
        responses.POST,
        GRAPH_URL,
        json=graph_error(131056, "(Business Account, Consumer Account) pair rate limit hit"),
        status=400,
    )
    mock.add(responses.POST, GRAPH_URL, json=graph_ok("wamid.OTHER"))
    first = _queue()
    second = _queue(address="+6281234567891")
    assert deliver_pending() == (1, 0)
    assert _reload(first).next_attempt_at is not None and _reload(first).attempts == 0
    assert _reload(second).provider_message_id == "wamid.OTHER"


def test_http_429_honours_retry_after(app, mock, clock):
    mock.add(responses.POST, GRAPH_URL, status=429, headers={"Retry-After": "120"}, body="")
    message = _queue()
    deliver_pending()
    assert (_reload(message).next_attempt_at - clock.now).total_seconds() == 120


def test_server_errors_are_retried_with_backoff_then_fall_back(app, mock, clock):
    mock.add(
        responses.POST, GRAPH_URL, json=graph_error(131000, "Something went wrong"), status=500
    )
    mock.add(responses.POST, ZENZIVA_URL, json={"messageId": "1", "status": "1", "text": "Success"})
    message = _queue()
    for attempt in range(1, 5):
        assert deliver_pending() == (0, 0)
        row = _reload(message)
        assert row.channel_attempts == attempt and row.status == S.PENDING
        clock.now = row.next_attempt_at
    assert deliver_pending() == (1, 0)
    graph_calls = [c for c in mock.calls if c.request.url == GRAPH_URL]
    assert len(graph_calls) == 5 and _reload(message).channel == Channel.SMS


def test_unreachable_api_is_a_temporary_failure(app, mock):
    import requests

    mock.add(responses.POST, GRAPH_URL, body=requests.ConnectionError("connection refused"))
    message = _queue()
    assert deliver_pending() == (0, 0)
    row = _reload(message)
    assert row.channel_attempts == 1 and "unreachable" in row.last_error


def test_error_classification_table():
    assert classify_error(400, graph_error(132001, "Template does not exist")).permanent
    assert classify_error(400, graph_error(131047, "Re-engagement message")).permanent
    assert classify_error(400, graph_error(131048, "Spam rate limit hit")).throttled
    assert not classify_error(401, graph_error(190, "Access token has expired")).permanent
    assert not classify_error(503, None).permanent
    assert classify_error(400, {"error": "strange"}).permanent
    assert clean_param("x" * 2000).endswith("…") and len(clean_param("x" * 2000)) == 1000


# --------------------------------------------------------------------------- the webhook


def _sent(mock, wamid="wamid.HOOK1") -> Notification:
    mock.add(responses.POST, GRAPH_URL, json=graph_ok(wamid))
    message = _queue()
    deliver_pending()
    db.session.commit()
    return message


def test_verification_handshake(client):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    good = client.get("/pesan/whatsapp/webhook?" + urllib.parse.urlencode(query))
    assert (good.status_code, good.get_data(as_text=True)) == (200, "1158201444")
    query["hub.verify_token"] = "wrong"
    assert client.get("/pesan/whatsapp/webhook?" + urllib.parse.urlencode(query)).status_code == 403
    assert client.get("/pesan/whatsapp/webhook").status_code == 403


def test_signed_statuses_move_the_message_forward(app, client, mock):
    message = _sent(mock)
    response = post_webhook(
        client,
        status_payload(
            ("wamid.HOOK1", "sent", 1772413200), ("wamid.HOOK1", "delivered", 1772413260)
        ),
    )
    assert response.status_code == 200
    assert (response.get_json()["applied"], response.get_json()["ignored"]) == (1, 1)  # sent: known
    row = _reload(message)
    assert row.status == S.DELIVERED and row.delivered_at.timestamp() == 1772413260
    post_webhook(client, status_payload(("wamid.HOOK1", "read", 1772413500)))
    row = _reload(message)
    assert row.status == S.READ and row.read_at.timestamp() == 1772413500


def test_bad_or_missing_signature_is_refused_and_nothing_is_written(app, client, mock):
    message = _sent(mock)
    payload = status_payload(("wamid.HOOK1", "read", 1772413500))
    assert post_webhook(client, payload, secret="not-the-app-secret").status_code == 403
    assert post_webhook(client, payload, signature="").status_code == 403
    assert post_webhook(client, payload, signature="sha1=abc").status_code == 403
    assert _reload(message).status == S.SENT
    assert db.session.scalar(select(func.count()).select_from(NotificationEvent)) == 0


def test_repeated_and_out_of_order_statuses_never_go_back(app, client, mock):
    message = _sent(mock)
    read = status_payload(("wamid.HOOK1", "read", 1772413500))
    post_webhook(client, read)
    again = post_webhook(client, read)
    assert again.get_json()["duplicate"] == 1
    late = post_webhook(client, status_payload(("wamid.HOOK1", "delivered", 1772413300)))
    assert late.status_code == 200
    row = _reload(message)
    assert row.status == S.READ  # never back from read to delivered
    assert row.delivered_at.timestamp() == 1772413300  # but the delivery time is filled in
    late_failure = post_webhook(client, status_payload(("wamid.HOOK1", "failed", 1772413600)))
    assert late_failure.status_code == 200 and _reload(message).status == S.READ


def test_failed_status_sends_the_message_on_to_sms(app, client, mock):
    message = _sent(mock)
    post_webhook(client, status_payload(("wamid.HOOK1", "failed", 1772413300)))
    row = _reload(message)
    assert row.status == S.PENDING and row.tried == ["whatsapp"]
    assert "131026" in row.last_error
    mock.add(responses.POST, ZENZIVA_URL, json={"messageId": "5", "status": "1", "text": "Success"})
    assert deliver_pending() == (1, 0)
    assert _reload(message).channel == Channel.SMS


def test_unknown_message_ids_and_bad_bodies(app, client):
    response = post_webhook(client, status_payload(("wamid.NOBODY", "delivered", 1772413300)))
    assert response.status_code == 200 and response.get_json()["unknown"] == 1
    raw = b"not json"
    from kmp.notify.providers.whatsapp import sign

    bad = client.post(
        "/pesan/whatsapp/webhook",
        data=raw,
        headers={"X-Hub-Signature-256": sign(raw, app.config["KMP_WHATSAPP_APP_SECRET"])},
    )
    assert bad.status_code == 400


def test_a_stop_reply_opts_the_number_out(app, client):
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "messages": [
                                {
                                    "from": "6281234567890",
                                    "id": "wamid.IN1",
                                    "timestamp": "1772413300",
                                    "type": "text",
                                    "text": {"body": " STOP "},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    assert post_webhook(client, payload).status_code == 200
    assert opted_out_kinds(address=PHONE) == {"*"}


def test_status_parser_ignores_malformed_entries():
    payload = status_payload(("wamid.1", "delivered", 1772413300))
    statuses = payload["entry"][0]["changes"][0]["value"]["statuses"]
    statuses += [{"id": "wamid.2", "status": "deleted", "timestamp": "1"}, {"status": "read"}, "x"]
    assert [u.provider_message_id for u in parse_status_updates(payload)] == ["wamid.1"]
    assert parse_status_updates({"object": "page"}) == []
