"""The bendahara's counter page shows what the member owes and has paid ahead: the open wajib
bills and the advance credit the next bills take (issue 16: an advance credit is shown to the
member and to the bendahara; found by the whole-year journey)."""

from __future__ import annotations

import pytest

from kmp.extensions import db
from members.register.services import new_request_token
from members.savings.deposits import record_receipt
from tests.integration.members_support import apply_member
from tests.integration.savings_support import active_member, bill_months


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


def test_the_counter_shows_open_bills_and_advance_credit(client, login_as, board):
    behind = active_member(1, *board)
    ahead = active_member(2, *board)
    months = bill_months(2)
    record_receipt(
        ahead,
        purpose="wajib",
        amount_idr=100_000,  # two bills and two months ahead
        method="cash",
        by_user=board[0],
        request_token=new_request_token(),
    )
    db.session.commit()
    login_as(user=board[0])
    page = client.get(f"/pengurus/anggota/{behind.id}/setoran").text
    assert 'data-testid="counter-bills"' in page and "50.000" in page
    assert all(m.strftime("%Y-%m") in page for m in months)
    assert 'data-testid="counter-advance"' not in page
    page = client.get(f"/pengurus/anggota/{ahead.id}/setoran").text
    assert 'data-testid="counter-bills"' not in page
    assert 'data-testid="counter-advance"' in page and "Rp 50.000" in page


def test_an_applicant_has_neither(client, login_as, board):
    applicant = apply_member(3)
    login_as(user=board[0])
    page = client.get(f"/pengurus/anggota/{applicant.id}/setoran")
    assert page.status_code == 200
    assert 'data-testid="counter-bills"' not in page.text
    assert 'data-testid="counter-advance"' not in page.text
    login_as("anggota")
    assert client.get(f"/pengurus/anggota/{applicant.id}/setoran").status_code == 403
