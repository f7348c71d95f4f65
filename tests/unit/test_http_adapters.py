"""Iris and the Midtrans gateway go out through ``kmp.http.http_session()`` (issue 24)."""

from __future__ import annotations

import pytest
import responses

from kmp import http
from kmp.payments.gateway import MidtransGateway
from kmp.payments.iris import IrisClient


def _recording(monkeypatch):
    used = []
    real = http.http_session

    def spy(**policy):
        used.append(policy)
        return real(**policy)

    monkeypatch.setattr(http, "http_session", spy)
    return used


def test_iris_uses_the_shared_session(monkeypatch):
    used = _recording(monkeypatch)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET,
            "https://app.sandbox.midtrans.com/iris/api/v1/balance",
            json={"balance": "1000.00"},
        )
        assert IrisClient("creator-key", get_retries=0).balance() == 1000
    assert used == [{"retries": 0}]  # Iris retries its GETs itself


def test_midtrans_uses_the_shared_session(monkeypatch):
    used = _recording(monkeypatch)
    gateway = MidtransGateway("SB-Mid-server-x", "SB-Mid-client-x", False, status_retries=0)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET,
            "https://api.sandbox.midtrans.com/v2/ORDER-1/status",
            json={"status_code": "200", "transaction_status": "settlement", "order_id": "ORDER-1"},
        )
        gateway.get_status("ORDER-1")
    assert used == [{"retries": 0}]


@pytest.mark.parametrize(
    "address,public",
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.20.30.40", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address checked, nothing bound
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:a00:1::", False),  # 6to4 wrapping 10.0.0.1
        ("not-an-address", False),
    ],
)
def test_is_public_address(address, public):
    from kmp.http import is_public_address

    assert is_public_address(address) is public
