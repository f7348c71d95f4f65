"""The SHU journey in a browser: the board computes the run, the members approve it in a
ballot on their phones, the scheduled job posts it on the distribution date (clock advanced),
a driver reads the slip with its explanation, sees the SHU in simpanan sukarela and downloads
the PDF."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from governance import services as gov
from kmp.auth import Role
from kmp.ledger.chart import member_account_code
from kmp.ledger.queries import balance_of
from kmp.ledger.services import get_account
from kmp.registry import get_registry
from kmp.scheduler import run_job
from kmp.timeutil import now_utc, set_clock
from payouts.models import DistributionRun, RunStatus
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_member

PHONE = {"width": 360, "height": 740}


@pytest.mark.browser
def test_shu_journey(app, db, page, new_page, make_user, login_as_web, web_login, tmp_path):
    drivers = []
    for i in range(2):
        user = make_user(Role.ANGGOTA)
        drivers.append((user, shu_member("pengemudi", wajib=50_000, trips=40 + 20 * i, user=user)))
    book_surplus(20_000_000)
    db.session.commit()

    # 1. the board computes the run
    login_as_web(Role.PENGURUS)
    page.goto("/shu/")
    page.get_by_label("Tahun buku").fill(str(fiscal_year()))
    page.get_by_role("button", name="Hitung").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Sudah dihitung")
    run = db.session.scalar(select(DistributionRun))
    # the reference is chosen from a list on the ballot form, not typed: kept for scripts
    assert page.get_by_test_id("run-reference").text_content() == run.reference
    from axe_playwright_python.sync_playwright import Axe

    from tests.web.test_axe import blocking_violations

    axe = Axe()
    assert blocking_violations(axe, page) == []

    # 2. the members approve it in a ballot, on their phones
    now = now_utc()
    proposal = gov.create_proposal(
        kind="shu_allocation",
        title=f"Pembagian SHU {run.fiscal_year}",
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(minutes=30),
        reference=run.reference,
    )
    gov.open_proposal(proposal)
    db.session.commit()
    phones = {}
    for user, member in drivers:
        phone = new_page(viewport=PHONE)
        web_login(phone, user.login_name)
        phone.goto(f"/pemungutan/{proposal.id}")
        phone.get_by_test_id("option-yes").click()
        phone.get_by_test_id("vote-confirm").click()  # the confirmation step
        expect(phone.get_by_test_id("receipt-code")).to_be_visible()
        phones[member.id] = phone
    db.session.expire_all()
    gov.run_ballot_schedule(now=proposal.closes_at)
    db.session.commit()
    db.session.expire_all()
    run = db.session.get(DistributionRun, run.id)
    assert run.status is RunStatus.APPROVED

    # 3. the scheduled job posts it on the distribution date
    job = get_registry(app).job("payouts-post-shu")
    date = run.distribution_date
    set_clock(lambda: dt.datetime(date.year, date.month, date.day, 3, 0, tzinfo=dt.UTC))
    try:
        run_job(app, job)
        db.session.expire_all()
        assert db.session.get(DistributionRun, run.id).status is RunStatus.PAID

        # 4. a driver reads the slip on a 360 px phone and downloads the PDF
        user, member = drivers[1]
        phone = phones[member.id]
        phone.goto("/shu/saya")
        phone.get_by_test_id(f"my-shu-{run.fiscal_year}").click()
        explanation = phone.get_by_test_id("slip-explanation")
        expect(explanation).to_contain_text("Dari mana angka ini?")
        expect(explanation).to_contain_text("60 perjalanan")
        expect(phone.get_by_test_id("slip-payout")).to_contain_text("Masuk simpanan sukarela")
        total = phone.get_by_test_id("slip-total").inner_text()
        account = get_account(member_account_code("sukarela", member.member_no))
        credited = balance_of(account) * account.normal_sign
        assert credited > 0
        assert total.replace(".", "").replace("Rp", "").strip().endswith(str(credited))
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert blocking_violations(axe, phone) == []
        with phone.expect_download() as info:
            phone.get_by_test_id("slip-pdf").click()
        target = tmp_path / "slip.pdf"
        info.value.save_as(target)
        assert target.read_bytes()[:4] == b"%PDF"
    finally:
        set_clock(None)
