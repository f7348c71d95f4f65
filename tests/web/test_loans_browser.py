"""Issue 18, must-show 2: on a 360-px phone a member applies and sees the schedule before
submitting; a different officer approves; the loan is disbursed to sukarela; the member pays
two instalments online (the fake gateway's SIMULASI page) and one arrives by check-off in a
partner remittance (sent twice, applied once); the page shows what remains; the ledger
check passes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kmp.extensions import db
from kmp.ledger.queries import check_ledger
from kmp.payments.factory import set_gateway
from members.loans.models import Loan
from members.partners import links as partners_links
from members.partners import remittances as partners_remittances
from tests.api.conftest import make_company
from tests.integration.loans_support import give_sukarela, make_product
from tests.integration.savings_support import active_member

pytestmark = pytest.mark.browser
PASSWORD = "rahasia-12345"
PHONE = {"width": 360, "height": 740}
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_member_applies_on_the_phone_and_repays_online_and_by_check_off(
    app, new_page, make_user, web_login
):
    set_gateway(app, None)
    bendahara = make_user("bendahara", "pengurus", email="bendahara-loan@example.org")
    pengurus = make_user("pengurus", email="pengurus-loan@example.org")
    approver = make_user("pengurus", email="approver-loan@example.org")
    product = make_product(pengurus, approver)
    member = active_member(31, bendahara, pengurus)
    give_sukarela(member, 1_000_000)
    db.session.commit()

    phone = new_page(viewport=PHONE)
    web_login(phone, member.user.login_name, PASSWORD)
    phone.goto("/anggota/pinjaman")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    phone.get_by_test_id(f"apply-{product.code}").click()
    phone.get_by_test_id("principal").fill("1.200.000")
    phone.get_by_test_id("months").fill("12")
    phone.get_by_test_id("purpose").fill("Ganti ban dan rantai motor")
    phone.get_by_test_id("preview").click()
    expect(phone.get_by_test_id("schedule-row")).to_have_count(12)
    expect(phone.get_by_test_id("quote-total")).to_have_text("Rp 1.416.000")
    expect(phone.get_by_test_id("quote-effective")).to_contain_text("%")
    expect(phone.get_by_test_id("rounding-rule")).to_contain_text("angsuran terakhir")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    phone.get_by_test_id("submit").click()
    expect(phone.get_by_test_id("loan-status")).to_have_text("Menunggu keputusan")

    # A different officer approves on the board page; the bendahara disburses to sukarela.
    db.session.expire_all()
    loan = db.session.query(Loan).one()
    desk = new_page()
    web_login(desk, approver.login_name)
    desk.goto(f"/pengurus/pinjaman/{loan.id}")
    expect(desk.get_by_test_id("assessment")).to_contain_text("Simpanan")
    desk.get_by_test_id("approve").click()
    expect(desk.get_by_test_id("case-status")).to_contain_text("Disetujui")
    treasurer = new_page()
    web_login(treasurer, bendahara.login_name)
    treasurer.goto(f"/pengurus/pinjaman/{loan.id}")
    treasurer.get_by_test_id("disburse-method").select_option("sukarela")
    treasurer.get_by_test_id("disburse").click()
    expect(treasurer.get_by_test_id("case-remaining")).to_have_text("Rp 1.200.000")

    # Two instalments online from the phone.
    for _ in range(2):
        phone.goto(f"/anggota/pinjaman/{loan.id}")
        phone.get_by_test_id("pay-online").click()
        expect(phone.get_by_test_id("sim-amount")).to_have_text("Rp 118.000")
        phone.get_by_test_id("sim-settlement").click()
        expect(phone.get_by_test_id("position")).to_be_visible()

    # One instalment by check-off, the remittance sent twice.
    company = make_company(31, "PT Kurir Cepat", bendahara, pengurus)
    db.session.expire_all()
    partners_links.link_worker(member, company, None)
    db.session.commit()
    lines = [partners_remittances.RemittanceLineIn(member.platform_worker_id, "pinjaman", 118_000)]
    for _ in range(2):
        partners_remittances.submit_remittance(
            company, remittance_ref="LOAN-CO-1", total_idr=118_000, lines=lines
        )
        db.session.commit()

    phone.goto(f"/anggota/pinjaman/{loan.id}")
    expect(phone.get_by_test_id("remaining-principal")).to_have_text("Rp 900.000")
    expect(phone.get_by_test_id("instalment-3").get_by_test_id("instalment-state")).to_have_text(
        "lunas"
    )
    expect(phone.get_by_test_id("instalment-4").get_by_test_id("instalment-state")).to_have_text(
        "belum"
    )
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    db.session.expire_all()
    assert check_ledger().ok
