"""The training pages: who may open each (one allowed, one refused role at least), and the
flows through the forms (catalogue, enrolment, roster, certificate with a scan, verification)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.training import services
from members.training.models import Certificate, Enrolment, Programme, TrainingAttendance
from tests.conftest import csrf_from
from tests.integration.books_support import png_bytes
from tests.integration.governance_factories import make_member

TODAY = business_date()


@pytest.fixture(autouse=True)
def _scans(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_RECEIPT_DIR", str(tmp_path / "scans"))


def programme(**overrides) -> Programme:
    data = {
        "title": "Literasi keuangan",
        "kind": "own",
        "provider": "Koperasi",
        "is_online": True,
        "starts_on": TODAY + dt.timedelta(days=3),
        "ends_on": TODAY + dt.timedelta(days=3),
        "seats": 1,
        "payer": "member",
    }
    data.update(overrides)
    item = services.create_programme(services.ProgrammeInput(**data), by_user=None)
    db.session.commit()
    return item


BOARD_READ_PAGES = [
    "/pengurus/pelatihan",
    "/pengurus/sertifikat",
    "/pengurus/dana-pendidikan",
    "/pengurus/pelatihan/laporan",
]


@pytest.mark.parametrize("path", BOARD_READ_PAGES)
@pytest.mark.parametrize(("role", "status"), [("pengawas", 200), ("anggota", 403)])
def test_board_pages_read_by_the_board_not_by_members(client, login_as, path, role, status):
    login_as(role)
    assert client.get(path).status_code == status


@pytest.mark.parametrize(
    "path",
    ["/pengurus/pelatihan/baru", "/pengurus/sertifikat/baru", "/pengurus/pelatihan/ekspor-blk"],
)
@pytest.mark.parametrize(("role", "status"), [("bendahara", 200), ("pengawas", 403)])
def test_organiser_pages(client, login_as, path, role, status):
    login_as("pengurus", role) if role == "bendahara" else login_as(role)
    assert client.get(path).status_code == status


@pytest.mark.parametrize(
    ("role", "status"), [("anggota", 200), ("pengurus", 403), ("partner", 403)]
)
def test_member_pages(client, login_as, role, status):
    user = login_as(role)
    if role == "anggota":
        make_member("pengemudi", user=user)
        db.session.commit()
    item = programme()
    assert client.get("/anggota/pelatihan").status_code == status
    assert client.get(f"/anggota/pelatihan/{item.id}").status_code == status


def test_a_member_enrols_joins_the_waitlist_and_withdraws(client, login_as, make_user):
    item = programme(seats=1)
    first = make_member("pengemudi", user=make_user("anggota"))
    services.enrol_member(first, item)
    user = login_as("anggota")
    member = make_member("pengemudi", user=user)
    db.session.commit()
    page = client.get(f"/anggota/pelatihan/{item.id}").get_data(as_text=True)
    assert "Masuk daftar tunggu" in page
    response = client.post(
        f"/anggota/pelatihan/{item.id}/daftar",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "daftar tunggu nomor 1" in html and 'data-status="waitlisted"' in html
    again = client.post(
        f"/anggota/pelatihan/{item.id}/daftar",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=True,
    )
    assert "sudah terdaftar" in again.get_data(as_text=True)
    assert client.post(f"/anggota/pelatihan/{item.id}/daftar", data={}).status_code == 400
    mine = db.session.scalar(select(Enrolment).where(Enrolment.member_id == member.id))
    other = db.session.scalar(select(Enrolment).where(Enrolment.member_id == first.id))
    token = csrf_from(html)
    assert (
        client.post(
            f"/anggota/pelatihan/pendaftaran/{other.id}/batal", data={"csrf_token": token}
        ).status_code
        == 404
    )  # not theirs
    response = client.post(
        f"/anggota/pelatihan/pendaftaran/{mine.id}/batal", data={"csrf_token": token}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Enrolment, mine.id).status.value == "cancelled"


def test_the_board_runs_a_programme_through_its_pages(client, login_as, make_user):
    organiser = login_as("pengurus", "bendahara")
    page = client.get("/pengurus/pelatihan/baru").get_data(as_text=True)
    token = csrf_from(page)
    form = {
        "csrf_token": token,
        "title": "Sertifikasi Pengurus Koperasi",
        "kind": "bnsp",
        "skkni_ref": "",
        "scheme": "Pengurus Koperasi",
        "provider": "LSP Koperasi Jasa Keuangan",
        "place": "Jakarta",
        "starts_on": TODAY.isoformat(),
        "ends_on": (TODAY + dt.timedelta(days=1)).isoformat(),
        "seats": "5",
        "cost": "1.500.000",
        "payer": "fund",
        "target_roles": ["pengurus", "pengawas"],
    }
    refused = client.post("/pengurus/pelatihan/baru", data=form)
    assert refused.status_code == 422 and "SKKNI" in refused.get_data(as_text=True)
    form["skkni_ref"] = "Kepmenaker 189/2019"
    response = client.post("/pengurus/pelatihan/baru", data=form)
    assert response.status_code == 303
    item = db.session.scalar(select(Programme))
    assert item.cost_idr == 1_500_000 and item.target_roles == ["pengurus", "pengawas"]
    member = make_member("kurir", name="Calon Pengurus")
    item.starts_on = TODAY + dt.timedelta(days=1)
    enrolment = services.enrol_member(member, item)
    item.starts_on = TODAY
    db.session.commit()

    detail = client.get(f"/pengurus/pelatihan/{item.id}").get_data(as_text=True)
    assert "Calon Pengurus" in detail and 'data-testid="attendance-form"' in detail
    token = csrf_from(detail)
    response = client.post(
        f"/pengurus/pelatihan/{item.id}/hadir",
        data={"csrf_token": token, "day": TODAY.isoformat(), "present": [str(enrolment.id)]},
    )
    assert response.status_code == 303
    assert db.session.scalar(select(TrainingAttendance.day)) == TODAY
    response = client.post(
        f"/pengurus/pelatihan/peserta/{enrolment.id}/hasil",
        data={"csrf_token": token, "result": "completed"},
    )
    assert response.status_code == 303
    form_page = client.get(f"/pengurus/pelatihan/peserta/{enrolment.id}/sertifikat")
    assert 'value="Pengurus Koperasi"' in form_page.get_data(as_text=True)
    certificate = {
        "csrf_token": token,
        "scheme": "Pengurus Koperasi",
        "issuer": "LSP Koperasi Jasa Keuangan",
        "number": "LSP-KJK/2026/000777",
        "issued_on": TODAY.isoformat(),
        "expires_on": (TODAY + dt.timedelta(days=3 * 365)).isoformat(),
    }
    bad = client.post(
        f"/pengurus/pelatihan/peserta/{enrolment.id}/sertifikat",
        data={**certificate, "scan": (io.BytesIO(b"<html>not a scan</html>"), "scan.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 415 and db.session.scalar(select(Certificate.id)) is None
    response = client.post(
        f"/pengurus/pelatihan/peserta/{enrolment.id}/sertifikat",
        data={**certificate, "scan": (io.BytesIO(png_bytes()), "sertifikat.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    recorded = db.session.scalar(select(Certificate))
    assert recorded.scan is not None and recorded.status.value == "pending"
    own = client.get(f"/pengurus/sertifikat/{recorded.id}").get_data(as_text=True)
    assert 'data-testid="needs-other"' in own  # the recorder does not verify it
    response = client.post(
        f"/pengurus/sertifikat/{recorded.id}/putuskan",
        data={"csrf_token": token, "action": "verify"},
        follow_redirects=True,
    )
    assert "tidak dapat memverifikasinya sendiri" in response.get_data(as_text=True)

    login_as("pengurus")
    page = client.get(f"/pengurus/sertifikat/{recorded.id}").get_data(as_text=True)
    assert 'data-testid="verify"' in page
    response = client.post(
        f"/pengurus/sertifikat/{recorded.id}/putuskan",
        data={"csrf_token": csrf_from(page), "action": "verify"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Certificate, recorded.id).status.value == "verified"
    assert client.get(f"/sertifikat/{recorded.id}/berkas").status_code == 200
    login_as("pengawas")
    assert client.get(f"/sertifikat/{recorded.id}/berkas").status_code == 200
    token = csrf_from(client.get(f"/pengurus/sertifikat/{recorded.id}").get_data(as_text=True))
    refused = client.post(
        f"/pengurus/sertifikat/{recorded.id}/putuskan",
        data={"csrf_token": token, "action": "verify"},
    )
    assert refused.status_code == 403
    assert organiser.id


def test_the_scan_is_private_to_its_holder_and_the_board(client, login_as, make_user):
    holder_login = make_user("anggota")
    holder = make_member("pengemudi", user=holder_login)
    certificate = services.record_certificate(
        holder,
        services.CertificateInput(scheme="P3K", issuer="PMI", number="PMI-1", issued_on=TODAY),
        by_user=None,
        scan_upload=(png_bytes(), "p3k.png"),
    )
    db.session.commit()
    login_as(user=holder_login)
    response = client.get(f"/sertifikat/{certificate.id}/berkas")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "private, no-store"
    profile = client.get("/anggota/profil").get_data(as_text=True)
    assert "P3K" in profile and "Menunggu verifikasi" in profile
    own_data = client.get("/anggota/profil/data.json").get_json()
    assert own_data["training"]["certificates"][0]["number"] == "PMI-1"
    assert 'data-testid="training-link"' in client.get("/anggota").get_data(as_text=True)
    stranger = login_as("anggota")
    make_member("kurir", user=stranger)
    db.session.commit()
    assert client.get(f"/sertifikat/{certificate.id}/berkas").status_code == 404
    login_as("partner")
    assert client.get(f"/sertifikat/{certificate.id}/berkas").status_code == 403


def test_a_certificate_brought_by_an_officer_login(client, login_as, make_user):
    login_as("pengurus")
    manager = make_user("pengurus", email="manajer@test.kmp.id", full_name="Manajer Baru")
    page = client.get("/pengurus/sertifikat/baru").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "holder": "tidak-ada",
        "scheme": "Manajer Koperasi",
        "issuer": "LSP Koperasi Jasa Keuangan",
        "number": "M-1",
        "issued_on": TODAY.isoformat(),
    }
    refused = client.post("/pengurus/sertifikat/baru", data=data)
    assert refused.status_code == 422 and "Tidak ada anggota" in refused.get_data(as_text=True)
    data["holder"] = "manajer@test.kmp.id"
    response = client.post("/pengurus/sertifikat/baru", data=data)
    assert response.status_code == 303
    certificate = db.session.scalar(select(Certificate))
    assert certificate.user_id == manager.id and certificate.member_id is None
    assert certificate.expires_on is None
