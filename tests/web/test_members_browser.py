"""Issue 4, must-show 1: a driver applies on a 390x844 phone, logs in and sees the pending steps;
the bendahara records the simpanan pokok; a pengurus approves; the driver then sees the active
status, the member number and the member card with its QR code."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kmp.extensions import db
from members.register.models import Member
from tests.integration.members_support import valid_nik
from tests.web.helpers import submit_login

pytestmark = pytest.mark.browser
PASSWORD = "rahasia-12345"


def test_driver_applies_pays_pokok_is_admitted_and_sees_card(page, new_page, make_user, web_login):
    # The driver applies from a phone (the `page` fixture is 390x844, Indonesian).
    page.goto("/daftar/pengemudi")
    page.fill("input[name=full_name]", "Sri Wahyuni")
    page.fill("input[name=nik]", valid_nik(4242, female=True))
    page.fill("input[name=phone]", "0812 7777 4242")
    page.fill("textarea[name=address]", "Jl. Kenanga 7, Jakarta Selatan")
    page.select_option("select[name=platform]", index=1)
    page.fill("input[name=platform_worker_id]", "DRV-4242")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.check("input[name=consent]")
    page.get_by_test_id("apply-submit").click()
    expect(page.get_by_test_id("next-steps")).to_be_visible()
    expect(page.get_by_test_id("step-pokok")).to_have_attribute("data-done", "no")
    expect(page.get_by_test_id("step-approval")).to_have_attribute("data-done", "no")
    member = db.session.scalar(select(Member).where(Member.full_name == "Sri Wahyuni"))
    assert member is not None and member.member_no is None

    # Logging out and in again by phone number lands on the same pending steps.
    page.context.clear_cookies()
    submit_login(page, "+62 812 7777 4242", PASSWORD)
    page.goto("/anggota/langkah")
    expect(page.get_by_test_id("step-pokok")).to_have_attribute("data-done", "no")

    # The bendahara records the pokok payment in cash (the form proposes the amount due).
    bendahara_page = new_page()
    bendahara = make_user("pengurus", "bendahara", password=PASSWORD)
    web_login(bendahara_page, bendahara.login_name, PASSWORD)
    bendahara_page.goto(f"/pengurus/anggota/{member.id}/setoran")
    bendahara_page.get_by_test_id("receipt-submit").click()
    expect(bendahara_page.get_by_test_id("receipt-number")).to_be_visible()

    # A pengurus approves the application from the review queue.
    pengurus_page = new_page()
    pengurus = make_user("pengurus", password=PASSWORD)
    web_login(pengurus_page, pengurus.login_name, PASSWORD)
    pengurus_page.goto("/pengurus/pendaftaran")
    pengurus_page.get_by_test_id(f"pick-{member.id}").check()
    pengurus_page.get_by_test_id("queue-action").select_option("approve")
    pengurus_page.get_by_test_id("queue-submit").click()
    expect(pengurus_page.locator(".flash, [role=status], [role=alert]").first).to_be_visible()

    # The driver is now active, with a member number and a card with a QR code.
    db.session.expire_all()
    member = db.session.get(Member, member.id)
    assert member.status == "active" and member.member_no
    page.goto("/anggota")
    expect(page.get_by_test_id("member-no").first).to_have_text(member.member_no)
    page.get_by_test_id("card-link").first.click()
    expect(page.get_by_test_id("member-card")).to_be_visible()
    qr = page.get_by_test_id("member-card-qr")
    expect(qr).to_have_attribute("data-value", member.member_no)
    expect(qr.locator("svg")).to_be_visible()
