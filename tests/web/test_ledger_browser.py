"""Issue 3, must-show 6: a pengurus opens the trial balance in Chromium and downloads the XLSX,
which opens as a workbook whose totals balance; an anggota gets 403 on the same page."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from kmp.extensions import db
from kmp.ledger.services import post_entry
from kmp.timeutil import business_date

pytestmark = pytest.mark.browser


def test_trial_balance_xlsx_for_pengurus_and_403_for_anggota(
    page, new_page, login_as_web, web_login, make_user, tmp_path
):
    post_entry(
        lines=[("asset:cash", 250_000), ("income:other", -250_000)],
        description="Pendapatan lain-lain",
        source_kind="manual",
        entry_date=business_date(),
        idempotency_key="browser-trial-balance-1",
    )
    db.session.commit()

    login_as_web("pengurus")
    page.goto("/buku-besar/neraca-saldo")
    expect(page.locator("h1")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_test_id("download-xlsx").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    sheet = load_workbook(target).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    codes = {row[0] for row in rows}
    assert {"asset:cash", "income:other"} <= codes
    total = next(row for row in rows if row[1] == "Jumlah")
    assert total[3] == total[4] >= 250_000

    anggota_page = new_page()
    anggota = make_user("anggota")
    web_login(anggota_page, anggota.login_name)
    response = anggota_page.goto("/buku-besar/neraca-saldo")
    assert response.status == 403
