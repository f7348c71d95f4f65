"""A platform company's savings through its logins (found by the whole-year journey): every
staff login sees the company's savings; only its representative pays or withdraws."""

from __future__ import annotations

import pytest

from kmp.extensions import db
from members.register.services import new_request_token
from members.savings.deposits import record_receipt
from tests.conftest import csrf_from
from tests.factories import company_member
from tests.integration.governance_factories import ensure_ad


@pytest.fixture
def company(make_user):
    ensure_ad()
    member, staff = company_member("PT Ojek Nusantara", staff=2)
    db.session.commit()
    record_receipt(
        member,
        purpose="sukarela",
        amount_idr=300_000,
        method="bank",
        by_user=make_user("bendahara"),
        request_token=new_request_token(),
    )
    db.session.commit()
    return member, staff[0], staff[1]


def _withdraw(client, amount="100.000"):
    page = client.get("/anggota/simpanan")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = csrf_from(html)
    form_token = html.split('name="token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/anggota/simpanan/tarik",
        data={"csrf_token": token, "token": form_token, "amount": amount, "note": "operasional"},
    )


def test_every_staff_login_sees_the_company_savings(client, login_as, company):
    member, rep, other = company
    for user in (rep, other):
        login_as(user=user)
        page = client.get(f"/mitra/{member.id}").get_data(as_text=True)
        assert 'data-testid="balance-sukarela"' in page and "300.000" in page
        assert client.get("/anggota/simpanan").status_code == 200
        assert client.get("/buku-besar/saya").status_code == 200


def test_only_the_representative_moves_the_company_money(client, login_as, company):
    from members.savings.models import SukarelaWithdrawal

    member, rep, other = company
    login_as(user=other)
    refused = _withdraw(client)
    assert refused.status_code == 403
    assert db.session.query(SukarelaWithdrawal).count() == 0
    login_as(user=rep)
    accepted = _withdraw(client)
    assert accepted.status_code in (302, 303), accepted.get_data(as_text=True)[:400]
    (withdrawal,) = db.session.query(SukarelaWithdrawal).all()
    assert withdrawal.member_id == member.id and withdrawal.amount_idr == 100_000
