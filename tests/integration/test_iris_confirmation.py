"""Iris payout notifications are confirmed against Iris's own status before money moves
(issue 24): a forged ``failed`` for a completed transfer changes nothing."""

from __future__ import annotations

import json

import pytest

from kmp.extensions import db
from kmp.ledger.chart import BANK, member_account_code
from kmp.ledger.queries import check_ledger
from kmp.payments.iris import (
    IRIS_SIGNATURE_HEADER,
    PayoutNotConfirmed,
    confirm_payout_status,
    sign_iris_notification,
)
from payouts import transfers as services  # request/approve/apply a transfer
from payouts.models import DistributionLine, LineStatus, TransferStatus
from tests.integration.test_payouts_transfers import _bal, fake, posted  # noqa: F401


def _completed_transfer(posted, fake):  # noqa: F811
    _run, line, member, maker, checker = posted
    transfer = services.request_transfer(
        line, bank="bca", account="1234567890", account_name="Budi", by_user=maker
    )
    services.approve_transfer(transfer, checker)
    db.session.commit()
    fake.simulate(transfer.reference_no, "completed")
    reference = transfer.reference_no
    assert services.apply_transfer_status(
        reference, confirm_payout_status(fake, reference, "completed")
    )
    db.session.commit()
    return transfer, line, member


def test_a_forged_failed_notice_on_a_completed_transfer_changes_nothing(posted, fake):  # noqa: F811
    transfer, line, member = _completed_transfer(posted, fake)
    payable = member_account_code("shu", member.member_no)
    bank, owed = _bal(BANK), _bal(payable)
    status = confirm_payout_status(fake, transfer.reference_no, "failed")  # Iris: completed
    assert status == "completed"
    assert services.apply_transfer_status(transfer.reference_no, status) is False
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(DistributionLine, line.id).status is LineStatus.PAID
    assert transfer.status is TransferStatus.COMPLETED
    assert (_bal(BANK), _bal(payable)) == (bank, owed)
    assert check_ledger().ok


def test_a_true_late_return_still_reopens_the_line(posted, fake):  # noqa: F811
    transfer, line, _member = _completed_transfer(posted, fake)
    fake.simulate(transfer.reference_no, "failed")  # the bank really sent it back
    status = confirm_payout_status(fake, transfer.reference_no, "failed")
    assert services.apply_transfer_status(transfer.reference_no, status) is True
    db.session.commit()
    assert db.session.get(DistributionLine, line.id).status is LineStatus.UNPAID


def test_an_unreachable_iris_answers_503_so_the_notice_comes_again(posted, fake):  # noqa: F811
    transfer, _line, _member = _completed_transfer(posted, fake)
    with pytest.raises(PayoutNotConfirmed) as caught:
        confirm_payout_status(fake, "no-such-reference", "failed")
    assert caught.value.status == 503
    assert transfer.status is TransferStatus.COMPLETED


def test_the_webhook_ignores_a_forged_failed_notice(posted, fake, client):  # noqa: F811
    transfer, line, _member = _completed_transfer(posted, fake)
    body = json.dumps(
        {"reference_no": transfer.reference_no, "status": "failed", "amount": "1.00"}
    ).encode()
    response = client.post(
        "/shu/iris/notifikasi",
        data=body,
        headers={
            IRIS_SIGNATURE_HEADER: sign_iris_notification(body, fake.merchant_key),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(DistributionLine, line.id).status is LineStatus.PAID
