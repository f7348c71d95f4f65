"""Partner API rate limits (issue 24): failed authentication is limited per client address,
the per-key quota counts only verified requests."""

from __future__ import annotations

import secrets

import pytest

WORKERS = "/api/v1/workers"


def _get(client, key, addr="203.0.113.7"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(WORKERS, headers=headers, environ_base={"REMOTE_ADDR": addr})


@pytest.fixture
def limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_API_RATE_LIMIT", "3 per minute")
    monkeypatch.setitem(app.config, "KMP_API_AUTH_FAILURE_LIMIT", "4 per minute")


def test_failed_authentication_is_limited_per_client_address(world, client, limits):  # noqa: ARG001
    for n in range(4):
        key = f"kmp_{secrets.token_hex(4)}_{secrets.token_urlsafe(8)}"  # random prefixes
        assert _get(client, key).status_code == 401, n
    assert _get(client, "kmp_00000000_guess").status_code == 429
    assert _get(client, None).status_code == 429
    # another address is not held back by this one's failures
    assert _get(client, "kmp_00000000_guess", addr="198.51.100.9").status_code == 401
    # nor is a verified request from the same address
    assert _get(client, world.key()).status_code == 200


def test_guesses_with_a_real_prefix_do_not_spend_the_keys_quota(world, client, limits):  # noqa: ARG001
    key = world.key()
    prefix = key.split("_")[1]
    for _ in range(4):
        assert _get(client, f"kmp_{prefix}_wrong", addr="192.0.2.66").status_code == 401
    for _ in range(3):
        assert _get(client, key).status_code == 200
    assert _get(client, key).status_code == 429  # the quota counts verified requests
