"""Login limits per address AND per account; proxy headers believed only from configured
proxies (KMP_TRUSTED_PROXIES, Werkzeug's ProxyFix); a dummy password check when the account
does not exist (issue 24)."""

from __future__ import annotations

import pytest
from flask import request

from kmp import create_app
from kmp.config import ConfigError
from kmp.proxies import TrustedProxies, parse_trusted_proxies
from tests.conftest import csrf_from


def _attempt(client, login, password="salah-sekali-1", addr="203.0.113.1"):
    env = {"REMOTE_ADDR": addr}
    page = client.get("/masuk", environ_base=env)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/masuk",
        data={"csrf_token": token, "login": login, "password": password},
        environ_base=env,
    ).status_code


def test_login_failures_are_limited_per_account_across_addresses(
    client, make_user, app, monkeypatch
):
    monkeypatch.setitem(app.config, "KMP_LOGIN_RATE_LIMIT", "100 per minute")
    monkeypatch.setitem(app.config, "KMP_LOGIN_ACCOUNT_RATE_LIMIT", "3 per 15 minutes")
    victim, other = make_user("anggota"), make_user("anggota")
    statuses = [_attempt(client, victim.email, addr=f"198.51.100.{n}") for n in range(1, 4)]
    assert statuses == [401, 401, 401]
    assert _attempt(client, victim.email.upper(), addr="198.51.100.50") == 429  # same account
    assert _attempt(client, other.email, addr="198.51.100.51") == 401  # others are not locked


def test_login_failures_are_limited_per_address(client, make_user, app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_LOGIN_RATE_LIMIT", "3 per minute")
    users = [make_user("anggota") for _ in range(4)]
    statuses = [_attempt(client, u.email, addr="203.0.113.9") for u in users]
    assert statuses == [401, 401, 401, 429]
    assert _attempt(client, users[0].email, addr="203.0.113.10") == 401


def test_the_hasher_runs_whether_or_not_the_account_exists(client, make_user, monkeypatch):
    import kmp.auth

    calls = []
    real = kmp.auth.check_password_hash

    def spy(stored, password):
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(kmp.auth, "check_password_hash", spy)
    user = make_user("anggota")
    assert _attempt(client, user.email) == 401
    assert _attempt(client, "nobody@nowhere.example", addr="203.0.113.2") == 401
    assert _attempt(client, "0812 0000 0000", addr="203.0.113.3") == 401
    assert len(calls) == 3
    assert calls[1] == calls[2] != calls[0]  # the dummy hash, same method as real ones
    assert calls[1].split("$")[0] == user.password_hash.split("$")[0]


def test_an_inactive_account_is_hashed_too(client, make_user, monkeypatch):
    import kmp.auth
    from kmp.extensions import db

    user = make_user("anggota")
    user.is_active_flag = False
    db.session.commit()
    calls = []
    real = kmp.auth.check_password_hash
    monkeypatch.setattr(kmp.auth, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    assert _attempt(client, user.email, password="rahasia-12345") == 401
    assert calls == [user.password_hash]


# --------------------------------------------------------------------------- proxies


def _app(trusted):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", KMP_TRUSTED_PROXIES=trusted)

    @app.get("/_seen")
    def seen():
        return f"{request.remote_addr} {request.scheme}"

    return app


def _seen(app, remote, forwarded=None, proto=None):
    headers = {}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    if proto:
        headers["X-Forwarded-Proto"] = proto
    response = app.test_client().get(
        "/_seen", headers=headers, environ_base={"REMOTE_ADDR": remote}
    )
    return response.get_data(as_text=True)


def test_without_trusted_proxies_forwarded_headers_are_ignored():
    app = _app("")
    assert _seen(app, "203.0.113.5", "1.2.3.4", "https") == "203.0.113.5 http"


def test_a_hop_count_believes_that_many_proxies():
    app = _app("1")
    assert _seen(app, "10.0.0.2", "1.2.3.4, 198.51.100.7", "https") == "198.51.100.7 https"
    app = _app("2")
    assert _seen(app, "10.0.0.2", "1.2.3.4, 198.51.100.7") == "1.2.3.4 http"


def test_networks_believe_only_requests_through_those_proxies():
    app = _app("10.0.0.0/8, 192.168.1.5")
    # through the trusted proxy: the client it saw
    assert _seen(app, "10.1.2.3", "198.51.100.7", "https") == "198.51.100.7 https"
    # a client sending the header itself, directly: ignored
    assert _seen(app, "203.0.113.5", "1.2.3.4", "https") == "203.0.113.5 http"
    # a spoofed entry to the left of what the trusted chain saw: the chain's client wins
    assert _seen(app, "10.1.2.3", "1.2.3.4, 198.51.100.7, 192.168.1.5") == "198.51.100.7 http"


def test_one_attacker_behind_the_proxy_does_not_lock_out_everyone(monkeypatch):
    app = _app("1")
    app.config["KMP_LOGIN_RATE_LIMIT"] = "2 per minute"
    from kmp.extensions import limiter

    limiter.reset()
    client = app.test_client()

    def attempt(client_ip):
        env = {"REMOTE_ADDR": "10.0.0.2"}
        headers = {"X-Forwarded-For": client_ip}
        page = client.get("/masuk", environ_base=env, headers=headers)
        token = csrf_from(page.get_data(as_text=True))
        data = {"csrf_token": token, "login": "x@y.example", "password": "p"}
        return client.post("/masuk", data=data, environ_base=env, headers=headers).status_code

    with app.app_context():
        from kmp.extensions import db

        db.create_all()
        from kmp.cli import install_defaults

        install_defaults()
        db.session.commit()
    assert [attempt("198.51.100.66") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.77") == 401  # another client behind the same proxy


@pytest.mark.parametrize("value", ["11", "nonsense", "10.0.0.0/33"])
def test_unreadable_settings_are_refused(value):
    with pytest.raises(ConfigError, match="KMP_TRUSTED_PROXIES"):
        parse_trusted_proxies(value)


def test_hops_are_bounded():
    middleware = TrustedProxies(lambda e, s: [], parse_trusted_proxies("10.0.0.0/8"))
    chain = ", ".join(["1.2.3.4"] + [f"10.0.0.{n}" for n in range(1, 30)])
    assert middleware.hops({"REMOTE_ADDR": "10.0.0.99", "HTTP_X_FORWARDED_FOR": chain}) == 10
