"""Issue 6, must-show 2: a pengurus creates a meeting and a yes/no proposal with a window;
three members of different groups vote on phone-size viewports (one changes the vote); the
ballot closes on schedule; the results page shows the per-group table, the weighted and plain
results and the receipt list, and each voter finds their receipt."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from governance import services
from governance.models import Meeting, Proposal, ProposalStatus
from kmp.extensions import db
from kmp.timeutil import JAKARTA, now_utc
from tests.integration.governance_factories import ensure_ad, make_voter

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%Y-%m-%dT%H:%M")


def test_meeting_ballot_vote_on_phones_results_and_receipts(
    page, new_page, login_as_web, web_login, make_user, tmp_path
):
    ensure_ad()
    db.session.commit()
    voters = [make_voter(make_user, g) for g in ("pengemudi", "kurir", "pengguna")]

    # The pengurus creates the meeting and the proposal, then opens the ballot.
    page.on("dialog", lambda dialog: dialog.accept())
    login_as_web("pengurus")
    page.goto("/rapat/baru")
    page.select_option("select[name=kind]", "ra_paripurna")
    page.fill("input[name=title]", "RA Paripurna Desember")
    page.fill("textarea[name=agenda]", "Iuran dana sosial")
    page.fill("input[name=starts_at]", _local(now_utc() + dt.timedelta(days=15)))
    page.select_option("select[name=mode]", "online")
    page.get_by_test_id("save-meeting").click()
    expect(page.locator("h1")).to_have_text("RA Paripurna Desember")
    meeting = db.session.scalar(select(Meeting))

    page.goto(f"/pemungutan/baru?rapat={meeting.id}")
    page.fill("input[name=title]", "Iuran dana sosial Rp 5.000")
    page.fill("input[name=opens_at]", _local(now_utc()))
    page.fill("input[name=closes_at]", _local(now_utc() + dt.timedelta(minutes=30)))
    page.check("input[name=allow_change]")
    page.get_by_test_id("save-ballot").click()
    page.get_by_test_id("open-ballot").click()
    expect(page.get_by_test_id("census-fingerprint")).to_be_visible()
    proposal = db.session.scalar(select(Proposal))
    db.session.refresh(proposal)
    assert proposal.status is ProposalStatus.OPEN and proposal.meeting_id == meeting.id

    # Three members vote on phones; the courier changes their vote.
    receipts = {}
    phones = {}
    for (user, member), option in zip(voters, ("yes", "no", "yes"), strict=True):
        phone = new_page(viewport=PHONE)
        web_login(phone, user.login_name)
        phone.goto(f"/pemungutan/{proposal.id}")
        button = phone.get_by_test_id(f"option-{option}")
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 300  # a big touch target on 360 px
        button.click()
        expect(phone.get_by_test_id("vote-chosen")).to_have_text(
            "Setuju" if option == "yes" else "Tidak setuju"
        )
        phone.get_by_test_id("vote-confirm").click()  # the confirmation step
        receipts[member.id] = phone.get_by_test_id("receipt-code").inner_text()
        phones[member.id] = phone
    courier = voters[1][1]
    phone = phones[courier.id]
    phone.goto(f"/pemungutan/{proposal.id}")
    expect(phone.get_by_test_id("already-voted")).to_be_visible()
    phone.get_by_test_id("option-yes").click()
    phone.get_by_test_id("vote-confirm").click()
    changed = phone.get_by_test_id("receipt-code").inner_text()
    assert changed != receipts[courier.id]
    receipts[courier.id] = changed

    # Closed on schedule by the job.
    db.session.expire_all()
    done = services.run_ballot_schedule(now=proposal.closes_at)
    db.session.commit()
    assert done["closed"] == [proposal.id]

    for _user, member in voters:
        phone = phones[member.id]
        phone.goto(f"/pemungutan/{proposal.id}/hasil")
        expect(phone.get_by_test_id("outcome")).to_have_text("Diterima")
        expect(phone.get_by_test_id("group-table")).to_be_visible()
        expect(phone.get_by_test_id("weighted-yes")).to_have_text("100,00 %")
        expect(phone.get_by_test_id("plain-yes")).to_have_text("100,00 %")
        expect(phone.get_by_test_id("receipt-list")).to_contain_text(receipts[member.id])
        mine = phone.get_by_test_id("my-receipt-row")
        expect(mine).to_contain_text(receipts[member.id])
        expect(mine).to_contain_text("Setuju")
        # The page fits the phone: no horizontal scrolling of the whole document.
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1
        phone.goto(f"/pemungutan/{proposal.id}/cek")
        phone.get_by_test_id("receipt-check").click()
        expect(phone.get_by_test_id("receipt-choice")).to_have_text("Setuju")
    phone.goto(f"/pemungutan/{proposal.id}/hasil")
    phone.screenshot(path=str(tmp_path / "results-360.png"), full_page=True)
    print("screenshot:", tmp_path / "results-360.png")
