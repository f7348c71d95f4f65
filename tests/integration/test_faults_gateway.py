"""Issue 10, must show 6 (part): Midtrans unreachable at checkout. The member gets a clear
message (503), no money moves, and the only thing kept is the attempt marked TOKEN_UNKNOWN that
reconciliation resolves later (no orphaned state); when the gateway is back, paying works."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import responses
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import JournalEntry
from kmp.payments.factory import set_gateway
from kmp.payments.gateway import MidtransGateway, PaymentState
from kmp.payments.models import PaymentAttempt
from kmp.payments.services import reconcile_payments
from kmp.timeutil import now_utc
from members.savings import billing
from tests.conftest import csrf_from
from tests.integration.savings_support import active_member, bill_months, login_member

KEY = "SB-Mid-server-TEST-ONLY-NOT-A-REAL-KEY"
SNAP_URL = "https://app.sandbox.midtrans.com/snap/v1/transactions"
CORE = "https://api.sandbox.midtrans.com"


@pytest.fixture
def midtrans(app):
    set_gateway(app, MidtransGateway(KEY, "SB-Mid-client-TEST-ONLY", False, status_retries=0))
    try:
        with responses.RequestsMock() as mock:
            yield mock
    finally:
        set_gateway(app, None)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _pay(client):
    page = client.get("/anggota/simpanan")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/anggota/simpanan/bayar", data={"csrf_token": token, "purpose": "wajib", "months": "1"}
    )


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ConnectionError("connection refused"), requests.exceptions.ReadTimeout()],
)
def test_gateway_down_at_checkout(client, make_user, midtrans, failure):
    driver = active_member(1, make_user("bendahara"), make_user("pengurus"))
    bill_months(2)
    entries_before = _count(JournalEntry)
    login_member(client, driver)
    midtrans.add(responses.POST, SNAP_URL, body=failure)

    response = _pay(client)
    assert response.status_code == 503
    assert "tidak dapat dihubungi" in response.get_data(as_text=True)
    db.session.expire_all()
    assert _count(JournalEntry) == entries_before  # no money moved
    assert billing.arrears_months([driver.id]) == {driver.id: 2}  # nothing marked paid
    (attempt,) = db.session.scalars(select(PaymentAttempt)).all()
    assert attempt.state == PaymentState.TOKEN_UNKNOWN  # kept for reconciliation only

    # Reconciliation settles the unknown: Midtrans never created it -> expired.
    midtrans.add(responses.GET, f"{CORE}/v2/{attempt.order_id}/status", json={}, status=404)
    midtrans.add(responses.POST, f"{CORE}/v2/{attempt.order_id}/expire", json={}, status=404)
    reconcile_payments(now=now_utc() + dt.timedelta(hours=25))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(PaymentAttempt, attempt.id).state == PaymentState.EXPIRED

    # The gateway is back: the member can pay.
    midtrans.add(
        responses.POST, SNAP_URL, json={"token": "t", "redirect_url": "https://x/snap"}, status=201
    )
    response = _pay(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "https://x/snap"
