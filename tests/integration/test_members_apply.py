"""The public application (issue 4, "Must show" 2): happy paths and every refusal."""

import pytest
from sqlalchemy import func, select

from kmp import errors
from kmp.auth import Role, User
from kmp.extensions import db
from members.ad import services as ad_services
from members.register import services as register_services
from members.register.models import Member, MemberKind, MemberStaff
from members.register.states import MemberStatus
from tests.integration.members_support import (
    apply_member,
    valid_nik,
)


def _counts():
    return (
        db.session.scalar(select(func.count()).select_from(Member)),
        db.session.scalar(select(func.count()).select_from(User)),
    )


def _form(**overrides):
    data = {
        "full_name": "Agus Pratama",
        "nik": "3174011505900001",
        "phone": "0812 3456 7890",
        "email": "",
        "address": "Jl. Melati 7, Jakarta",
        "platform": "gojek",
        "platform_worker_id": "gjk-12345",
        "password": "rahasia-12345",
        "confirm": "rahasia-12345",
        "consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_group_choice_page_lists_active_groups(client):
    html = client.get("/daftar").get_data(as_text=True)
    for code in ("pengemudi", "kurir", "pengguna", "platform"):
        assert f'data-testid="apply-group-{code}"' in html
    assert "Rp 100.000" in html and "Rp 10.000.000" in html
    assert client.get("/daftar/tidak-ada").status_code == 404


def test_driver_applies_logs_in_and_sees_next_steps(client, csrf_token):
    page = client.get("/daftar/pengemudi").get_data(as_text=True)
    assert 'data-testid="apply-submit"' in page and 'name="platform_worker_id"' in page
    token = csrf_token("/daftar/pengemudi")
    response = client.post("/daftar/pengemudi", data={**_form(), "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/anggota/langkah"
    html = client.get("/anggota/langkah").get_data(as_text=True)
    assert 'data-testid="next-steps"' in html
    assert 'data-status="applied"' in html
    assert "Bayar simpanan pokok Rp 100.000" in html
    assert "Tunggu persetujuan pengurus" in html
    assert client.get("/beranda").headers["Location"] == "/anggota"
    assert 'data-testid="next-steps"' in client.get("/anggota").get_data(as_text=True)
    member = db.session.scalar(select(Member))
    assert member.status is MemberStatus.APPLIED and member.member_no is None
    assert member.phone == "+6281234567890"
    assert member.platform_worker_id == "GJK-12345"
    assert (
        member.consent_at is not None
        and member.consent_version == register_services.PRIVACY_VERSION
    )
    assert member.ad_version_id == ad_services.current_ad().version_id
    assert member.user.has_role(Role.ANGGOTA) and member.user.phone == "+6281234567890"
    assert member.birth_date.isoformat() == "1990-05-15"


def test_service_user_needs_no_platform(client, csrf_token):
    token = csrf_token("/daftar/pengguna")
    page = client.get("/daftar/pengguna").get_data(as_text=True)
    assert 'name="platform_worker_id"' not in page
    response = client.post(
        "/daftar/pengguna",
        data={**_form(platform=None, platform_worker_id=None), "csrf_token": token},
    )
    assert response.status_code == 302


REFUSALS = {
    "NIK too short": ({"nik": "31740115059001"}, "nik", "NIK harus 16 angka"),
    "NIK bad province": ({"nik": "9974011505900001"}, "nik", "kode provinsi 99"),
    "NIK bad birth date": ({"nik": "3174013102900001"}, "nik", "tanggal lahir"),
    "phone not Indonesian": ({"phone": "12345"}, "phone", "Nomor HP tidak valid"),
    "missing consent": ({"consent": None}, "consent", "menyetujui pernyataan privasi"),
    "driver without platform": ({"platform": ""}, "platform", "Pilih platform"),
    "driver without worker ID": ({"platform_worker_id": ""}, "platform_worker_id", "ID mitra"),
    "weak password": ({"password": "pendek", "confirm": "pendek"}, "password", "minimal 10"),
    "passwords differ": ({"confirm": "rahasia-99999"}, "confirm", "tidak sama"),
    "bad email": ({"email": "bukan-email"}, "email", "email tidak valid"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refusals_write_nothing(client, csrf_token, case):
    overrides, _field, words = REFUSALS[case]
    before = _counts()
    token = csrf_token("/daftar/pengemudi")
    response = client.post("/daftar/pengemudi", data={**_form(**overrides), "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert words.lower() in html.lower(), html
    assert _counts() == before
    with client.session_transaction() as session:
        assert "_user_id" not in session


DUPLICATES = {
    "NIK": (
        {"phone": "0813 0000 0001", "platform_worker_id": "OTHER-1"},
        "NIK ini sudah terdaftar",
    ),
    "phone in another format": (
        {"nik": valid_nik(77), "phone": "+62 812-3456-7890", "platform_worker_id": "OTHER-2"},
        "Nomor HP ini sudah terdaftar",
    ),
    "platform worker ID": (
        {"nik": valid_nik(78), "phone": "0813 0000 0003", "platform_worker_id": "GJK-12345"},
        "ID mitra GJK-12345 di Gojek sudah terdaftar",
    ),
}


@pytest.mark.parametrize("case", DUPLICATES, ids=list(DUPLICATES))
def test_duplicates_are_refused_with_a_clear_message(client, csrf_token, case):
    apply_member(
        1,
        nik="3174011505900001",
        phone="081234567890",
        platform="gojek",
        platform_worker_id="GJK-12345",
    )
    overrides, words = DUPLICATES[case]
    before = _counts()
    token = csrf_token("/daftar/pengemudi")
    response = client.post("/daftar/pengemudi", data={**_form(**overrides), "csrf_token": token})
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert _counts() == before


def test_same_worker_id_on_another_platform_is_fine():
    apply_member(1, platform="gojek", platform_worker_id="A-1")
    member = apply_member(2, platform="grab", platform_worker_id="A-1")
    assert member.id


def test_phone_of_an_existing_login_is_refused(make_user):
    make_user("pengurus", phone="081299990000")
    with pytest.raises(errors.DomainError, match="Nomor HP ini sudah terdaftar") as caught:
        apply_member(5, phone="0812-9999-0000")
    assert caught.value.field == "phone"


def test_service_refuses_unknown_or_inactive_group():
    with pytest.raises(errors.DomainError, match="Kelompok anggota tidak dikenal"):
        apply_member(3, group="nelayan")
    with pytest.raises(errors.DomainError, match="bukan untuk kelompok"):
        apply_member(3, group="platform")


def _company_form(**overrides):
    data = {
        "company_name": "PT Ojek Nusantara",
        "nib": "9120001234567",
        "npwp": "01.234.567.8-901.000",
        "address": "Jl. Sudirman 1, Jakarta",
        "platform": "lainnya",
        "email": "rina@ojek.example",
        "representative_name": "Rina",
        "representative_nik": "3174015806860011",
        "representative_phone": "0812 7000 1000",
        "password": "rahasia-12345",
        "confirm": "rahasia-12345",
        "consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_platform_company_applies_as_legal_entity(client, csrf_token):
    token = csrf_token("/daftar/platform")
    response = client.post("/daftar/platform", data={**_company_form(), "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    member = db.session.scalar(select(Member))
    assert member.kind is MemberKind.COMPANY and member.is_extraordinary
    assert (member.nib, member.npwp) == ("9120001234567", "012345678901000")
    assert member.nik is None and member.representative_nik == "3174015806860011"
    assert member.user.has_role(Role.PARTNER) and not member.user.has_role(Role.ANGGOTA)
    staff = db.session.scalar(select(MemberStaff))
    assert staff.user_id == member.user_id and staff.is_representative
    html = client.get("/anggota/langkah").get_data(as_text=True)
    assert "Rp 10.000.000" in html
    assert client.get("/beranda").headers["Location"] == "/mitra"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"nib": "12345"}, "NIB harus 13 angka"),
        ({"npwp": "123"}, "NPWP harus 15 atau 16 angka"),
        ({"representative_nik": "123"}, "NIK harus 16 angka"),
        ({"consent": None}, "menyetujui pernyataan privasi"),
    ],
)
def test_company_refusals_write_nothing(client, csrf_token, overrides, words):
    before = _counts()
    token = csrf_token("/daftar/platform")
    response = client.post(
        "/daftar/platform", data={**_company_form(**overrides), "csrf_token": token}
    )
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert _counts() == before


def test_duplicate_nib_is_refused(client, csrf_token):
    token = csrf_token("/daftar/platform")
    client.post("/daftar/platform", data={**_company_form(), "csrf_token": token})
    client.post("/keluar", data={"csrf_token": csrf_token("/anggota/langkah")})
    before = _counts()
    token = csrf_token("/daftar/platform")
    response = client.post(
        "/daftar/platform",
        data={
            **_company_form(email="lain@ojek.example", representative_phone="0812 7000 2000"),
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    assert "NIB ini sudah terdaftar" in response.get_data(as_text=True)
    assert _counts() == before


def test_applications_are_rate_limited(app, client, csrf_token, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_APPLY_RATE_LIMIT", "2 per hour")
    token = csrf_token("/daftar/pengemudi")
    data = {**_form(consent=None), "csrf_token": token}
    statuses = [client.post("/daftar/pengemudi", data=data).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
