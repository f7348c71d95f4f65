"""Issue 20 must-show 4 and 6 and the RAT book pages: the SHU distribution takes the closed
year's SHU by default, a different amount is refused without a reason and, with one, shows
in the run page and the book; the run is approved by choosing an adopted resolution from a
list; the pengurus and the pengawas each write their own report; the book and the ministry
export download; the cooperative profile."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from governance import services as gov
from kmp.extensions import db
from kmp.ledger.closing.services import closed_year_shu
from kmp.ledger.queries import balance_sheet, income_statement
from kmp.timeutil import now_utc
from payouts import approval, services
from payouts.models import DistributionRun, RunStatus
from payouts.ratbook import sections
from payouts.ratbook.models import CoopProfile, RatText, TextKind
from payouts.ratbook.seed import PROFILE, seed_ratbook
from tests.conftest import csrf_from
from tests.integration.books_support import books_env, make_board  # noqa: F401 - autouse
from tests.integration.ratbook_support import seeded_years

SHU_URL = "/shu/"


def _runs() -> int:
    return db.session.scalar(select(func.count()).select_from(DistributionRun))


def _post(client, path, data, form_path=None):
    token = csrf_from(client.get(form_path or path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def test_distribution_defaults_to_the_closed_shu_and_an_override_needs_a_reason(
    client, make_user, login_as
):
    board = make_board(make_user)
    seeded_years(board)
    shu = closed_year_shu(2025)
    login_as(user=board["pengurus"])
    assert "SHU hasil tutup buku 2025" in client.get(SHU_URL).get_data(as_text=True)
    # a different amount without a reason: refused in Indonesian, nothing written
    response = _post(client, "/shu/hitung", {"fiscal_year": "2025", "shu_idr": "5000000"}, SHU_URL)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tulis alasan mengapa jumlah lain yang dibagi" in page
    db.session.expire_all()
    assert _runs() == 0
    # the default: the closed year's SHU
    response = _post(client, "/shu/hitung", {"fiscal_year": "2025"}, SHU_URL)
    assert response.status_code == 302
    run = db.session.scalar(select(DistributionRun))
    assert (run.shu_idr, run.shu_source, run.shu_reason) == (shu, "closed", None)
    page = client.get(f"/shu/{run.id}").get_data(as_text=True)
    assert "dari tutup buku tahun 2025" in page
    # the same amount typed in is the default, not an override
    comp = services.compute_allocation(2025, shu_idr=shu)
    assert comp.shu_source == "closed" and comp.shu_reason is None
    # with a reason: recorded, shown beside the books' figure, and in the RAT book
    response = _post(
        client,
        "/shu/hitung",
        {"fiscal_year": "2025", "shu_idr": "5000000", "reason": "Koreksi auditor: beban sewa"},
        SHU_URL,
    )
    assert response.status_code == 302
    db.session.expire_all()
    run = db.session.get(DistributionRun, run.id)
    assert (run.shu_idr, run.shu_source, run.shu_book_idr) == (5_000_000, "entered", shu)
    page = client.get(f"/shu/{run.id}").get_data(as_text=True)
    assert "Koreksi auditor: beban sewa" in page and "menurut buku" in page
    report = client.get(f"/shu/{run.id}/laporan.xlsx")
    cells = [
        c
        for r in load_workbook(io.BytesIO(report.data)).active.iter_rows(values_only=True)
        for c in r
    ]
    assert any("alasan: Koreksi auditor: beban sewa" in str(c) for c in cells)
    book = {s.key: s for s in sections.build_sections(2025)}["shu_allocation"]
    assert any("Koreksi auditor: beban sewa" in b for b in book.blocks if isinstance(b, str))
    assert book.figures == {"shu": 5_000_000, "allocated": 5_000_000}


def test_run_is_approved_by_choosing_an_adopted_resolution(client, make_user, login_as):
    board = make_board(make_user)
    members = seeded_years(board)
    run = services.create_run(2025)
    services.compute_run(run)
    now = now_utc()
    proposal = gov.create_proposal(
        kind="shu_allocation",
        title="Pembagian SHU 2025",
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(minutes=60),
        by_user=board["pengurus"],
    )
    gov.open_proposal(proposal, by_user=board["pengurus"])
    for name in ("a", "b", "d", "e"):
        gov.cast_vote(proposal, members[name], "yes")
    resolution = gov.close_proposal(proposal, by_user=board["pengurus"])
    db.session.commit()
    assert str(resolution.outcome) == "passed"
    assert db.session.get(DistributionRun, run.id).status is RunStatus.COMPUTED  # no reference
    assert [r.id for r in approval.adoptable_resolutions(run)] == [resolution.id]
    login_as(user=board["pengurus"])
    page = client.get(f"/shu/{run.id}").get_data(as_text=True)
    assert 'data-testid="approve-form"' in page and "Pembagian SHU 2025" in page
    # a resolution that is not in the list is refused with a message, nothing changes
    response = _post(client, f"/shu/{run.id}/setujui", {"resolution_id": "999"}, f"/shu/{run.id}")
    assert response.status_code == 422
    response = _post(
        client, f"/shu/{run.id}/setujui", {"resolution_id": str(resolution.id)}, f"/shu/{run.id}"
    )
    assert response.status_code == 302
    db.session.expire_all()
    run = db.session.get(DistributionRun, run.id)
    assert run.status is RunStatus.APPROVED and run.resolution_id == resolution.id


def test_board_and_pengawas_write_their_own_reports(client, make_user, login_as):
    board = make_board(make_user)
    pengawas = make_user("pengawas")
    db.session.commit()
    login_as(user=pengawas)
    path = "/rat/buku/2025/laporan-pengawas"
    response = _post(client, path, {"body": "Buku diperiksa.\r\n\r\nTidak ada temuan."})
    assert response.status_code == 302
    # the pengawas cannot write the board's report, but reads it
    assert client.get("/rat/buku/2025/laporan-pengurus").status_code == 200
    token = csrf_from(client.get(path).get_data(as_text=True))
    response = client.post(
        "/rat/buku/2025/laporan-pengurus", data={"csrf_token": token, "body": "x"}
    )
    assert response.status_code == 403
    login_as(user=board["pengurus"])
    response = _post(client, "/rat/buku/2025/laporan-pengurus", {"body": "Laporan pengurus."})
    assert response.status_code == 302
    response = client.post(path, data={"csrf_token": token, "body": "dari pengurus"})
    assert response.status_code == 403
    # a year that is not over yet is not a book
    assert client.get("/rat/buku/2026/laporan-pengurus").status_code == 404
    db.session.expire_all()
    texts = {t.kind: t.body for t in db.session.scalars(select(RatText))}
    assert texts == {
        TextKind.SUPERVISORY: "Buku diperiksa.\n\nTidak ada temuan.",
        TextKind.BOARD: "Laporan pengurus.",
    }
    built = {s.key: s for s in sections.build_sections(2025)}
    assert built["supervisory_report"].blocks == ["Buku diperiksa.", "Tidak ada temuan."]


def test_book_downloads_and_page(client, make_user, login_as):
    board = make_board(make_user)
    seeded_years(board)
    login_as("pengawas")
    page = client.get("/rat/buku?tahun=2025").get_data(as_text=True)
    assert "Neraca per 31 Desember 2025 dan 2024" in page
    assert "/rat/buku/2025.pdf" in page and "/rat/buku/2025.xlsx" in page
    response = client.get("/rat/buku/2025.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    response = client.get("/rat/buku/2025.xlsx")
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.data), read_only=True).sheetnames[0].startswith("1.")
    assert client.get("/rat/buku/2025.doc").status_code == 404
    assert client.get("/rat/buku?tahun=abc").status_code == 200


def _export(client, year: int) -> dict[str, str]:
    response = client.get(f"/rat/data-kemenkop/{year}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["kode", "uraian", "nilai", "satuan"]
    return {r[0]: r[2] for r in rows[1:]}


def test_ministry_export_from_seeded_data(client, make_user, login_as):
    board = make_board(make_user)
    seeded_years(board)
    seed_ratbook({"pengurus": board["pengurus"], "pengawas": make_user("pengawas")})
    db.session.commit()
    login_as("pengawas")
    data = _export(client, 2025)
    assert data["nama_koperasi"] == PROFILE["name"]
    assert data["nomor_badan_hukum"] == PROFILE["legal_number"]
    assert data["tanggal_badan_hukum"] == "2023-03-14"
    assert (data["anggota_jumlah"], data["anggota_masuk"], data["anggota_keluar"]) == (
        "4",
        "2",
        "1",
    )
    assert (data["anggota_laki_laki"], data["anggota_perempuan"]) == ("1", "3")
    assert data["anggota_kurir"] == "1" and data["anggota_kurir_perempuan"] == "1"
    sheet = balance_sheet(dt.date(2025, 12, 31))
    assert int(data["aset"]) == sheet["assets"].total_idr
    assert int(data["modal_luar"]) == sheet["liabilities"].total_idr
    assert int(data["modal_sendiri"]) == sheet["equity"].total_idr
    assert int(data["aset"]) == int(data["modal_luar"]) + int(data["modal_sendiri"])
    income = income_statement(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert int(data["volume_usaha"]) == income["income"].total_idr
    assert int(data["shu"]) == closed_year_shu(2025)
    assert (data["simpanan_pokok"], data["simpanan_wajib"]) == ("400000", "1700000")
    assert data["tanggal_rat"] == "" and data["pelatihan_peserta"] == "0"
    response = client.get("/rat/data-kemenkop/2025.xlsx")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert dict((r[0], r[2]) for r in rows[1:])["shu"] == closed_year_shu(2025)
    # the seed also wrote the 2025 reports (once: a second run changes nothing)
    seed_ratbook({"pengurus": board["pengurus"], "pengawas": None})
    assert db.session.scalar(select(func.count()).select_from(RatText)) == 2


def test_profile_page_edits_and_refuses_bad_input(client, make_user, login_as):
    login_as("pengurus")
    response = _post(
        client, "/rat/profil-koperasi", {"name": "KM", "nib": "12"}, "/rat/profil-koperasi"
    )
    assert response.status_code == 422
    assert db.session.get(CoopProfile, 1) is None
    response = _post(
        client,
        "/rat/profil-koperasi",
        {"name": "Koperasi Uji", "nib": "12x4567890123", "npwp": ""},
        "/rat/profil-koperasi",
    )
    assert response.status_code == 422 and "NIB harus 13 angka" in response.get_data(as_text=True)
    response = _post(
        client,
        "/rat/profil-koperasi",
        {"name": "Koperasi Uji", "legal_number": "AHU-1", "legal_date": "2024-01-02"},
        "/rat/profil-koperasi",
    )
    assert response.status_code == 302
    db.session.expire_all()
    profile = db.session.get(CoopProfile, 1)
    assert (profile.name, profile.legal_number, profile.legal_date) == (
        "Koperasi Uji",
        "AHU-1",
        dt.date(2024, 1, 2),
    )
    login_as("pengawas")
    page = client.get("/rat/profil-koperasi").get_data(as_text=True)
    assert "AHU-1" in page and "profile-form" not in page
