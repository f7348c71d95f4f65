"""Password reset by a 6-digit code to a phone login (issue 21): WhatsApp/SMS through the
outbox, 10-minute expiry, five wrong codes block the code, sends limited per number and per
address, the same answers whether or not the number has an account."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from kmp.auth import PasswordResetCode, User, create_user
from kmp.extensions import db
from kmp.notify import Notification
from kmp.timeutil import now_utc, set_clock
from tests.conftest import csrf_from

PHONE = "0812 3456 7890"
NORMALISED = "+6281234567890"
UNKNOWN = "0813 9999 0000"


@pytest.fixture(autouse=True)
def _roomy_address_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_LOGIN_RATE_LIMIT", "100 per minute")


@pytest.fixture
def member():
    user = create_user(full_name="Agus Pratama", phone=PHONE, password="rahasia-12345")
    db.session.commit()
    return user


def _ask(client, login, addr="203.0.113.20"):
    env = {"REMOTE_ADDR": addr}
    token = csrf_from(client.get("/lupa-sandi", environ_base=env).get_data(as_text=True))
    return client.post("/lupa-sandi", data={"csrf_token": token, "login": login}, environ_base=env)


def _submit(client, code, new="sandi-baru-2468", confirm=None):
    page = client.get("/lupa-sandi/kode")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/lupa-sandi/kode",
        data={"csrf_token": token, "code": code, "new": new, "confirm": confirm or new},
    )


def _sent_code() -> str:
    message = db.session.scalars(
        select(Notification)
        .where(Notification.kind == "password_reset_code")
        .order_by(Notification.id.desc())
    ).first()
    assert message.address == NORMALISED and message.channel == "whatsapp"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _login(client, login, password):
    token = csrf_from(client.get("/masuk").get_data(as_text=True))
    return client.post("/masuk", data={"csrf_token": token, "login": login, "password": password})


def test_a_phone_only_member_resets_the_password_with_the_code(app, client, member):
    other_device = app.test_client()
    assert _login(other_device, PHONE, "rahasia-12345").status_code == 302
    response = _ask(client, PHONE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/lupa-sandi/kode")
    code = _sent_code()
    stored = db.session.scalar(select(PasswordResetCode))
    assert code not in stored.code_hash and stored.user_id == member.id
    assert stored.expires_at - stored.created_at == dt.timedelta(minutes=10)
    response = _submit(client, code)
    assert response.status_code == 302 and response.headers["Location"].endswith("/masuk")
    db.session.expire_all()
    assert db.session.get(User, member.id).check_password("sandi-baru-2468")
    assert other_device.get("/akun").status_code == 302  # every other session ended
    assert _login(client, "+62 812-3456-7890", "sandi-baru-2468").status_code == 302
    assert client.get("/akun").status_code == 200
    client.post("/keluar", data={"csrf_token": csrf_from(client.get("/akun").get_data(True))})
    _ask(client, PHONE, addr="203.0.113.21")
    assert _submit(client, code).status_code == 422  # the old code was used up


def test_an_unknown_number_gets_the_same_answers(client, app, member):
    frozen = now_utc()
    set_clock(lambda: frozen)  # the pages carry the time they were made
    known = app.test_client()
    answers = {}
    for name, c, number in (("known", known, PHONE), ("unknown", client, UNKNOWN)):
        response = _ask(c, number, addr="198.51.100.1" if name == "known" else "198.51.100.2")
        page = c.get("/lupa-sandi/kode").get_data(as_text=True)
        page = re.sub(r"\+62[•\d]+", "PHONE", re.sub(r'value="[^"]+"', "", page))
        statuses = [_submit(c, "000000").status_code for _ in range(5)]
        last = c.post(
            "/lupa-sandi/kode",
            data={
                "csrf_token": csrf_from(c.get("/lupa-sandi/kode").get_data(True)),
                "code": "000000",
                "new": "sandi-baru-2468",
                "confirm": "sandi-baru-2468",
            },
        ).get_data(as_text=True)
        answers[name] = (
            response.status_code,
            response.headers["Location"],
            page,
            statuses,
            "diblokir" in last or "tidak berlaku" in last,
        )
    assert answers["known"] == answers["unknown"]
    kinds = db.session.scalars(select(Notification.address)).all()
    assert kinds == [NORMALISED]  # nothing was sent to the unknown number


def test_five_wrong_codes_block_the_code(client, member):
    _ask(client, PHONE)
    code = _sent_code()
    wrong = "000000" if code != "000000" else "111111"
    bodies = [_submit(client, wrong).get_data(as_text=True) for _ in range(5)]
    assert "Sisa 4 percobaan" in bodies[0] and "diblokir" in bodies[4]
    response = _submit(client, code)  # even the right code: blocked
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, member.id).check_password("rahasia-12345")
    assert db.session.scalar(select(PasswordResetCode)).blocked_at is not None


def test_the_code_expires_after_ten_minutes(client, member):
    _ask(client, PHONE)
    code = _sent_code()
    later = now_utc() + dt.timedelta(minutes=10, seconds=1)
    set_clock(lambda: later)
    response = _submit(client, code)
    assert response.status_code == 422 and "kedaluwarsa" in response.get_data(as_text=True)


def test_a_new_code_replaces_the_old_one(client, member):
    _ask(client, PHONE)
    first = _sent_code()
    _ask(client, PHONE)
    second = _sent_code()
    if first != second:
        assert _submit(client, first).status_code == 422
    assert _submit(client, second).status_code == 302


def test_a_weak_password_does_not_spend_the_code(client, member):
    _ask(client, PHONE)
    code = _sent_code()
    response = _submit(client, code, new="pendek-1")
    assert response.status_code == 422
    response = _submit(client, code, new="hanyahurufsaja")
    assert response.status_code == 422
    assert _submit(client, code).status_code == 302


def test_sends_are_limited_per_number_and_per_address(client, app, member, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_RESET_SEND_LIMIT_PER_TARGET", "2 per hour")
    monkeypatch.setitem(app.config, "KMP_RESET_SEND_LIMIT_PER_ADDRESS", "3 per hour")
    for addr in ("192.0.2.1", "192.0.2.2"):
        assert _ask(client, PHONE, addr=addr).status_code == 302
    assert _ask(client, PHONE, addr="192.0.2.3").status_code == 429  # this number: enough
    assert _ask(client, UNKNOWN, addr="192.0.2.4").status_code == 302
    assert _ask(client, UNKNOWN, addr="192.0.2.5").status_code == 302
    assert _ask(client, UNKNOWN, addr="192.0.2.6").status_code == 429  # same for unknowns
    for n in range(3):
        assert _ask(client, f"0815 0000 00{n}1", addr="192.0.2.9").status_code == 302
    assert _ask(client, "0815 0000 0099", addr="192.0.2.9").status_code == 429  # this address
    assert (
        db.session.scalar(
            select(db.func.count())
            .select_from(Notification)
            .where(Notification.kind == "password_reset_code")
        )
        == 2
    )


def test_the_code_page_needs_a_request_first(client):
    response = client.get("/lupa-sandi/kode")
    assert response.status_code == 302 and response.headers["Location"].endswith("/lupa-sandi")


def test_logged_in_users_go_to_their_account(client, login_as):
    login_as("anggota")
    assert client.get("/lupa-sandi/kode").headers["Location"].endswith("/akun")


def test_e_mail_logins_keep_the_link(client, make_user):
    user = make_user("anggota")
    response = _ask(client, user.email)
    assert response.headers["Location"].endswith("/masuk")
    kinds = db.session.scalars(select(Notification.kind)).all()
    assert kinds == ["password_reset"]
