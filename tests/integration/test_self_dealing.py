"""Issue 16, must-show 8: nobody records or approves a money movement into their own member
account; with one bendahara, that bendahara's own sukarela withdrawal is approved by another
pengurus (or the pengawas, when the AD says so), and every refusal names who can."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.auth import grant_role
from kmp.errors import Forbidden
from kmp.extensions import db
from kmp.ledger.queries import check_ledger
from members.register.services import new_request_token
from members.savings import withdrawals
from members.savings.deposits import record_receipt
from members.savings.models import Receipt, SukarelaWithdrawal, WithdrawalStatus
from tests.integration.governance_factories import set_ad
from tests.integration.members_support import admit, apply_member


@pytest.fixture
def treasurer(make_user):
    """The cooperative's only bendahara is also a member with Rp 100.000 sukarela."""
    pengurus = make_user("pengurus", full_name="Pak Pengurus")
    member = admit(apply_member(1, full_name="Bu Bendahara"), pengurus, pengurus)
    grant_role(member.user, "bendahara")
    record_receipt(
        member,
        purpose="sukarela",
        amount_idr=100_000,
        method="cash",
        by_user=pengurus,
        request_token=new_request_token(),
    )
    db.session.commit()
    return member, member.user, pengurus


def _receipts() -> int:
    return db.session.scalar(select(func.count()).select_from(Receipt))


def _receipt_form(client, csrf_token, member, **data):
    path = f"/pengurus/anggota/{member.id}/setoran"
    page = client.get(path)
    token = csrf_token("/akun")
    form = {
        "csrf_token": token,
        "purpose": "sukarela",
        "amount": "50.000",
        "method": "cash",
        "token": new_request_token(),
        "received_on": "2026-01-05",
        **data,
    }
    return page, client.post(path, data=form)


def test_a_bendahara_cannot_record_cash_into_their_own_account(
    client, login_as, csrf_token, treasurer, make_user
):
    member, own_login, pengurus = treasurer
    other = make_user("bendahara", full_name="Bu Bendahara Dua")
    login_as(user=own_login)
    before = _receipts()
    page, post = _receipt_form(client, csrf_token, member)
    assert page.status_code == 403 and post.status_code == 403
    text = post.get_data(as_text=True)
    assert "rekening simpanan Anda sendiri" in text and "Bu Bendahara Dua" in text
    assert _receipts() == before
    # the other bendahara records it
    login_as(user=other)
    page, post = _receipt_form(client, csrf_token, member)
    assert page.status_code == 200 and post.status_code == 303, post.get_data(as_text=True)
    assert _receipts() == before + 1
    # a pengurus may not while a bendahara can
    login_as(user=pengurus)
    page, post = _receipt_form(client, csrf_token, member)
    assert post.status_code == 403 and "Bu Bendahara Dua" in post.get_data(as_text=True)


def test_with_one_bendahara_another_pengurus_records_their_cash(
    client, login_as, csrf_token, treasurer
):
    member, _own, pengurus = treasurer
    login_as(user=pengurus)
    before = _receipts()
    page, post = _receipt_form(client, csrf_token, member)
    assert page.status_code == 200 and post.status_code == 303, post.get_data(as_text=True)
    assert _receipts() == before + 1
    assert check_ledger().ok


def test_self_approval_is_refused_and_names_who_can(treasurer):
    member, own_login, _pengurus = treasurer
    row = withdrawals.request_withdrawal(
        member, 40_000, by_user=own_login, request_token=new_request_token()
    )
    db.session.commit()
    for decide in (
        lambda: withdrawals.approve_withdrawal(row, own_login, method="cash"),
        lambda: withdrawals.reject_withdrawal(row, own_login, "tidak"),
    ):
        with pytest.raises(Forbidden) as refused:
            decide()
        db.session.rollback()
        assert "rekening simpanan Anda sendiri" in refused.value.message
        assert "Pak Pengurus" in refused.value.message  # no other bendahara: the pengurus can
    assert db.session.get(SukarelaWithdrawal, row.id).status is WithdrawalStatus.REQUESTED


def test_the_single_bendahara_withdrawal_is_approved_by_another_pengurus(
    client, login_as, csrf_token, treasurer
):
    member, own_login, pengurus = treasurer
    login_as(user=own_login)
    token = csrf_token("/anggota/simpanan")
    asked = client.post(
        "/anggota/simpanan/tarik",
        data={"csrf_token": token, "amount": "40.000", "token": new_request_token()},
    )
    assert asked.status_code == 303
    row = db.session.scalar(select(SukarelaWithdrawal))
    # the bendahara sees who can decide instead of the buttons
    queue = client.get("/pengurus/simpanan/penarikan").get_data(as_text=True)
    assert f'data-testid="approve-{row.id}"' not in queue
    assert f'data-testid="who-decides-{row.id}"' in queue and "Pak Pengurus" in queue
    refused = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/setujui",
        data={"csrf_token": csrf_token("/akun"), "method": "cash"},
    )
    assert refused.status_code == 403
    login_as(user=pengurus)
    queue = client.get("/pengurus/simpanan/penarikan").get_data(as_text=True)
    assert f'data-testid="approve-{row.id}"' in queue
    done = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/setujui",
        data={"csrf_token": csrf_token("/akun"), "method": "cash"},
    )
    assert done.status_code == 303
    db.session.expire_all()
    paid = db.session.get(SukarelaWithdrawal, row.id)
    assert paid.status is WithdrawalStatus.PAID and paid.decided_by_id == pengurus.id
    assert withdrawals.sukarela_balance(member) == 60_000
    assert check_ledger().ok


def test_a_pengurus_cannot_step_in_while_another_bendahara_can(treasurer, make_user):
    member, own_login, pengurus = treasurer
    make_user("bendahara", full_name="Bu Bendahara Dua")
    row = withdrawals.request_withdrawal(
        member, 10_000, by_user=own_login, request_token=new_request_token()
    )
    db.session.commit()
    with pytest.raises(Forbidden) as refused:
        withdrawals.approve_withdrawal(row, pengurus, method="cash")
    db.session.rollback()
    assert "Bu Bendahara Dua" in refused.value.message


def test_the_pengawas_decides_only_when_the_ad_says_so(treasurer, make_user):
    member, own_login, pengurus = treasurer
    pengawas = make_user("pengawas", full_name="Ibu Pengawas")
    row = withdrawals.request_withdrawal(
        member, 10_000, by_user=own_login, request_token=new_request_token()
    )
    db.session.commit()
    with pytest.raises(Forbidden) as refused:
        withdrawals.approve_withdrawal(row, pengawas, method="cash")
    db.session.rollback()
    assert "Pak Pengurus" in refused.value.message and "Ibu Pengawas" not in refused.value.message
    set_ad(pengawas_decide_without_bendahara=True)
    db.session.commit()
    paid = withdrawals.approve_withdrawal(row, pengawas, method="bank", reference="TRF-9")
    db.session.commit()
    assert paid.status is WithdrawalStatus.PAID
