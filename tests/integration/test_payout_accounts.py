"""Issue 22: a payout account (bank or e-wallet) for withdrawals and SHU; the first is used at
once, a change needs a fresh login code and waits 24 hours; a pending withdrawal can be
cancelled by the member."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from kmp.extensions import db
from kmp.notify import Notification
from kmp.timeutil import now_utc, set_clock
from members.savings import deposits, withdrawals
from members.savings import payout_accounts as accounts
from members.savings.models import SukarelaWithdrawal, WithdrawalStatus
from tests.integration.savings_support import active_member, login_member


def _member(make_user):
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    member = active_member(1, bendahara, pengurus)
    deposits.record_receipt(
        member,
        purpose="sukarela",
        amount_idr=300_000,
        method="cash",
        by_user=bendahara,
        request_token="t-sukarela",  # noqa: S106
    )
    db.session.commit()
    return member


def _post(client, csrf_token, data):
    token = csrf_token("/anggota/rekening-pencairan")
    return client.post("/anggota/rekening-pencairan", data={"csrf_token": token, **data})


def _last_code(member) -> str:
    body = db.session.scalar(
        select(Notification.body)
        .where(Notification.member_id == member.id, Notification.kind == "login_code")
        .order_by(Notification.id.desc())
    )
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_first_account_at_once_a_change_with_a_code_after_24_hours(client, csrf_token, make_user):
    member = _member(make_user)
    login_member(client, member)
    gopay = {"provider": "GOPAY", "number": "0812 3456 7890", "holder_name": "Agus Pratama"}
    response = _post(client, csrf_token, gopay)
    assert response.status_code == 303
    current = accounts.effective_account(member)
    assert (current.provider, current.number) == ("GOPAY", "081234567890")

    bank = {"provider": "BCA", "number": "1234567890", "holder_name": "Agus Pratama"}
    asked = _post(client, csrf_token, bank)  # a change: a code is sent, nothing saved yet
    assert asked.status_code == 200 and 'name="code"' in asked.get_data(as_text=True)
    assert accounts.pending_account(member) is None
    wrong = _post(client, csrf_token, {**bank, "code": "000000"})
    assert wrong.status_code == 422 and accounts.pending_account(member) is None
    assert _post(client, csrf_token, {**bank, "code": _last_code(member)}).status_code == 303
    pending = accounts.pending_account(member)
    assert pending.provider == "BCA"
    assert accounts.effective_account(member).provider == "GOPAY"  # still the old one
    warned = db.session.scalar(
        select(Notification).where(
            Notification.member_id == member.id, Notification.kind == "security_notice"
        )
    )
    assert warned is not None and "24 jam" in warned.body
    later = now_utc() + dt.timedelta(hours=24, minutes=1)
    set_clock(lambda: later)
    try:
        assert accounts.effective_account(member).provider == "BCA"
    finally:
        set_clock(None)


def test_bad_accounts_are_refused_and_nothing_written(client, csrf_token, make_user):
    member = _member(make_user)
    login_member(client, member)
    for data in (
        {"provider": "OVO", "number": "12345", "holder_name": "Agus"},
        {"provider": "BRI", "number": "12ab", "holder_name": "Agus Pratama"},
        {"provider": "XXX", "number": "1234567890", "holder_name": "Agus Pratama"},
        {"provider": "DANA", "number": "081234567890", "holder_name": ""},
    ):
        assert _post(client, csrf_token, data).status_code == 422, data
    assert accounts.accounts_of(member) == []


def test_the_withdrawal_goes_to_the_account_and_the_member_can_cancel_it(
    client, csrf_token, make_user
):
    member = _member(make_user)
    login_member(client, member)
    _post(client, csrf_token, {"provider": "DANA", "number": "081299998888", "holder_name": "Ani"})
    token = csrf_token("/anggota/simpanan")
    client.post(
        "/anggota/simpanan/tarik",
        data={"csrf_token": token, "amount": "100.000", "token": "w-1", "note": ""},
    )
    row = db.session.scalar(select(SukarelaWithdrawal))
    assert row.destination.startswith("DANA") and row.destination.endswith("a.n. Ani")
    assert withdrawals.available_idr(member) == 200_000
    response = client.post(
        f"/anggota/simpanan/penarikan/{row.id}/batal", data={"csrf_token": token}
    )
    assert response.status_code == 303
    db.session.refresh(row)
    assert row.status is WithdrawalStatus.CANCELLED
    assert withdrawals.available_idr(member) == 300_000
    page = client.get("/anggota/simpanan").get_data(as_text=True)
    assert "Dibatalkan" in page


def test_a_decided_withdrawal_cannot_be_cancelled_nor_someone_elses(client, csrf_token, make_user):
    member = _member(make_user)
    bendahara = make_user("bendahara")
    row = withdrawals.request_withdrawal(
        member,
        50_000,
        by_user=member.user,
        request_token="w-2",  # noqa: S106
    )
    withdrawals.reject_withdrawal(row, bendahara, "uji")
    db.session.commit()
    login_member(client, member)
    token = csrf_token("/anggota/simpanan")
    client.post(f"/anggota/simpanan/penarikan/{row.id}/batal", data={"csrf_token": token})
    db.session.refresh(row)
    assert row.status is WithdrawalStatus.REJECTED
    other = active_member(2, bendahara, make_user("pengurus"))
    login_member(client, other)
    token = csrf_token("/anggota/simpanan")
    assert (
        client.post(
            f"/anggota/simpanan/penarikan/{row.id}/batal", data={"csrf_token": token}
        ).status_code
        == 404
    )
