"""Issue 5, must-show 3: an active driver pays two months of simpanan wajib on a 360-px phone
through the fake gateway's SIMULASI page, sees the receipt, the balance, the statement and the
12-month chart; the arrears drop by two."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kmp.extensions import db
from kmp.payments.factory import set_gateway
from members.savings import billing
from tests.integration.savings_support import active_member, bill_months

pytestmark = pytest.mark.browser
PASSWORD = "rahasia-12345"
PHONE = {"width": 360, "height": 740}
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_driver_pays_two_months_of_wajib_through_the_simulasi_page(
    app, new_page, make_user, web_login
):
    set_gateway(app, None)  # the fake, as the testing config says
    bendahara, pengurus = make_user("bendahara"), make_user("pengurus")
    member = active_member(7, bendahara, pengurus)
    bill_months(3)
    assert billing.arrears_months([member.id]) == {member.id: 3}
    login = member.user.login_name
    db.session.commit()

    phone = new_page(viewport=PHONE)
    web_login(phone, login, PASSWORD)
    phone.goto("/anggota/simpanan")
    expect(phone.get_by_test_id("arrears-months")).to_have_text("3")
    expect(phone.get_by_test_id("savings-wajib")).to_contain_text("Rp 0")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    # Two months of wajib: the oldest two bills, Rp 50.000.
    phone.get_by_test_id("wajib-months").select_option("2")
    phone.get_by_test_id("pay-wajib").click()
    expect(phone.get_by_test_id("simulasi-banner")).to_be_visible()
    expect(phone.get_by_test_id("sim-amount")).to_have_text("Rp 50.000")
    phone.get_by_test_id("sim-settlement").click()

    # Back in the app: the receipt.
    expect(phone.get_by_test_id("payment-paid")).to_be_visible()
    expect(phone.get_by_test_id("payment-amount")).to_have_text("Rp 50.000")
    expect(phone.get_by_test_id("after-arrears")).to_contain_text("1 bulan")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    # The balance, the arrears and the chart on the savings page.
    phone.get_by_test_id("back-to-savings").click()
    expect(phone.get_by_test_id("savings-wajib")).to_contain_text("Rp 50.000")
    expect(phone.get_by_test_id("arrears-months")).to_have_text("1")
    chart = phone.get_by_test_id("savings-chart")
    expect(chart).to_be_visible()
    expect(chart.get_by_test_id("chart-bar")).to_have_count(12)
    last_bar_height = int(chart.get_by_test_id("chart-bar").last.get_attribute("height"))
    assert last_bar_height > 0
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    # The wajib statement with its running balance.
    phone.get_by_test_id("statement-wajib").click()
    expect(phone.get_by_test_id("statement-row")).to_have_count(1)
    expect(phone.get_by_test_id("running-balance").last).to_have_text("Rp 50.000")
    expect(phone.get_by_test_id("download-pdf")).to_be_visible()
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    db.session.expire_all()
    assert billing.arrears_months([member.id]) == {member.id: 1}
