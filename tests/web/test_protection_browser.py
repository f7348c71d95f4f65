"""Issue 19, must-show 2: on a 360-px phone a driver enrols in BPJS Ketenagakerjaan and JKN
with one family member; after the bendahara's confirmation one online payment (the fake
gateway's SIMULASI page) settles simpanan wajib, JKK, JKM and JKN; the ledger puts each line
in its own account; "terlindungi sampai" moves forward."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kmp.extensions import db
from kmp.ledger.services import get_account
from kmp.payments.factory import set_gateway
from kmp.timeutil import add_months, business_date
from members.protection import enrolment as enrolments
from members.savings.billing import bill_wajib
from tests.integration.members_support import valid_nik
from tests.integration.savings_support import active_member

pytestmark = pytest.mark.browser
PASSWORD = "rahasia-12345"
PHONE = {"width": 360, "height": 740}
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_driver_enrols_with_family_and_one_payment_settles_everything(
    app, new_page, make_user, web_login
):
    set_gateway(app, None)  # the fake, as the testing config says
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    member = active_member(7, bendahara, pengurus)
    login = member.user.login_name
    db.session.commit()

    phone = new_page(viewport=PHONE)
    web_login(phone, login, PASSWORD)
    phone.goto("/anggota/perlindungan")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    phone.get_by_test_id("enrol-link").first.click()

    # The enrolment form on the phone: JKK + JKM on Rp 1.000.000, JKN class III + spouse.
    phone.get_by_test_id("enrol-tk").check()
    phone.get_by_test_id("enrol-income").select_option("1000000")
    phone.get_by_test_id("enrol-jkn").select_option("3")
    phone.get_by_test_id("family-name-0").fill("Sri Wahyuni")
    phone.get_by_test_id("family-nik-0").fill(valid_nik(4242, female=True))
    phone.get_by_test_id("family-relation-0").select_option("pasangan")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    phone.get_by_test_id("enrol-submit").click()
    expect(phone.get_by_test_id("enrol-error")).to_contain_text("persetujuan")  # no consent yet
    phone.get_by_test_id("enrol-consent").check()
    phone.get_by_test_id("family-nik-0").fill(valid_nik(4242, female=True))
    phone.get_by_test_id("enrol-submit").click()
    expect(phone.get_by_test_id("enrolment-status")).to_contain_text("menunggu konfirmasi")

    # The bendahara confirms from this month; the month's wajib is billed.
    db.session.expire_all()
    enrolment = enrolments.enrolment_of(member)
    assert [p.full_name for p in enrolment.family] == ["Sri Wahyuni"]
    enrolments.confirm_enrolment(enrolment, by_user=bendahara)
    bill_wajib(business_date())
    db.session.commit()

    phone.reload()
    expect(phone.get_by_test_id("covered-until-jkk")).to_have_text("belum terlindungi")
    expect(phone.get_by_test_id("coverage-warning")).to_contain_text("JKN")
    expect(phone.get_by_test_id("bill-line")).to_have_count(4)  # wajib, JKK, JKM, JKN
    expect(phone.get_by_test_id("bill-total")).to_have_text("Rp 111.800")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    phone.get_by_test_id("pay-bill").click()
    expect(phone.get_by_test_id("simulasi-banner")).to_be_visible()
    expect(phone.get_by_test_id("sim-amount")).to_have_text("Rp 111.800")
    phone.get_by_test_id("sim-settlement").click()
    expect(phone.get_by_test_id("payment-paid")).to_be_visible()
    expect(phone.get_by_test_id("payment-amount")).to_have_text("Rp 111.800")
    month_end = (add_months(business_date().replace(day=1), 1)).toordinal() - 1
    end_text = business_date().fromordinal(month_end).strftime("%d-%m-%Y")
    expect(phone.get_by_test_id("after-coverage")).to_contain_text(end_text)
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    phone.get_by_test_id("back-to-protection").click()
    for programme in ("jkk", "jkm", "jkn"):
        expect(phone.get_by_test_id(f"covered-until-{programme}")).to_have_text(end_text)
    expect(phone.get_by_test_id("coverage-warning")).to_have_count(0)
    expect(phone.get_by_test_id("bill-empty")).to_be_visible()
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)

    # The ledger: each line in its own account; contributions in trust, never equity.
    db.session.expire_all()

    def natural(code: str) -> int:
        return get_account(code).natural_balance_idr

    assert natural(f"equity:savings:mandatory:{member.member_no}") == 25_000
    assert natural("liability:bpjs-deposits:jkk") == 10_000
    assert natural("liability:bpjs-deposits:jkm") == 6_800
    assert natural("liability:bpjs-deposits:jkn") == 70_000
    assert natural("asset:gateway-clearing") == 111_800
