"""Second factor for money and oversight roles; password reset by a single-use token."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from sqlalchemy import select

from kmp.audit import AuditRecord
from kmp.auth import PasswordResetToken, RecoveryCode, User
from kmp.extensions import db
from kmp.notify import Notification
from kmp.timeutil import now_utc, set_clock
from tests.conftest import csrf_from, totp_code


@pytest.fixture
def require_totp(app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_REQUIRE_TOTP", True)


def _post_login(client, login, password="rahasia-12345", next_url=""):
    token = csrf_from(client.get("/masuk").get_data(as_text=True))
    return client.post(
        "/masuk", data={"csrf_token": token, "login": login, "password": password, "next": next_url}
    )


def _post_code(client, path, code):
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    token = csrf_from(page.get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "code": code})


def _enrol(client, user):
    """Log in, enrol, return (secret, recovery codes)."""
    response = _post_login(client, user.email)
    assert response.headers["Location"].endswith("/masuk/pasang-kode")
    html = client.get("/masuk/pasang-kode").get_data(as_text=True)
    assert "<svg" in html  # the QR code, inline SVG
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    token = csrf_from(html)
    response = client.post(
        "/masuk/pasang-kode", data={"csrf_token": token, "code": totp_code(secret)}
    )
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", response.get_data(as_text=True))
    return secret, codes


@pytest.mark.parametrize("role", ["admin", "pengurus", "bendahara", "pengawas"])
def test_board_roles_must_enrol_before_they_are_logged_in(client, make_user, require_totp, role):
    user = make_user(role)
    response = _post_login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/masuk/pasang-kode")
    # not logged in yet: a board page sends back to the login
    assert client.get("/akun").status_code == 302
    assert "/masuk" in client.get("/akun").headers["Location"]


def test_member_logs_in_without_second_factor(client, make_user, require_totp):
    user = make_user("anggota")
    response = _post_login(client, user.email)
    assert response.status_code == 302
    assert client.get("/akun").status_code == 200


def test_enrol_then_login_with_code_wrong_code_refused_recovery_code_once(
    client, make_user, require_totp
):
    user = make_user("bendahara")
    secret, codes = _enrol(client, user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert not any(c.replace("-", "") in stored for c in codes)  # only hashes are kept
    assert client.get("/akun").status_code == 200
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})

    # wrong code
    assert _post_login(client, user.email).headers["Location"].endswith("/masuk/kode")
    response = _post_code(client, "/masuk/kode", "000000")
    assert response.status_code == 422
    assert "Kode salah" in response.get_data(as_text=True)
    assert client.get("/akun").status_code == 302

    # a recovery code works once
    response = _post_code(client, "/masuk/kode", codes[0].upper())
    assert response.status_code == 302
    events = db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()
    assert events[-1] == "auth.recovery_code_used" and "auth.totp_enabled" in events
    assert client.get("/akun").status_code == 200
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})
    _post_login(client, user.email)
    assert _post_code(client, "/masuk/kode", codes[0]).status_code == 422

    # a TOTP code works, but not twice (replay)
    later = now_utc() + dt.timedelta(seconds=60)
    set_clock(lambda: later)
    code = totp_code(secret)
    assert _post_code(client, "/masuk/kode", code).status_code == 302
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})
    _post_login(client, user.email)
    assert _post_code(client, "/masuk/kode", code).status_code == 422


def test_too_many_wrong_codes_restart_the_login(client, make_user, require_totp):
    user = make_user("pengawas")
    _enrol(client, user)
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})
    _post_login(client, user.email)
    statuses = [_post_code(client, "/masuk/kode", "123456").status_code for _ in range(4)]
    assert statuses == [422] * 4
    page = client.get("/masuk/kode")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/masuk/kode", data={"csrf_token": token, "code": "123456"})
    assert response.status_code in (302, 429)
    assert client.get("/masuk/kode").headers["Location"].endswith("/masuk")


def test_session_without_second_factor_is_logged_out(client, login_as, require_totp):
    login_as("pengurus")  # a session made without the second step
    response = client.get("/akun")
    assert response.status_code == 302
    assert "/masuk" in response.headers["Location"]


def test_password_reset_single_use_and_expiring(client, make_user, app):
    user = make_user("anggota")
    old_session = user.get_id()
    token = csrf_from(client.get("/lupa-sandi").get_data(as_text=True))
    response = client.post("/lupa-sandi", data={"csrf_token": token, "login": user.email})
    assert response.status_code == 302
    message = db.session.scalar(select(Notification).where(Notification.kind == "password_reset"))
    assert message.address == user.email
    link = re.search(r"(/lupa-sandi/[A-Za-z0-9_-]+)", message.body).group(1)
    raw = link.rsplit("/", 1)[1]
    hashes = db.session.scalars(select(PasswordResetToken.token_hash)).all()
    assert raw not in hashes and len(hashes) == 1

    page = client.get(link)
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.get_data(True)), "new": "baru-sekali-77", "confirm": "x"}
    assert client.post(link, data=data).status_code == 422  # mismatch: nothing changed
    data["confirm"] = data["new"]
    assert client.post(link, data=data).status_code == 302
    db.session.expire_all()
    refreshed = db.session.get(User, user.id)
    assert refreshed.check_password("baru-sekali-77")
    assert refreshed.get_id() != old_session  # other sessions are logged out
    reset_event = db.session.scalar(
        select(AuditRecord).where(AuditRecord.action == "auth.password_reset")
    )
    assert reset_event.target == f"users:{user.id}"
    # used once: refused now
    response = client.get(link)
    assert response.status_code == 400
    assert "tidak berlaku" in response.get_data(as_text=True)

    # an expired link is refused
    token = csrf_from(client.get("/lupa-sandi").get_data(as_text=True))
    client.post("/lupa-sandi", data={"csrf_token": token, "login": user.email})
    message = db.session.scalars(
        select(Notification).where(Notification.kind == "password_reset").order_by(Notification.id)
    ).all()[-1]
    link = re.search(r"(/lupa-sandi/[A-Za-z0-9_-]+)", message.body).group(1)
    later = now_utc() + dt.timedelta(hours=2)
    set_clock(lambda: later)
    assert client.get(link).status_code == 400


def test_password_reset_gives_the_same_answer_for_unknown_accounts(client):
    token = csrf_from(client.get("/lupa-sandi").get_data(as_text=True))
    response = client.post("/lupa-sandi", data={"csrf_token": token, "login": "tidak@ada.id"})
    assert response.status_code == 302
    assert db.session.scalar(select(Notification)) is None
    assert client.get("/lupa-sandi/" + "x" * 43).status_code == 400
    assert client.get("/lupa-sandi/" + "x" * 300).status_code == 400


def test_reset_does_not_skip_the_second_factor(client, make_user, require_totp):
    user = make_user("pengurus")
    _enrol(client, user)
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})
    token = csrf_from(client.get("/lupa-sandi").get_data(as_text=True))
    client.post("/lupa-sandi", data={"csrf_token": token, "login": user.email})
    message = db.session.scalar(select(Notification).where(Notification.kind == "password_reset"))
    link = re.search(r"(/lupa-sandi/[A-Za-z0-9_-]+)", message.body).group(1)
    page = client.get(link)
    data = {"csrf_token": csrf_from(page.get_data(True)), "new": "baru-sekali-77"}
    data["confirm"] = data["new"]
    assert client.post(link, data=data).status_code == 302
    response = _post_login(client, user.email, "baru-sekali-77")
    assert response.headers["Location"].endswith("/masuk/kode")


def test_regenerate_recovery_codes_revokes_old_ones(client, make_user, require_totp):
    user = make_user("admin")
    _secret, codes = _enrol(client, user)
    page = client.get("/akun")
    assert "Sisa kode pemulihan: 10" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/akun/kode-pemulihan", data={"csrf_token": token})
    assert response.status_code == 200
    new_codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", response.get_data(True))
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})
    _post_login(client, user.email)
    assert _post_code(client, "/masuk/kode", codes[1]).status_code == 422
    assert _post_code(client, "/masuk/kode", new_codes[1]).status_code == 302


def test_pyotp_codes_match_an_authenticator_app():
    secret = pyotp.random_base32()
    assert totp_code(secret) == pyotp.TOTP(secret).now()


def test_login_with_totp_fixture(client, login_with_totp):
    user = login_with_totp("pengawas")
    assert user.has_totp
    assert client.get("/akun").status_code == 200
