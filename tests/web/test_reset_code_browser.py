"""Issue 21, must show 2: in Chromium, a member with a phone number only resets the password
with the code read from the fake outbox; five wrong codes block it; an unknown number gets
the same page as a known one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

import tests.integration.test_reset_code as _reset
from kmp.extensions import db
from kmp.notify import Notification, deliver_pending, fake_outbox
from tests.web.helpers import submit_login

pytestmark = pytest.mark.browser

PHONE = _reset.PHONE
member = _reset.member  # the phone-only member, and roomy address limits: shared fixtures
_roomy_address_limit = _reset._roomy_address_limit


def _ask_code(page, number: str) -> None:
    page.goto("/lupa-sandi")
    page.locator("#login").fill(number)
    with page.expect_navigation():
        page.get_by_test_id("forgot-submit").click()


def _code_from_the_outbox() -> str:
    db.session.expire_all()
    deliver_pending()  # the fake notifier "sends" what the outbox holds
    db.session.commit()
    (message,) = [m for m in fake_outbox() if m["kind"] == "password_reset_code"][-1:]
    assert message["address"] == "+6281234567890" and message["channel"] == "whatsapp"
    return re.search(r"\b(\d{6})\b", message["body"]).group(1)


def _enter(page, code: str, password: str = "sandi-baru-2468") -> None:
    page.get_by_test_id("reset-code").fill(code)
    page.get_by_test_id("reset-new").fill(password)
    page.get_by_test_id("reset-confirm").fill(password)
    with page.expect_navigation():
        page.get_by_test_id("reset-submit").click()


def _visible_page(page) -> str:
    text = page.locator("main").inner_text()
    return re.sub(r"\+62[•\d]+", "<nomor>", text)


def test_a_phone_only_member_resets_the_password_with_the_code(page, member):
    fake_outbox().clear()
    _ask_code(page, PHONE)
    assert page.url.endswith("/lupa-sandi/kode")
    expect(page.locator("main")).to_contain_text("kode 6 angka")
    _enter(page, _code_from_the_outbox())
    assert page.url.endswith("/masuk")
    expect(page.locator("main")).to_contain_text("Kata sandi sudah diganti")
    submit_login(page, "+62 812-3456-7890", "sandi-baru-2468")  # login by phone number
    assert "/masuk" not in page.url
    page.goto("/akun")
    assert page.url.endswith("/akun")


def test_five_wrong_codes_block_the_code(page, member):
    fake_outbox().clear()
    _ask_code(page, PHONE)
    code = _code_from_the_outbox()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        _enter(page, wrong)
        expect(page.locator(".error").first).to_contain_text("Kode salah")
    _enter(page, wrong)
    expect(page.locator(".error").first).to_contain_text("diblokir")
    _enter(page, code)  # the right code no longer works
    expect(page.locator(".error").first).to_contain_text("tidak berlaku")
    submit_login(page, PHONE, "sandi-baru-2468")
    assert "/masuk" in page.url  # the password did not change


def test_an_unknown_number_gets_the_same_page(new_page, member):
    from kmp.timeutil import now_utc, set_clock

    frozen = now_utc()
    set_clock(lambda: frozen)
    fake_outbox().clear()
    known, unknown = new_page(), new_page()
    _ask_code(known, PHONE)
    _ask_code(unknown, "0813 9999 0000")
    assert known.url == unknown.url
    assert _visible_page(known) == _visible_page(unknown)
    code = _code_from_the_outbox()
    wrong = "000000" if code != "000000" else "111111"
    for page in (known, unknown):
        _enter(page, wrong)
    assert _visible_page(known) == _visible_page(unknown)  # "Kode salah. Sisa 4 ..." for both
    db.session.expire_all()
    addresses = db.session.scalars(select(Notification.address)).all()
    assert addresses == ["+6281234567890"]
