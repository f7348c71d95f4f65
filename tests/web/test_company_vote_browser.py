"""Issue 16, must-show 3: a platform company's representative votes on the ballot page (on a
phone), another staff login of the company is refused naming the representative; with the
AD saying platforms do not vote, the company is absent from the census and from the quorum."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kmp.extensions import db
from tests.factories import company_member
from tests.integration.governance_factories import (
    ensure_ad,
    make_proposal,
    make_voter,
    set_group,
)
from tests.web.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


def test_the_representative_votes_and_the_ad_can_leave_platforms_out(
    page, new_page, login_as_web, web_login, make_user
):
    ensure_ad()
    company, (rep, other) = company_member("PT Ojek Nusantara", staff=2, password=TEST_PASSWORD)
    make_voter(make_user, "pengemudi")
    db.session.commit()
    proposal = make_proposal(title="Pembagian SHU 2025")

    phone = new_page(viewport=PHONE)
    web_login(phone, rep.login_name)
    phone.goto(f"/pemungutan/{proposal.id}")
    button = phone.get_by_test_id("option-yes")
    assert button.bounding_box()["width"] >= 300
    button.click()
    phone.get_by_test_id("vote-confirm").click()  # the confirmation step
    expect(phone.get_by_test_id("receipt-code")).to_be_visible()

    staff = new_page(viewport=PHONE)
    web_login(staff, other.login_name)
    staff.goto(f"/pemungutan/{proposal.id}")
    expect(staff.get_by_test_id("census-refusal")).to_contain_text(rep.full_name)
    expect(staff.get_by_test_id("option-yes")).to_have_count(0)

    # The AD takes the platform group out: the next ballot's census and quorum leave it out.
    set_group("platform", members_vote=False)
    db.session.commit()
    second = make_proposal(title="Usulan tanpa platform")
    assert "platform" not in second.group_weights
    login_as_web("pengawas")
    page.goto(f"/pemungutan/{second.id}/pemilih")
    expect(page.get_by_test_id("census-table")).not_to_contain_text(company.member_no)
    expect(page.get_by_test_id("exclusion-table")).to_contain_text(company.member_no)
    expect(page.get_by_test_id("exclusion-table")).to_contain_text("kelompok tanpa hak suara")
    phone.goto(f"/pemungutan/{second.id}")
    expect(phone.get_by_test_id("census-refusal")).to_contain_text("tidak punya hak suara")
