"""Issue 20, must show 1 in Chromium at 360 px: the treasurer records a Rp 10 jt expense with
a photo of the receipt, it waits; a second board member approves it; it shows in the income
statement."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.integration.books_support import jpeg_with_gps

pytestmark = pytest.mark.browser


def test_expense_with_receipt_approved_by_a_second_member(
    new_page, web_login, make_user, app, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "KMP_RECEIPT_DIR", str(tmp_path / "receipts"))
    photo = tmp_path / "nota-sewa.jpg"
    photo.write_bytes(jpeg_with_gps())
    maker = make_user("pengurus", "bendahara", full_name="Budi Bendahara")
    checker = make_user("pengurus", full_name="Siti Ketua")

    page = new_page(viewport={"width": 360, "height": 760})
    web_login(page, maker.login_name)
    page.goto("/buku-besar/pembukuan/")
    page.get_by_test_id("new-expense").click()
    page.get_by_label("Jumlah (Rp)").fill("10 jt")
    page.get_by_label("Kategori").select_option(label="Beban operasional (expense:operations)")
    page.get_by_label("Pihak lawan (penerima / pembayar)").fill("CV Graha Mitra")
    page.get_by_label("Keterangan").fill("Sewa kantor setahun")
    page.get_by_label("Foto atau PDF bukti (JPEG, PNG, WebP, PDF)").set_input_files(str(photo))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the form is {width}px wide at a 360px screen"
    page.get_by_test_id("entry-submit").click()
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "pending")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    detail = page.url

    other = new_page(viewport={"width": 360, "height": 760})
    web_login(other, checker.login_name)
    other.goto(detail)
    expect(other.get_by_role("img", name="Foto bukti")).to_be_visible()
    other.get_by_test_id("approve").click()
    expect(other.get_by_test_id("status")).to_have_attribute("data-status", "posted")
    other.goto("/buku-besar/hasil-usaha")
    expect(other.locator("main")).to_contain_text("Rp 10.000.000")
