"""Issue 23, must show 5: the BLK export from the demo data, its columns documented in the
README; the demo helper, the reports and every training page on the demo data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import pathlib
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kmp.auth import User
from kmp.extensions import db
from kmp.timeutil import business_date, set_clock
from members.training import reports
from members.training.models import Certificate, Enrolment, Programme
from members.training.seed import seed_training

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def demo(app):  # noqa: ARG001
    from kmp.demo import ensure_demo_users, seed_demo

    set_clock(lambda: dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))
    seed_demo()
    users = ensure_demo_users()
    seed_training(users)
    db.session.commit()
    yield users
    set_clock(None)


def login(client, user: User) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def test_demo_helper_builds_a_catalogue_and_is_idempotent(demo):
    counts = [db.session.query(m).count() for m in (Programme, Enrolment, Certificate)]
    assert counts[0] == 4 and counts[1] >= 9
    seed_training(demo)
    db.session.commit()
    assert [db.session.query(m).count() for m in (Programme, Enrolment, Certificate)] == counts
    states = {c.status.value for c in db.session.scalars(select(Certificate))}
    assert {"verified", "pending"} <= states
    waiting = db.session.scalars(select(Enrolment).where(Enrolment.status == "waitlisted")).all()
    assert len(waiting) == 2  # the first-aid course has two seats for four members


def test_blk_export_csv_and_xlsx_from_the_demo(client, demo):
    login(client, demo["pengurus"])
    year = business_date().year
    response = client.get(f"/pengurus/pelatihan/ekspor-blk?tahun={year}&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert tuple(rows[0]) == reports.BLK_HEADERS
    data = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(data) == len(list(reports.blk_rows(year))) == 7
    assert all(re.fullmatch(r"\d{16}", d["nik"]) for d in data)
    literacy = next(d for d in data if d["judul_program"].startswith("Literasi"))
    assert (
        literacy["status_peserta"] == "selesai" and literacy["status_sertifikat"] == "terverifikasi"
    )
    assert literacy["tempat"] == "daring" and literacy["hari_hadir"] == "1"
    bnsp = [d for d in data if d["jenis_program"] == "bnsp"]
    assert bnsp and all(d["kode_skkni"].startswith("Kepmenaker 189/2019") for d in bnsp)
    assert {d["sumber_biaya"] for d in data} == {"peserta", "dana_pendidikan", "sponsor"}
    assert "daftar_tunggu" not in {d["status_peserta"] for d in data}  # only seat holders

    response = client.get(f"/pengurus/pelatihan/ekspor-blk?tahun={year}&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    table = list(sheet.iter_rows(values_only=True))
    assert tuple(table[0]) == reports.BLK_HEADERS and len(table) == len(rows)
    assert client.get("/pengurus/pelatihan/ekspor-blk?format=pdfx").status_code == 400

    login(client, demo["pengawas"])  # the NIK in full: not for the supervisors
    assert client.get("/pengurus/pelatihan/ekspor-blk?format=csv").status_code == 403


def test_the_readme_documents_every_export_column():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Ekspor data BLK") :]
    for name, _description in reports.BLK_COLUMNS:
        assert f"| `{name}` |" in section, f"README: column {name} is not documented"


def test_reports_and_pages_on_the_demo(client, demo):
    login(client, demo["pengurus"])
    report = client.get("/pengurus/pelatihan/laporan").get_data(as_text=True)
    assert 'data-office="pengurus"' in report and "Literasi Keuangan" in report
    offices = {o.office: o for o in reports.officers_per_role()}
    assert offices["pengurus"].holders == 2 and offices["pengurus"].competent == 2
    assert offices["pengawas"].holders == 1 and offices["pengawas"].competent == 1
    groups = {g.group_code: g for g in reports.members_per_group()}
    assert groups["pengemudi"].completed >= 1 and groups["pengemudi"].certified >= 1
    pages = ["/pengurus/pelatihan", "/pengurus/sertifikat", "/pengurus/dana-pendidikan"]
    for item in db.session.scalars(select(Programme)):
        pages.append(f"/pengurus/pelatihan/{item.id}")
    for certificate in db.session.scalars(select(Certificate)):
        pages.append(f"/pengurus/sertifikat/{certificate.id}")
    pages += ["/pengurus/pelatihan/baru", "/pengurus/sertifikat/baru", "/pengurus/jabatan"]
    for path in pages:
        assert client.get(path).status_code == 200, path
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.status == "completed"))
    assert client.get(f"/pengurus/pelatihan/peserta/{enrolment.id}/sertifikat").status_code == 200
    login(client, demo["anggota"])
    for path in ["/anggota/pelatihan", "/anggota/profil"] + [
        f"/anggota/pelatihan/{p.id}" for p in db.session.scalars(select(Programme))
    ]:
        assert client.get(path).status_code == 200, path
    mine = client.get("/anggota/pelatihan").get_data(as_text=True)
    assert "Literasi Keuangan Dasar" in mine  # the certificate of the own course
