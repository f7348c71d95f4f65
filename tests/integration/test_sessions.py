"""Logout, password change and second-factor changes end every copy of the session; the
second factor's attempt counter lives on the server (issue 24)."""

from __future__ import annotations

from kmp.auth import MFA_MAX_ATTEMPTS, User, reset_second_factor
from kmp.extensions import db
from tests.conftest import csrf_from, totp_code


def _login(client, user, password="rahasia-12345"):
    token = csrf_from(client.get("/masuk").get_data(as_text=True))
    return client.post(
        "/masuk", data={"csrf_token": token, "login": user.email, "password": password}
    )


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _use(client, cookie: str) -> None:
    client.set_cookie("session", cookie)


def _logged_in(client) -> bool:
    return client.get("/akun").status_code == 200


def _post(client, path, **data):
    page = client.get("/akun")
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(True)), **data})


def test_a_cookie_copied_before_logout_stops_working(client, make_user):
    user = make_user("anggota")
    assert _login(client, user).status_code == 302
    copied = _cookie(client)
    assert _logged_in(client)
    assert _post(client, "/keluar").status_code == 302
    assert not _logged_in(client)
    _use(client, copied)  # the stolen/copied cookie, replayed
    response = client.get("/akun")
    assert response.status_code == 302 and "/masuk" in response.headers["Location"]


def test_logout_ends_the_session_on_every_device(app, make_user):
    user = make_user("anggota")
    phone, laptop = app.test_client(), app.test_client()
    _login(phone, user)
    _login(laptop, user)
    assert _logged_in(phone) and _logged_in(laptop)
    _post(laptop, "/keluar")
    assert not _logged_in(phone)


def test_a_password_change_ends_other_copies_and_keeps_this_one(client, make_user):
    user = make_user("anggota")
    _login(client, user)
    copied = _cookie(client)
    response = _post(
        client, "/akun", current="rahasia-12345", new="sandi-baru-9876", confirm="sandi-baru-9876"
    )
    assert response.status_code == 302
    assert _logged_in(client)  # the session that changed it follows the new version
    _use(client, copied)
    assert not _logged_in(client)


def test_new_recovery_codes_end_other_copies(client, login_with_totp):
    login_with_totp("bendahara")
    copied = _cookie(client)
    assert _post(client, "/akun/kode-pemulihan").status_code == 200
    assert _logged_in(client)
    _use(client, copied)
    assert not _logged_in(client)


def test_an_admin_reset_of_the_second_factor_ends_the_users_sessions(client, login_with_totp):
    user = login_with_totp("pengawas")
    assert _logged_in(client)
    reset_second_factor(db.session.get(User, user.id))
    db.session.commit()
    assert not _logged_in(client)


def _code_step(client, code: str) -> int:
    page = client.get("/masuk/kode")
    if page.status_code != 200:
        return page.status_code
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/masuk/kode", data={"csrf_token": token, "code": code}).status_code


def test_the_code_attempt_counter_is_kept_on_the_server(client, login_with_totp, app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_LOGIN_RATE_LIMIT", "1000 per minute")
    user = login_with_totp("bendahara")
    _post(client, "/keluar")
    assert _login(client, user).headers["Location"].endswith("/masuk/kode")
    fresh = _cookie(client)  # the password step passed, no wrong code yet
    for _ in range(MFA_MAX_ATTEMPTS - 1):
        _use(client, fresh)  # replaying the cookie used to reset the count
        assert _code_step(client, "000000") == 422
    db.session.expire_all()
    assert db.session.get(User, user.id).mfa_failures == MFA_MAX_ATTEMPTS - 1
    _use(client, fresh)
    assert _code_step(client, "000000") == 302  # the fifth: back to the password
    db.session.expire_all()
    assert db.session.get(User, user.id).mfa_failures == MFA_MAX_ATTEMPTS
    # locked: even the right code with a replayed cookie goes back to the password step
    _use(client, fresh)
    assert _code_step(client, totp_code(user.kmp_test_totp_secret)) == 302
    assert not _logged_in(client)


def test_a_right_code_clears_the_counter(client, login_with_totp):
    import datetime as dt

    from kmp.timeutil import now_utc, set_clock

    user = login_with_totp("pengurus")
    _post(client, "/keluar")
    _login(client, user)
    assert _code_step(client, "000000") == 422
    assert _code_step(client, "000001") == 422
    later = now_utc() + dt.timedelta(seconds=60)  # a fresh time step (codes count once)
    set_clock(lambda: later)
    assert _code_step(client, totp_code(user.kmp_test_totp_secret)) == 302
    db.session.expire_all()
    row = db.session.get(User, user.id)
    assert row.mfa_failures == 0 and row.mfa_failed_at is None
