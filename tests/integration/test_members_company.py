"""A platform company with two staff logins (issue 4, "Must show" 6)."""

import pytest
from sqlalchemy import func, select

from kmp import errors
from kmp.auth import Role, User
from kmp.extensions import db
from members.register import queries as register_queries
from members.register import services as register_services
from members.register.models import MemberStaff


def _company(n: int, name: str):
    member = register_services.apply_company(
        register_services.CompanyApplication(
            company_name=name,
            nib=f"91200012345{n:02d}",
            npwp="012345678901000",
            address="Jl. Sudirman 1",
            representative_name=f"Perwakilan {n}",
            representative_nik=f"31740158068600{n:02d}",
            representative_phone=f"08127000{n:04d}",
            password="rahasia-12345",
            consent=True,
            email=f"rep{n}@company.example",
            platform="lainnya",
        )
    )
    db.session.commit()
    return member


def test_two_staff_logins_see_their_company_and_not_another(client, login_as, make_user):
    ojek = _company(1, "PT Ojek Nusantara")
    kurir = _company(2, "PT Kurir Kilat")
    second = register_services.add_company_staff(
        ojek,
        full_name="Dimas",
        password="rahasia-12345",
        by_user=make_user("pengurus"),
        email="dimas@ojek.example",
        title="Staf",
    )
    db.session.commit()
    assert second.user.has_role(Role.PARTNER)
    for user in (ojek.user, second.user):
        login_as(user=user)
        assert client.get("/beranda").headers["Location"] == "/mitra"
        response = client.get("/mitra")
        assert response.headers["Location"] == f"/mitra/{ojek.id}"
        html = client.get(f"/mitra/{ojek.id}").get_data(as_text=True)
        assert 'data-testid="company-name">PT Ojek Nusantara' in html
        assert "Dimas" in html and "Perwakilan 1" in html
        assert client.get(f"/mitra/{kurir.id}").status_code == 403
        assert register_queries.member_for_user(user).id == ojek.id
    login_as(user=kurir.user)
    assert client.get(f"/mitra/{ojek.id}").status_code == 403
    assert client.get(f"/mitra/{kurir.id}").status_code == 200


@pytest.mark.parametrize("role", ["anggota", "pengurus", "pengawas", "admin"])
def test_company_page_is_for_partner_logins_only(client, login_as, role):
    company = _company(1, "PT Ojek Nusantara")
    login_as(role)
    assert client.get(f"/mitra/{company.id}").status_code == 403
    assert client.get("/mitra").status_code == 403


def test_partner_without_company(client, login_as):
    login_as("partner")
    assert client.get("/mitra").status_code == 404


def test_board_adds_a_staff_login(client, login_as, csrf_token):
    company = _company(1, "PT Ojek Nusantara")
    login_as("pengurus")
    token = csrf_token(f"/pengurus/anggota/{company.id}")
    response = client.post(
        f"/pengurus/anggota/{company.id}/staf",
        data={
            "csrf_token": token,
            "staff-full_name": "Dimas",
            "staff-email": "dimas@ojek.example",
            "staff-password": "rahasia-12345",
            "staff-title": "Keuangan",
        },
    )
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(MemberStaff)) == 2
    # a duplicate email is refused with a message and nothing written
    response = client.post(
        f"/pengurus/anggota/{company.id}/staf",
        data={
            "csrf_token": token,
            "staff-full_name": "Dimas 2",
            "staff-email": "dimas@ojek.example",
            "staff-password": "rahasia-12345",
        },
        follow_redirects=True,
    )
    assert "Email ini sudah dipakai" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(MemberStaff)) == 2
    assert (
        db.session.scalar(select(func.count()).select_from(User).where(User.full_name == "Dimas 2"))
        == 0
    )


def test_staff_cannot_be_added_to_an_individual(make_user):
    from tests.integration.members_support import apply_member

    member = apply_member(1)
    with pytest.raises(errors.DomainError, match="perusahaan"):
        register_services.add_company_staff(
            member, full_name="X", password="rahasia-12345", by_user=None, email="x@example.com"
        )
