"""A 50,000-deep JSON body answers 4xx with the JSON error envelope, never 500 (issue 24):
the partner API (webargs and request.get_json) and the payment webhook."""

from __future__ import annotations

import pytest

from kmp.api import JSONTooDeep, loads_json

DEEP_LIST = "[" * 50_000 + "]" * 50_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
@pytest.mark.parametrize("path", ["/api/v1/remittances", "/api/v1/patronage"])
def test_the_api_refuses_a_deep_body_with_the_envelope(world, client, body, path):
    response = client.post(
        path,
        data=body,
        headers={"Authorization": f"Bearer {world.key()}", "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.status_code
    error = response.get_json()["error"]
    assert error["status"] == response.status_code and error["message"]


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
def test_the_payment_webhook_refuses_a_deep_body(client, body):
    response = client.post(
        "/payments/midtrans/notification", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json() == {"status": "bad_request"}


def test_loads_json_turns_recursion_into_a_value_error():
    with pytest.raises(ValueError) as caught:
        loads_json(DEEP_LIST)
    assert isinstance(caught.value, JSONTooDeep)
    assert loads_json('{"a": [1, 2]}') == {"a": [1, 2]}


def test_the_whatsapp_webhook_refuses_a_deep_signed_body(app, client, monkeypatch):
    from kmp.notify.providers.whatsapp import sign

    monkeypatch.setitem(app.config, "KMP_WHATSAPP_APP_SECRET", "app-secret-test")
    raw = DEEP_LIST.encode()
    response = client.post(
        "/pesan/whatsapp/webhook",
        data=raw,
        headers={"X-Hub-Signature-256": sign(raw, "app-secret-test")},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json() == {"status": "bad_request"}
