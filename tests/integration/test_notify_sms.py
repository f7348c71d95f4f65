"""Zenziva SMS adapter, faked at the HTTP layer (issue 21, must show 1): the documented form
fields, the JSON answer, refusals, throttling and retries."""

from __future__ import annotations

import urllib.parse

import pytest
import responses

from kmp.extensions import db
from kmp.notify import (
    Channel,
    Notification,
    NotificationStatus,
    deliver_pending,
    queue_notification,
    set_channel_preference,
)
from kmp.notify.providers.sms import local_number
from tests.integration.notify_support import ZENZIVA_URL

S = NotificationStatus
PHONE = "+6281234567890"
pytestmark = pytest.mark.usefixtures("real_providers")


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _queue(**extra) -> Notification:
    set_channel_preference("sms", address=PHONE)
    values = {"kind": "wajib_arrears", "address": PHONE, "body": "Pengingat: wajib 2 bulan."}
    message = queue_notification(**{**values, **extra})
    db.session.commit()
    return message


def _reload(message):
    db.session.expire_all()
    return db.session.get(Notification, message.id)


def test_sms_request_and_answer_follow_zenziva_documentation(app, mock):
    mock.add(
        responses.POST,
        ZENZIVA_URL,
        json={"messageId": "482211", "to": "081234567890", "status": "1", "text": "Success"},
    )
    message = _queue()
    assert deliver_pending() == (1, 0)
    request = mock.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(request.body) == {
        "userkey": ["zz-user"],
        "passkey": ["zz-pass"],
        "to": ["081234567890"],
        "message": ["Pengingat: wajib 2 bulan."],
    }
    row = _reload(message)
    assert (row.status, row.channel, row.provider, row.provider_message_id) == (
        S.SENT,
        Channel.SMS,
        "zenziva",
        "482211",
    )


def test_an_invalid_number_is_permanent_and_falls_back_to_email(app, mock):
    mock.add(responses.POST, ZENZIVA_URL, json={"status": "0", "text": "Nomor tujuan tidak valid"})
    # e-mail is enabled without an SMTP host: a temporary failure, retried later
    message = _queue(alt_address="budi@test.kmp.id")
    app.config["KMP_NOTIFY_FALLBACK"] = "sms,email"
    try:
        assert deliver_pending() == (0, 0)
    finally:
        app.config["KMP_NOTIFY_FALLBACK"] = "whatsapp,sms,email"
    row = _reload(message)
    assert row.tried == ["sms"] and row.channel_attempts == 1
    assert "KMP_SMTP_HOST is not set" in row.last_error


def test_a_balance_or_key_refusal_is_retried(app, mock):
    mock.add(responses.POST, ZENZIVA_URL, json={"status": "0", "text": "Saldo tidak mencukupi"})
    message = _queue()
    assert deliver_pending() == (0, 0)
    row = _reload(message)
    assert row.status == S.PENDING and row.channel_attempts == 1 and row.tried == []
    assert "Saldo tidak mencukupi" in row.last_error


def test_throttling_and_server_errors(app, mock, clock):
    mock.add(responses.POST, ZENZIVA_URL, status=429, body="slow down")
    message = _queue()
    deliver_pending()
    row = _reload(message)
    assert row.attempts == 0 and (row.next_attempt_at - clock.now).total_seconds() == 60
    mock.replace(responses.POST, ZENZIVA_URL, status=502, body="bad gateway")
    clock.advance(seconds=61)
    deliver_pending()
    row = _reload(message)
    assert row.channel_attempts == 1 and "HTTP 502" in row.last_error
    mock.replace(responses.POST, ZENZIVA_URL, status=200, body="<html>maintenance</html>")
    clock.now = row.next_attempt_at
    deliver_pending()
    assert "not a JSON answer" in _reload(message).last_error


def test_local_number_form():
    assert local_number("+6281234567890") == "081234567890"
    assert local_number("6285551111") == "085551111"
