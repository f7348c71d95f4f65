"""Simpanan sukarela withdrawals (issue 5, Must-show 5): balance check, maker-checker,
concurrent approvals on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from kmp.errors import DomainError, Forbidden
from kmp.extensions import db
from kmp.ledger.models import JournalEntry
from kmp.ledger.queries import check_ledger
from members.register.services import new_request_token
from members.savings import withdrawals
from members.savings.deposits import record_receipt
from members.savings.models import SukarelaWithdrawal, WithdrawalStatus
from tests.conftest import csrf_from
from tests.integration.savings_support import active_member, login_member


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


@pytest.fixture
def saver(board):
    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus)
    record_receipt(
        member,
        purpose="sukarela",
        amount_idr=100_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    db.session.commit()
    return member


def _request(member, amount, by_user):
    row = withdrawals.request_withdrawal(
        member, amount, by_user=by_user, request_token=new_request_token()
    )
    db.session.commit()
    return row


def test_a_withdrawal_larger_than_the_balance_is_refused(saver):
    with pytest.raises(DomainError, match="melebihi saldo"):
        withdrawals.request_withdrawal(
            saver, 100_001, by_user=saver.user, request_token=new_request_token()
        )
    db.session.rollback()
    _request(saver, 60_000, saver.user)
    # what is waiting counts against the available balance
    assert withdrawals.available_idr(saver) == 40_000
    with pytest.raises(DomainError, match="Rp 40.000"):
        withdrawals.request_withdrawal(
            saver, 50_000, by_user=saver.user, request_token=new_request_token()
        )
    db.session.rollback()
    for bad in (0, -5, 1.5, True):
        with pytest.raises(DomainError):
            withdrawals.request_withdrawal(
                saver, bad, by_user=saver.user, request_token=new_request_token()
            )
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SukarelaWithdrawal)) == 1


def test_the_requester_cannot_approve_their_own_withdrawal(saver, board, make_user):
    bendahara, _ = board
    # a bendahara asks on the member's behalf: another bendahara must decide
    row = _request(saver, 30_000, bendahara)
    with pytest.raises(Forbidden, match="bendahara lain"):
        withdrawals.approve_withdrawal(row, bendahara, method="cash")
    db.session.rollback()
    with pytest.raises(Forbidden):
        withdrawals.reject_withdrawal(row, bendahara, "tidak")
    db.session.rollback()
    # the member's own login can never decide either
    own = _request(saver, 10_000, saver.user)
    with pytest.raises(Forbidden):
        withdrawals.approve_withdrawal(own, saver.user, method="cash")
    db.session.rollback()
    other = make_user("bendahara")
    paid = withdrawals.approve_withdrawal(row, other, method="bank", reference="TRF-1")
    db.session.commit()
    assert paid.status is WithdrawalStatus.PAID and paid.entry_id is not None
    assert withdrawals.sukarela_balance(saver) == 70_000
    with pytest.raises(DomainError, match="sudah diputuskan"):
        withdrawals.approve_withdrawal(row, other, method="cash")
    db.session.rollback()
    with pytest.raises(DomainError, match="Alasan"):
        withdrawals.reject_withdrawal(own, other, "  ")
    rejected = withdrawals.reject_withdrawal(own, other, "Data rekening belum lengkap")
    db.session.commit()
    assert rejected.status is WithdrawalStatus.REJECTED
    assert withdrawals.sukarela_balance(saver) == 70_000
    assert check_ledger().ok


def test_approval_refused_when_the_balance_fell_meanwhile(saver, make_user):
    from kmp.ledger.chart import CASH, member_account_code
    from kmp.ledger.services import post_entry

    row = _request(saver, 70_000, saver.user)
    # money left the account after the request (e.g. a correction by the board)
    post_entry(
        idempotency_key="koreksi-1",
        description="Koreksi",
        lines=[(member_account_code("sukarela", saver.member_no), 50_000), (CASH, -50_000)],
        source_kind="correction",
    )
    db.session.commit()
    with pytest.raises(DomainError, match="tidak cukup"):
        withdrawals.approve_withdrawal(row, make_user("bendahara"), method="cash")
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(SukarelaWithdrawal, row.id).status is WithdrawalStatus.REQUESTED
    assert withdrawals.sukarela_balance(saver) == 50_000


@pytest.mark.postgres
def test_two_concurrent_approvals_exceeding_the_balance_cannot_both_succeed(app, saver, make_user):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    # two requests of Rp 70.000 each against Rp 100.000, created before either is decided
    # (rows inserted directly: the request-time check would refuse the second)
    rows = []
    for _ in range(2):
        row = SukarelaWithdrawal(
            member_id=saver.id,
            amount_idr=70_000,
            request_token=new_request_token(),
            requested_by_id=saver.user_id,
        )
        db.session.add(row)
        rows.append(row)
    approvers = [make_user("bendahara"), make_user("bendahara")]
    db.session.commit()
    ids = [r.id for r in rows]
    approver_ids = [a.id for a in approvers]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(i: int) -> None:
        with app.app_context():
            try:
                row = db.session.get(SukarelaWithdrawal, ids[i])
                barrier.wait(timeout=30)
                withdrawals.approve_withdrawal(row, approver_ids[i], method="cash")
                db.session.commit()
                outcome = "ok"
            except DomainError as error:
                db.session.rollback()
                outcome = "refused" if "tidak cukup" in error.message else repr(error)
            except Exception as error:  # noqa: BLE001 - reported below
                db.session.rollback()
                outcome = repr(error)
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok", "refused"], outcomes
    db.session.expire_all()
    assert withdrawals.sukarela_balance(saver) == 30_000
    statuses = sorted(db.session.get(SukarelaWithdrawal, i).status.value for i in ids)
    assert statuses == ["paid", "requested"]
    paid = db.session.scalar(
        select(func.count())
        .select_from(JournalEntry)
        .where(JournalEntry.source_kind == "sukarela_withdrawal")
    )
    assert paid == 1
    assert check_ledger().ok


@pytest.mark.postgres
def test_the_same_withdrawal_approved_twice_concurrently_is_paid_once(app, saver, make_user):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    row = _request(saver, 40_000, saver.user)
    approver_ids = [make_user("bendahara").id, make_user("bendahara").id]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(i: int) -> None:
        with app.app_context():
            try:
                target = db.session.get(SukarelaWithdrawal, row.id)
                barrier.wait(timeout=30)
                withdrawals.approve_withdrawal(target, approver_ids[i], method="cash")
                db.session.commit()
                outcomes.append("ok")
            except DomainError as error:
                db.session.rollback()
                outcomes.append("decided" if "sudah diputuskan" in error.message else repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["decided", "ok"], outcomes
    db.session.expire_all()
    assert withdrawals.sukarela_balance(saver) == 60_000


def test_withdrawal_pages(client, saver, make_user, login_as, csrf_token):
    login_member(client, saver)
    page = client.get("/anggota/simpanan").get_data(as_text=True)
    token = csrf_from(page)
    too_much = client.post(
        "/anggota/simpanan/tarik",
        data={"csrf_token": token, "amount": "200.000", "token": new_request_token()},
    )
    assert too_much.status_code == 422 and "melebihi saldo" in too_much.get_data(as_text=True)
    garbage = client.post(
        "/anggota/simpanan/tarik",
        data={"csrf_token": token, "amount": "banyak", "token": new_request_token()},
    )
    assert garbage.status_code == 422
    ok = client.post(
        "/anggota/simpanan/tarik",
        data={"csrf_token": token, "amount": "25.000", "token": new_request_token()},
    )
    assert ok.status_code == 303
    row = db.session.scalar(select(SukarelaWithdrawal))
    assert row.amount_idr == 25_000 and row.requested_by_id == saver.user_id
    # a pengurus (not bendahara) sees the queue but cannot decide
    login_as("pengurus")
    queue = client.get("/pengurus/simpanan/penarikan")
    assert queue.status_code == 200 and saver.member_no in queue.get_data(as_text=True)
    token = csrf_token("/pengurus/simpanan/penarikan?status=all")
    denied = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/setujui",
        data={"csrf_token": token, "method": "cash"},
    )
    assert denied.status_code == 403
    bendahara = make_user("bendahara")
    login_as(user=bendahara)
    page = client.get("/pengurus/simpanan/penarikan").get_data(as_text=True)
    assert f'data-testid="approve-{row.id}"' in page
    token = csrf_from(page)
    no_reason = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/tolak", data={"csrf_token": token, "reason": ""}
    )
    assert no_reason.status_code == 422
    bad_method = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/setujui",
        data={"csrf_token": token, "method": "emas"},
    )
    assert bad_method.status_code == 422
    done = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/setujui",
        data={"csrf_token": token, "method": "cash"},
    )
    assert done.status_code == 303
    db.session.expire_all()
    assert withdrawals.sukarela_balance(saver) == 75_000
    again = client.post(
        f"/pengurus/simpanan/penarikan/{row.id}/setujui",
        data={"csrf_token": token, "method": "cash"},
    )
    assert again.status_code == 409
    missing = client.post("/pengurus/simpanan/penarikan/999/setujui", data={"csrf_token": token})
    assert missing.status_code == 404
