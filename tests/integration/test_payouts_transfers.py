"""SHU payouts by transfer through the fake Iris: maker-checker, failures, duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kmp.auth import Role
from kmp.errors import Forbidden, IllegalTransition
from kmp.extensions import db as _db
from kmp.ledger.chart import BANK, PAYOUT_IN_TRANSIT, member_account_code
from kmp.ledger.queries import balance_of, check_ledger
from kmp.ledger.services import get_account
from kmp.payments.iris import IRIS_SIGNATURE_HEADER, FakeDisburser
from kmp.registry import get_registry
from payouts import posting, services, transfers
from payouts.models import (
    DistributionLine,
    DistributionRun,
    LineStatus,
    PayoutMethod,
    PayoutTransfer,
    RunStatus,
    TransferStatus,
)
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_ballot, shu_member


def _bal(code: str) -> int:
    account = get_account(code)
    return balance_of(account) * account.normal_sign


@pytest.fixture
def fake(app):
    disburser = FakeDisburser("fake-merchant")
    registry = get_registry(app)
    registry.disburser = disburser
    yield disburser
    registry.disburser = None


@pytest.fixture
def posted(make_user):
    maker = make_user(Role.PENGURUS)
    checker = make_user(Role.BENDAHARA)
    members = [
        shu_member("pengemudi", wajib=50_000, trips=10 + i, user=make_user(Role.ANGGOTA))
        for i in range(3)
    ]
    book_surplus(9_000_000)
    _db.session.commit()
    run = services.create_run(fiscal_year())
    services.compute_run(run)
    _db.session.commit()
    shu_ballot(run, members, by_user=maker)
    _db.session.commit()
    run = _db.session.get(DistributionRun, run.id)
    line = transfers.member_line(run, members[0].id)
    transfers.choose_method(line, "transfer")
    posting.post_run(run)
    transfers.pay_sukarela(run)
    _db.session.commit()
    return run, line, members[0], maker, checker


def _notify(client, fake, reference, status):
    note = fake.simulate(reference, status, error_message="rekening tidak aktif")
    return client.post(
        "/shu/iris/notifikasi",
        data=note.body,
        headers={IRIS_SIGNATURE_HEADER: note.signature, "Content-Type": "application/json"},
    )


def test_maker_checker_and_completion(posted, fake, client):
    run, line, member, maker, checker = posted
    payable = member_account_code("shu", member.member_no)
    assert run.status is RunStatus.POSTED  # the transfer line is still open
    assert _bal(payable) == line.total_idr
    transfer = transfers.request_transfer(
        line, bank="bca", account="1234567890", account_name="Budi", by_user=maker
    )
    _db.session.commit()
    assert _bal(payable) == line.total_idr  # nothing moved at request time
    with pytest.raises(Forbidden):
        transfers.approve_transfer(transfer, maker)
    _db.session.rollback()
    assert fake.get is not None and not fake._payouts  # nothing sent
    transfers.approve_transfer(transfer, checker)
    _db.session.commit()
    assert transfer.status is TransferStatus.SUBMITTED and transfer.reference_no
    assert _bal(payable) == 0 and _bal(PAYOUT_IN_TRANSIT) == line.total_idr
    bank_before = _bal(BANK)
    response = _notify(client, fake, transfer.reference_no, "completed")
    assert response.status_code == 200 and response.json["changed"] is True
    again = _notify(client, fake, transfer.reference_no, "completed")
    assert again.status_code == 200 and again.json["changed"] is False
    _db.session.expire_all()
    assert _bal(PAYOUT_IN_TRANSIT) == 0 and _bal(BANK) == bank_before - line.total_idr
    assert _db.session.get(DistributionLine, line.id).status is LineStatus.PAID
    assert _db.session.get(DistributionRun, run.id).status is RunStatus.PAID
    assert check_ledger().ok


def test_failed_transfer_returns_money_and_duplicates_change_nothing(posted, fake, client):
    run, line, member, maker, checker = posted
    payable = member_account_code("shu", member.member_no)
    transfer = transfers.request_transfer(
        line, bank="gopay", account="081234567890", account_name="Budi", by_user=maker
    )
    transfers.approve_transfer(transfer, checker)
    _db.session.commit()
    for _ in range(3):
        response = _notify(client, fake, transfer.reference_no, "failed")
        assert response.status_code == 200
    _db.session.expire_all()
    assert _bal(payable) == line.total_idr
    assert _bal(PAYOUT_IN_TRANSIT) == 0
    transfer = _db.session.get(PayoutTransfer, transfer.id)
    assert transfer.status is TransferStatus.FAILED
    line = _db.session.get(DistributionLine, line.id)
    assert line.status is LineStatus.UNPAID
    assert _db.session.get(DistributionRun, run.id).status is RunStatus.POSTED
    # a new transfer can be tried; the disburser sees a new idempotency key
    retry = transfers.request_transfer(
        line, bank="bca", account="111", account_name="Budi", by_user=checker
    )
    assert retry.idempotency_key != transfer.idempotency_key
    assert check_ledger().ok


def test_bad_signature_is_refused(posted, fake, client):
    response = client.post(
        "/shu/iris/notifikasi",
        data=b'{"reference_no":"x","status":"completed"}',
        headers={IRIS_SIGNATURE_HEADER: "00", "Content-Type": "application/json"},
    )
    assert response.status_code == 401


def test_cannot_pay_twice_or_transfer_a_paid_line(posted, fake):
    run, line, member, maker, checker = posted
    transfers.pay_cash(line, checker)
    _db.session.commit()
    with pytest.raises(IllegalTransition):
        transfers.pay_cash(line, checker)
    with pytest.raises(IllegalTransition):
        transfers.request_transfer(line, bank="bca", account="1", account_name="B", by_user=maker)
    assert run.status is RunStatus.PAID
    others = _db.session.scalars(
        select(DistributionLine).where(DistributionLine.id != line.id)
    ).all()
    assert all(x.method is PayoutMethod.SUKARELA and x.status is LineStatus.PAID for x in others)


def test_maker_checker_through_the_pages(posted, fake, client, login_as, csrf_token):
    run, line, member, maker, checker = posted
    login_as(user=maker)
    path = f"/shu/{run.id}/pembayaran"
    token = csrf_token(path)
    bad = client.post(f"/shu/baris/{line.id}/transfer", data={"csrf_token": token, "bank": "bca"})
    assert bad.status_code == 422 and "Isi nomor rekening" in bad.get_data(as_text=True)
    assert _db.session.scalar(select(PayoutTransfer.id)) is None
    ok = client.post(
        f"/shu/baris/{line.id}/transfer",
        data={"csrf_token": token, "bank": "bca", "account": "123", "account_name": "Budi"},
    )
    assert ok.status_code == 302
    transfer = _db.session.scalars(select(PayoutTransfer)).one()
    same = client.post(f"/shu/transfer/{transfer.id}/setujui", data={"csrf_token": token})
    assert same.status_code == 403 and "pengurus lain" in same.get_data(as_text=True)
    assert not fake._payouts
    login_as(user=checker)
    token = csrf_token(path)
    approved = client.post(f"/shu/transfer/{transfer.id}/setujui", data={"csrf_token": token})
    assert approved.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(PayoutTransfer, transfer.id).status is TransferStatus.SUBMITTED
    assert len(fake._payouts) == 1
    again = client.post(f"/shu/transfer/{transfer.id}/setujui", data={"csrf_token": token})
    assert again.status_code == 409 and len(fake._payouts) == 1


def test_gateway_outage_moves_no_money(posted, app, make_user):
    from kmp.payments.gateway import GatewayError

    class Down:
        def submit(self, item, key):
            raise GatewayError("transient", "timeout")

    run, line, member, maker, checker = posted
    transfer = transfers.request_transfer(
        line, bank="bca", account="1", account_name="Budi", by_user=maker
    )
    _db.session.commit()
    from kmp.errors import DomainError

    with pytest.raises(DomainError) as error:
        transfers.approve_transfer(transfer, checker, disburser=Down())
    assert error.value.status == 503
    _db.session.rollback()
    assert _bal(member_account_code("shu", member.member_no)) == line.total_idr
    assert _db.session.get(PayoutTransfer, transfer.id).status is TransferStatus.REQUESTED
