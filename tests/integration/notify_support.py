"""Helpers for the notifier tests: a clean fake outbox, a movable clock, real providers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kmp.notify import fake_outbox
from kmp.notify.delivery import notify_state
from kmp.notify.providers.whatsapp import sign
from kmp.timeutil import set_clock

PHONE_NUMBER_ID = "106540352242922"
GRAPH_URL = f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages"
ZENZIVA_URL = "https://console.zenziva.net/reguler/api/sendsms/"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
#: 08:00 WIB, outside the default quiet hours.
MORNING = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)

REAL_PROVIDERS = {
    "KMP_NOTIFIER": "whatsapp,sms,email",
    "KMP_WHATSAPP_TOKEN": "EAAG-test-token",
    "KMP_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
    "KMP_WHATSAPP_APP_SECRET": APP_SECRET,
    "KMP_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
    "KMP_WHATSAPP_API_VERSION": "v23.0",
    "KMP_WHATSAPP_RATE": 0,
    "KMP_SMS_PROVIDER": "zenziva",
    "KMP_ZENZIVA_USERKEY": "zz-user",
    "KMP_ZENZIVA_PASSKEY": "zz-pass",
    "KMP_SMS_RATE": 0,
    "KMP_SMTP_HOST": "",
}


class Clock:
    """``now_utc()`` under the test's control."""

    def __init__(self, start: dt.datetime = MORNING):
        self.now = start
        set_clock(lambda: self.now)

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock():
    yield Clock()
    set_clock(None)


@pytest.fixture
def fresh_notifier(app):
    """An empty fake outbox, fake providers without scripted failures, no sleeping."""
    state = notify_state(app)
    slept: list[float] = []
    clock = [0.0]  # the buckets' clock moves only when they sleep: no real time leaks in

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    state.sleep, state.clock = sleep, lambda: clock[0]
    for provider in state.providers.values():
        if hasattr(provider, "clear_failures"):
            provider.clear_failures()
    state.buckets.clear()
    fake_outbox(app).clear()
    yield slept
    fake_outbox(app).clear()


@pytest.fixture
def real_providers(app, monkeypatch, fresh_notifier):
    """WhatsApp Cloud API, Zenziva and SMTP (no host) as in production, faked at HTTP level."""
    for key, value in REAL_PROVIDERS.items():
        monkeypatch.setitem(app.config, key, value)
    state = notify_state(app)
    state.sleep = fresh_notifier.append
    state.buckets.clear()
    return state


def graph_ok(message_id: str = "wamid.HBgLNjI4MTIzNDU2Nzg5MBUCABEYEjAB") -> dict:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "6281234567890", "wa_id": "6281234567890"}],
        "messages": [{"id": message_id, "message_status": "accepted"}],
    }


def graph_error(code: int, message: str, details: str = "") -> dict:
    return {
        "error": {
            "message": f"(#{code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or message},
            "fbtrace_id": "AbCdEfGhIjK",
        }
    }


def status_payload(*statuses: tuple[str, str, int], errors: dict | None = None) -> dict:
    """A ``whatsapp_business_account`` notification with (wamid, status, unix time) entries."""
    entries = []
    for message_id, status, timestamp in statuses:
        entry = {
            "id": message_id,
            "status": status,
            "timestamp": str(timestamp),
            "recipient_id": "6281234567890",
        }
        if status == "failed":
            entry["errors"] = [
                errors
                or {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }
            ]
        if status == "sent":
            entry["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility"}
        entries.append(entry)
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "statuses": entries,
                        },
                    }
                ],
            }
        ],
    }


def post_webhook(client, payload: dict, *, secret: str = APP_SECRET, signature: str | None = None):
    raw = json.dumps(payload, separators=(",", ":")).encode()
    header = signature if signature is not None else sign(raw, secret)
    return client.post(
        "/pesan/whatsapp/webhook",
        data=raw,
        headers={"X-Hub-Signature-256": header, "Content-Type": "application/json"},
    )
