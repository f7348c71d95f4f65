"""Issue 10, must show 3: the second factor in Chromium — enrolment with a QR code, login asks
for the code, a wrong code is refused, a recovery code works once."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from kmp.timeutil import now_utc, set_clock
from tests.conftest import totp_code
from tests.web.helpers import open_menu, submit_login

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _require_totp(app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_REQUIRE_TOTP", True)


def _logout(page):
    page.goto("/akun")
    menu = open_menu(page)
    with page.expect_navigation():
        menu.get_by_test_id("logout").click()


def _enter_code(page, code: str):
    page.get_by_test_id("mfa-code").fill(code)
    with page.expect_navigation():
        page.get_by_test_id("mfa-submit").click()


def test_totp_enrol_code_wrong_code_and_recovery_code_once(page, make_user):
    user = make_user("bendahara")
    submit_login(page, user.email, "rahasia-12345")
    assert page.url.endswith("/masuk/pasang-kode")
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")

    _enter_code(page, "000000")  # wrong code during enrolment
    expect(page.locator(".error").first).to_contain_text("Kode salah")
    _enter_code(page, totp_code(secret))
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_test_id("recovery-continue").click()
    assert "/masuk" not in page.url

    _logout(page)
    submit_login(page, user.email, "rahasia-12345")
    assert page.url.endswith("/masuk/kode")  # login asks for the code
    page.goto("/akun")
    assert "/masuk" in page.url  # not logged in before the code

    page.goto("/masuk/kode")
    _enter_code(page, "123456")
    expect(page.locator(".error").first).to_contain_text("Kode salah")
    assert page.url.endswith("/masuk/kode")

    _enter_code(page, codes[0])  # a recovery code works ...
    assert "/masuk" not in page.url
    page.goto("/akun")
    expect(page.get_by_test_id("mfa-status")).to_contain_text("9")

    _logout(page)
    submit_login(page, user.email, "rahasia-12345")
    _enter_code(page, codes[0])  # ... once
    expect(page.locator(".error").first).to_contain_text("sudah dipakai")

    later = now_utc() + dt.timedelta(seconds=60)
    set_clock(lambda: later)
    _enter_code(page, totp_code(secret))  # the authenticator's code logs in
    assert "/masuk" not in page.url


def test_member_is_not_asked_for_a_code(page, make_user):
    user = make_user("anggota")
    submit_login(page, user.email, "rahasia-12345")
    assert "/masuk" not in page.url
