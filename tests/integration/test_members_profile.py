"""The member's profile: contact details, NIK correction via the board, own-data download."""

import json

from sqlalchemy import select

from kmp.extensions import db
from members.register.models import Member, NikCorrection, RequestStatus
from tests.integration.members_support import (
    apply_member,
    valid_nik,
)


def test_member_edits_contact_details_but_not_the_nik(client, login_as, csrf_token):
    member = apply_member(1)
    old_nik = member.nik
    login_as(user=member.user)
    token = csrf_token("/anggota/profil")
    response = client.post(
        "/anggota/profil",
        data={
            "csrf_token": token,
            "phone": "0857 1111 2222",
            "email": "baru@contoh.id",
            "address": "Jl. Baru 2",
            "locale": "en",
            "nik": "3174011505909999",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    member = db.session.get(Member, member.id)
    assert (member.phone, member.email, member.address) == (
        "+6285711112222",
        "baru@contoh.id",
        "Jl. Baru 2",
    )
    assert member.user.phone == "+6285711112222" and member.user.email == "baru@contoh.id"
    assert member.user.locale == "en"
    assert member.nik == old_nik


def test_duplicate_phone_is_refused_and_nothing_changes(client, login_as, csrf_token):
    apply_member(2, phone="085700000002")
    member = apply_member(1)
    login_as(user=member.user)
    token = csrf_token("/anggota/profil")
    response = client.post(
        "/anggota/profil",
        data={
            "csrf_token": token,
            "phone": "085700000002",
            "email": "",
            "address": "x",
            "locale": "id",
        },
    )
    assert response.status_code == 422
    assert "Nomor HP ini sudah terdaftar" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Member, member.id).phone == "+6281200000001"


def test_nik_correction_goes_through_the_board(client, login_as, csrf_token):
    member = apply_member(1)
    login_as(user=member.user)
    new_nik = valid_nik(4321, female=True)
    token = csrf_token("/anggota/profil")
    response = client.post(
        "/anggota/profil/koreksi-nik",
        data={"csrf_token": token, "nik-new_nik": "123", "nik-reason": "salah ketik"},
        follow_redirects=True,
    )
    assert "NIK harus 16 angka" in response.get_data(as_text=True)
    client.post(
        "/anggota/profil/koreksi-nik",
        data={"csrf_token": token, "nik-new_nik": new_nik, "nik-reason": "salah ketik"},
    )
    request = db.session.scalar(select(NikCorrection))
    assert request.status is RequestStatus.PENDING
    db.session.expire_all()
    assert db.session.get(Member, member.id).nik != new_nik
    login_as("pengurus")
    token = csrf_token("/pengurus/koreksi-nik")
    response = client.post(
        f"/pengurus/koreksi-nik/{request.id}",
        data={"csrf_token": token, "action": "approve", "note": ""},
    )
    assert response.status_code == 303
    db.session.expire_all()
    member = db.session.get(Member, member.id)
    assert member.nik == new_nik and str(member.birth_date) == "1990-05-15"
    login_as("pengawas")
    assert client.get("/pengurus/koreksi-nik").status_code == 403


def test_member_downloads_their_own_data(client, login_as):
    member = apply_member(1)
    login_as(user=member.user)
    response = client.get("/anggota/profil/data.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["member"]["nik"] == member.nik and data["member"]["status"] == "applied"
    assert data["login"]["phone"] == member.phone
    assert data["history"][0]["action"] == "applied"
    assert "password" not in response.get_data(as_text=True)


def test_pages_need_a_member_record(client, login_as):
    login_as("anggota")
    assert client.get("/anggota").status_code == 404
    assert client.get("/anggota/profil").status_code == 404
    assert client.get("/anggota/kartu").status_code == 404
    login_as("pengurus")
    assert client.get("/anggota/profil").status_code == 403
