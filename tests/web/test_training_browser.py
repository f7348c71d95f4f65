"""Issue 23, must show 2 in Chromium at 360 px: a driver enrols in a course from the phone,
the organiser marks completion and records the certificate with a scan, another pengurus
verifies it, and the driver sees it on their profile."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from kmp.extensions import db
from kmp.timeutil import business_date
from members.training import services
from tests.integration.books_support import png_bytes
from tests.integration.governance_factories import make_member

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 760}


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width}px wide on a 360px screen"


def test_enrol_complete_certify_verify_and_see_it(
    new_page, web_login, make_user, app, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "KMP_RECEIPT_DIR", str(tmp_path / "scans"))
    scan = tmp_path / "sertifikat-agus.png"
    scan.write_bytes(png_bytes((120, 80)))
    today = business_date()
    driver_login = make_user("anggota", full_name="Agus Pratama")
    driver = make_member("pengemudi", name="Agus Pratama", user=driver_login)
    organiser = make_user("pengurus", "bendahara", full_name="Budi Penyelenggara")
    checker = make_user("pengurus", full_name="Siti Ketua")
    course = services.create_programme(
        services.ProgrammeInput(
            title="Keselamatan Berkendara untuk Ojol",
            kind="blk",
            provider="BPVP Bekasi",
            place="BPVP Bekasi",
            starts_on=today,
            ends_on=today + dt.timedelta(days=1),
            seats=10,
            payer="sponsor",
            sponsor="Kemnaker",
            scheme="Pengemudi Berkeselamatan",
            target_groups=["pengemudi", "kurir"],
        ),
        by_user=organiser,
    )
    db.session.commit()

    # The driver, on the phone.
    phone = new_page(viewport=PHONE)
    web_login(phone, driver_login.login_name)
    phone.goto("/anggota/pelatihan")
    fits(phone)
    phone.get_by_role("link", name="Keselamatan Berkendara untuk Ojol").click()
    fits(phone)
    phone.get_by_test_id("enrol").click()
    expect(phone.get_by_test_id("my-status")).to_have_attribute("data-status", "enrolled")

    # The organiser marks completion and records the certificate with its scan.
    board = new_page(viewport=PHONE)
    web_login(board, organiser.login_name)
    board.goto(f"/pengurus/pelatihan/{course.id}")
    fits(board)
    board.get_by_test_id(f"present-{driver.member_no}").check()
    board.get_by_test_id("attendance-save").click()
    expect(board.get_by_test_id(f"present-{driver.member_no}")).to_be_checked()
    board.get_by_test_id(f"result-{driver.member_no}").select_option("completed")
    board.get_by_test_id(f"complete-{driver.member_no}").click()
    board.get_by_test_id(f"certificate-{driver.member_no}").click()
    fits(board)
    expect(board.get_by_label("Skema sertifikasi")).to_have_value("Pengemudi Berkeselamatan")
    board.get_by_label("Nomor sertifikat").fill("BPVP-BKS/2026/0042")
    board.get_by_label("Berlaku sampai (kosong: tanpa batas)").fill(
        (today + dt.timedelta(days=3 * 365)).isoformat()
    )
    board.get_by_label("Pindaian sertifikat (PDF/JPG/PNG/WebP, boleh kosong)").set_input_files(
        str(scan)
    )
    board.get_by_test_id("certificate-save").click()
    expect(board.get_by_test_id("roster-certificate")).to_have_text("BPVP-BKS/2026/0042")

    # Another pengurus verifies it (the organiser may not).
    other = new_page(viewport=PHONE)
    web_login(other, checker.login_name)
    other.goto("/pengurus/sertifikat")
    fits(other)
    other.get_by_role("link", name="BPVP-BKS/2026/0042").first.click()
    expect(other.get_by_role("img", name="Pindaian sertifikat")).to_be_visible()
    other.get_by_test_id("verify").click()
    expect(other.get_by_test_id("certificate")).to_have_attribute("data-status", "verified")

    # The driver sees it on the profile.
    phone.goto("/anggota/profil")
    fits(phone)
    mine = phone.get_by_test_id("my-certificates")
    expect(mine).to_contain_text("Pengemudi Berkeselamatan")
    expect(mine).to_contain_text("BPVP-BKS/2026/0042")
    expect(mine.locator("li[data-status='verified']")).to_have_count(1)
