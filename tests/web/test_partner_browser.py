"""Issue 8, must-show 4: a partner staff member logs in, sees the contributions dashboard
with its charts, downloads a remittance receipt, creates an API key (shown once) and
revokes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kmp.extensions import db
from members.partners import remittances as partners_remittances
from members.partners.models import ApiKey
from tests.api.conftest import World

pytestmark = pytest.mark.browser


def test_partner_dashboard_receipt_and_api_key(page, make_user, web_login, tmp_path):
    world = World(make_user)
    worker = world.worker(link_to=world.company)
    partners_remittances.submit_remittance(
        world.company,
        remittance_ref="TRF-2025-03",
        total_idr=35_000,
        lines=[
            partners_remittances.RemittanceLineIn(worker.platform_worker_id, "wajib", 25_000),
            partners_remittances.RemittanceLineIn("GHOST-9", "wajib", 10_000),
        ],
    )
    db.session.commit()

    web_login(page, "rep1@company.example", "rahasia-12345")
    page.goto(f"/mitra/{world.company.id}/kontribusi")
    expect(page.get_by_test_id("partner-dashboard")).to_be_visible()
    expect(page.get_by_test_id("linked-count")).to_have_text("1")
    expect(page.locator("[data-testid=chart-wajib] svg rect")).to_have_count(1)
    expect(page.get_by_test_id("chart-patronage")).to_be_visible()
    expect(page.get_by_test_id("consenting-workers")).to_contain_text(worker.member_no)

    with page.expect_download() as info:
        page.get_by_test_id("receipt-pdf").first.click()
    saved = tmp_path / "receipt.pdf"
    info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    page.get_by_test_id("nav-api-keys").click()
    page.fill("input[name=name]", "server produksi")
    page.check("input[value='remittance:write']")
    page.check("input[value='members:read']")
    page.get_by_test_id("create-key").click()
    shown = page.get_by_test_id("new-key-value")
    expect(shown).to_be_visible()
    full_key = shown.inner_text()
    key = db.session.scalar(select(ApiKey))
    assert full_key.startswith(f"kmp_{key.prefix}_") and key.key_hash != full_key

    page.goto(f"/mitra/{world.company.id}/kunci-api")  # a plain GET: not shown again
    expect(page.get_by_test_id("new-key-value")).to_have_count(0)
    page.get_by_test_id(f"revoke-{key.prefix}").click()
    expect(page.get_by_test_id(f"key-{key.prefix}")).to_contain_text("dicabut")
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
