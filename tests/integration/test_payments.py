"""Payments core: intents, Snap checkout, the Midtrans webhook, reconciliation.

MidtransGateway paths run inside ``responses.RequestsMock()``: an unregistered URL raises
``ConnectionError``, so no request can reach the network. Other tests use the FakeGateway.
The doc's signed test vectors (tests/fixtures/midtrans/*.json) are posted as they are.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kmp import signals
from kmp.config import ConfigError
from kmp.errors import Conflict, IllegalTransition
from kmp.extensions import db
from kmp.ledger.chart import GATEWAY_CLEARING
from kmp.ledger.models import Account, ClosedPeriod, JournalEntry
from kmp.ledger.queries import balance_of, check_ledger
from kmp.ledger.services import get_account, open_account
from kmp.payments.factory import (
    DEV_FAKE_SERVER_KEY,
    DbFakeStore,
    get_gateway,
    notification_server_key,
    set_gateway,
)
from kmp.payments.gateway import (
    FakeGateway,
    MidtransGateway,
    PaymentState,
    StatusResult,
    sign_notification,
)
from kmp.payments.models import GatewayInbox, IntentStatus, PaymentAttempt, PaymentIntent
from kmp.payments.services import (
    CheckoutUnavailable,
    Customer,
    PaymentError,
    apply_gateway_status,
    close_payment_intent,
    create_payment_intent,
    reconcile_payments,
    start_checkout,
)
from kmp.registry import get_registry
from kmp.scheduler import run_job
from kmp.timeutil import now_utc, set_clock

KEY = "SB-Mid-server-TEST-ONLY-NOT-A-REAL-KEY"  # the TestingConfig key that signed the vectors
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "midtrans"
SNAP_URL = "https://app.sandbox.midtrans.com/snap/v1/transactions"
CORE = "https://api.sandbox.midtrans.com"
WEBHOOK = "/payments/midtrans/notification"
MEMBER_ID = 900001  # a test-only member id: the core knows no members
TEST_ACCOUNT = "liability:test-payments"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes().strip()


def signed(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = dict(payload) | changes
    body["signature_key"] = sign_notification(body, KEY)
    return body


def status_body(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What GET status answers for the same transaction."""
    body = dict(payload) | {"status_message": "Success, transaction is found"} | changes
    return body


def status_url(transaction_id: str) -> str:
    return f"{CORE}/v2/{transaction_id}/status"


def post(client, body: dict | bytes):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(WEBHOOK, data=data, content_type="application/json")


def open_test_account() -> Account:
    return open_account(TEST_ACCOUNT, "Akun uji pembayaran", "liability")


def make_intent(amount: int = 150000, purpose: str = "wajib", **meta: Any) -> PaymentIntent:
    open_test_account()
    return create_payment_intent(
        MEMBER_ID,
        purpose,
        amount,
        [(TEST_ACCOUNT, amount)],
        f"Simpanan {purpose} uji",
        metadata=meta or {"months": ["2025-01"]},
    )


def make_attempt(
    order_id: str,
    amount: int,
    state: PaymentState = PaymentState.TOKEN_ISSUED,
    intent: PaymentIntent | None = None,
    created_at: dt.datetime | None = None,
) -> PaymentAttempt:
    """An attempt with a given order id (the doc's test vectors use fixed ones)."""
    intent = intent or make_intent(amount)
    attempt = PaymentAttempt(
        intent_id=intent.id,
        order_id=order_id,
        amount_idr=amount,
        state=state,
        snap_token="tok",
        redirect_url="https://app.sandbox.midtrans.com/snap/v4/redirection/tok",
        created_at=created_at or now_utc() - dt.timedelta(minutes=10),
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt


def fresh(attempt: PaymentAttempt) -> PaymentAttempt:
    db.session.expire_all()
    return db.session.get(PaymentAttempt, attempt.id)


def entries_for(order_id: str) -> list[JournalEntry]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(JournalEntry).where(JournalEntry.source_id == order_id).order_by(JournalEntry.id)
        )
    )


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@contextmanager
def receiving(signal):
    calls: list[tuple[Any, dict]] = []

    def receiver(sender, **kwargs):
        # Read what a receiver would use while the sender's transaction is still open.
        kwargs["seen"] = {
            "order_id": kwargs["payment"].order_id,
            "state": kwargs["payment"].state,
            "intent_status": kwargs["intent"].status,
            "meta": dict(kwargs["intent"].meta),
        }
        calls.append((sender, kwargs))

    with signal.connected_to(receiver):
        yield calls


@pytest.fixture
def midtrans(app):
    """Midtrans (sandbox) as the gateway, every HTTP call answered by ``responses``."""
    gateway = MidtransGateway(KEY, "SB-Mid-client-TEST-ONLY", False, status_retries=0)
    set_gateway(app, gateway)
    try:
        with responses.RequestsMock() as mock:
            yield mock
    finally:
        set_gateway(app, None)


@pytest.fixture
def fake(app):
    gateway = FakeGateway(KEY, base_url="", store=DbFakeStore())
    set_gateway(app, gateway)
    yield gateway
    set_gateway(app, None)


# --------------------------------------------------------------------------- intents


def test_create_intent_validates_credit_lines():
    open_test_account()
    intent = create_payment_intent(
        MEMBER_ID,
        "wajib",
        200000,
        [(TEST_ACCOUNT, 150000), [TEST_ACCOUNT, 50000]],
        "Simpanan wajib Jan–Feb",
        metadata={"months": ["2025-01", "2025-02"]},
    )
    db.session.commit()
    assert intent.status == IntentStatus.OPEN
    assert intent.credit_lines == [[TEST_ACCOUNT, 150000], [TEST_ACCOUNT, 50000]]
    assert intent.meta == {"months": ["2025-01", "2025-02"]}

    bad = [
        dict(credit_lines=[(TEST_ACCOUNT, 100)]),  # does not sum to the amount
        dict(credit_lines=[("liability:nope", 200000)]),  # unknown account
        dict(credit_lines=[(GATEWAY_CLEARING, 200000)]),
        dict(credit_lines=[(TEST_ACCOUNT, 200000.0)]),
        dict(credit_lines=[]),
        dict(amount_idr=0, credit_lines=[]),
        dict(purpose="Wajib Bulanan!"),
        dict(member_id=0),
        dict(description=""),
        dict(metadata={"when": dt.date(2025, 1, 1)}),
    ]
    for changes in bad:
        args = (
            dict(
                member_id=MEMBER_ID,
                purpose="wajib",
                amount_idr=200000,
                credit_lines=[(TEST_ACCOUNT, 200000)],
                description="x",
                metadata=None,
            )
            | changes
        )
        with pytest.raises(PaymentError):
            create_payment_intent(**args)
    assert count(PaymentIntent) == 1


def test_amount_constraint_is_in_the_database():
    db.session.add(
        PaymentIntent(
            member_id=MEMBER_ID,
            purpose="wajib",
            description="x",
            amount_idr=0,
            credit_lines=[],
            meta={},
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_close_intent(app):
    intent = make_intent()
    close_payment_intent(intent, "Dibayar tunai", None)
    db.session.commit()
    assert intent.status == IntentStatus.CLOSED
    with pytest.raises(Conflict) as info:
        start_checkout(intent, get_gateway(app))
    assert info.value.message == "Tagihan ini sudah ditutup."
    with pytest.raises(IllegalTransition):
        close_payment_intent(intent, "lagi")


# --------------------------------------------------------------------------- checkout


def test_snap_checkout_creation(midtrans, app):
    intent = make_intent(100000, finish_url="/anggota/simpanan")
    db.session.commit()
    midtrans.add(
        responses.POST,
        SNAP_URL,
        json={"token": "snap-tok", "redirect_url": "https://app.sandbox.midtrans.com/snap/v4/x"},
        status=201,
    )
    attempt = start_checkout(
        intent, get_gateway(app), Customer("Agus", "agus@test.kmp.id", "+6281234567890")
    )
    db.session.commit()
    assert attempt.state == PaymentState.TOKEN_ISSUED
    assert attempt.snap_token == "snap-tok"
    assert attempt.redirect_url == "https://app.sandbox.midtrans.com/snap/v4/x"
    assert attempt.order_id.startswith("KOP-WAJIB-") and f"-{intent.id:04d}-" in attempt.order_id
    request = midtrans.calls[0].request
    body = json.loads(request.body)
    assert body["transaction_details"] == {"order_id": attempt.order_id, "gross_amount": 100000}
    assert body["item_details"][0]["price"] == 100000
    assert body["customer_details"]["email"] == "agus@test.kmp.id"
    assert body["callbacks"]["finish"] == "http://127.0.0.1:5000/anggota/simpanan"
    auth = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert request.headers["Authorization"] == auth
    assert request.req_kwargs["timeout"] == (5.0, 15.0)

    # Each checkout is a new attempt with a fresh order id.
    midtrans.add(
        responses.POST, SNAP_URL, json={"token": "t2", "redirect_url": "https://x/2"}, status=201
    )
    second = start_checkout(intent, get_gateway(app))
    assert second.order_id != attempt.order_id


def test_snap_timeout_marks_token_unknown(midtrans, app):
    intent = make_intent()
    db.session.commit()
    midtrans.add(responses.POST, SNAP_URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(CheckoutUnavailable) as info:
        start_checkout(intent, get_gateway(app))
    assert info.value.keep_attempt and "tidak dapat dihubungi" in info.value.message
    db.session.commit()  # the boundary keeps the TOKEN_UNKNOWN attempt
    (attempt,) = db.session.scalars(select(PaymentAttempt)).all()
    assert attempt.state == PaymentState.TOKEN_UNKNOWN

    # Reconciliation: no transaction at Midtrans (404); after the page expiry it is expired.
    url = status_url(attempt.order_id)
    midtrans.add(responses.GET, url, json={"status_code": "404"}, status=404)
    report = reconcile_payments(now=now_utc() + dt.timedelta(minutes=5))
    db.session.commit()
    assert report.checked == 1 and report.changed == 0
    assert fresh(attempt).state == PaymentState.TOKEN_UNKNOWN
    midtrans.add(
        responses.POST,
        f"{CORE}/v2/{attempt.order_id}/expire",
        json={"status_code": "404"},
        status=404,
    )
    report = reconcile_payments(now=now_utc() + dt.timedelta(hours=25))
    db.session.commit()
    assert report.expired == 1
    assert fresh(attempt).state == PaymentState.EXPIRED


def test_snap_refusal_leaves_nothing(midtrans, app):
    intent = make_intent()
    db.session.commit()
    midtrans.add(responses.POST, SNAP_URL, json={"error_messages": ["Access denied"]}, status=401)
    with pytest.raises(CheckoutUnavailable) as info:
        start_checkout(intent, get_gateway(app))
    assert not info.value.keep_attempt and info.value.status == 502
    db.session.commit()  # even a careless boundary that commits leaves no orphan
    assert count(PaymentAttempt) == 0


def test_fake_checkout_redirects_to_simulate_page(fake, app):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    db.session.commit()
    assert attempt.redirect_url == f"/payments/simulate/{attempt.order_id}"
    assert fake.get_order(attempt.order_id)["gross_amount"] == "150000.00"


# --------------------------------------------------------------------------- webhook


def test_settlement_vector_posts_one_entry_and_signals(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    with receiving(signals.payment_settled) as settled:
        response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "applied:PAID"

    attempt = fresh(attempt)
    assert attempt.state == PaymentState.PAID
    assert attempt.transaction_id == payload["transaction_id"]
    assert attempt.paid_at == dt.datetime(2025, 1, 1, 3, 5, 12, tzinfo=dt.UTC)
    assert attempt.intent.status == IntentStatus.PAID
    assert not attempt.flagged_for_review
    (entry,) = entries_for(payload["order_id"])
    assert entry.idempotency_key == f"midtrans:{payload['order_id']}:receipt"
    assert entry.entry_date == dt.date(2025, 1, 1)  # Jakarta date of settlement_time
    lines = {p.account.code: p.amount_idr for p in entry.postings}
    assert lines == {GATEWAY_CLEARING: 150000, TEST_ACCOUNT: -150000}
    assert attempt.receipt_entry_id == entry.id

    (sender, kwargs), *rest = settled
    assert not rest
    assert sender == "wajib"
    assert kwargs["member_id"] == MEMBER_ID and kwargs["amount_idr"] == 150000
    assert kwargs["purpose"] == "wajib"
    assert kwargs["seen"] == {
        "order_id": payload["order_id"],
        "state": PaymentState.PAID,
        "intent_status": IntentStatus.PAID,
        "meta": {"months": ["2025-01"]},
    }

    (inbox,) = db.session.scalars(select(GatewayInbox)).all()
    assert inbox.body.encode() == fixture_bytes("settlement")
    assert inbox.processed_at is not None and inbox.outcome == "applied:PAID"
    assert len(midtrans.calls) == 1  # confirmed by GET status, by transaction_id
    assert check_ledger().ok


def test_settlement_entry_date_is_the_jakarta_business_date(client, midtrans):
    """23:30 WIB on 31 December belongs to that year (16:30 UTC)."""
    payload = signed(
        load("settlement"),
        settlement_time="2025-12-31 23:30:00",
        order_id="KOP-WAJIB-20251231-0001-ffff",
    )
    make_attempt(payload["order_id"], 150000)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    assert post(client, payload).status_code == 200
    (entry,) = entries_for(payload["order_id"])
    assert entry.entry_date == dt.date(2025, 12, 31)


def test_pending_vector(client, midtrans):
    payload = load("pending")
    attempt = make_attempt(payload["order_id"], 50000)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    response = post(client, fixture_bytes("pending"))
    assert response.status_code == 200
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.PENDING
    assert attempt.last_status["transaction_status"] == "pending"
    assert entries_for(payload["order_id"]) == []


def test_expire_vector(client, midtrans):
    payload = load("expire")
    attempt = make_attempt(payload["order_id"], 50000, PaymentState.PENDING)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    assert post(client, fixture_bytes("expire")).status_code == 200
    assert fresh(attempt).state == PaymentState.EXPIRED
    assert entries_for(payload["order_id"]) == []
    assert fresh(attempt).intent.status == IntentStatus.OPEN  # the member may try again


def test_forged_signature_is_refused_and_nothing_written(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    forged = payload | {"signature_key": "0" * 128}
    response = post(client, forged)
    assert response.status_code == 403
    assert count(GatewayInbox) == 0
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert entries_for(payload["order_id"]) == []
    assert len(midtrans.calls) == 0


@pytest.mark.parametrize("gross", ["1500000.00", "150000", "15000.00"])
def test_tampered_gross_amount_is_refused(client, midtrans, gross):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    response = post(client, payload | {"gross_amount": gross})
    assert response.status_code == 403
    assert count(GatewayInbox) == 0
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert len(midtrans.calls) == 0


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
def test_unreadable_body_is_refused(client, body):
    assert post(client, body).status_code == 400
    assert count(GatewayInbox) == 0


def test_duplicate_notification_posts_one_entry(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    with receiving(signals.payment_settled) as settled:
        first = post(client, fixture_bytes("settlement"))
        again = post(client, fixture_bytes("settlement"))
        # The same notification re-serialised (another body, same facts): applied once.
        other = post(client, json.dumps(payload, indent=1).encode())
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert again.get_json()["status"] == "duplicate"
    assert other.get_json()["outcome"] == "ignored"
    assert len(entries_for(payload["order_id"])) == 1
    assert len(settled) == 1
    assert count(GatewayInbox) == 2
    assert fresh(attempt).state == PaymentState.PAID
    assert len(midtrans.calls) == 2  # the exact duplicate was not even re-checked


def test_pending_after_settlement_is_ignored(client, midtrans):
    settlement = load("settlement")
    attempt = make_attempt(settlement["order_id"], 150000)
    url = status_url(settlement["transaction_id"])
    midtrans.add(responses.GET, url, json=status_body(settlement))
    assert post(client, fixture_bytes("settlement")).status_code == 200
    # A late pending notification, and a status answer that is stale as well.
    pending = signed(settlement, transaction_status="pending", status_code="201")
    del pending["settlement_time"]
    midtrans.replace(responses.GET, url, json=status_body(pending))
    response = post(client, pending)
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.PAID
    assert attempt.last_status["transaction_status"] == "settlement"
    assert len(entries_for(settlement["order_id"])) == 1


def test_settlement_after_expire_is_paid_and_flagged(client, midtrans, login_as):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000, PaymentState.EXPIRED)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    with receiving(signals.payment_settled) as settled:
        assert post(client, fixture_bytes("settlement")).status_code == 200
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.PAID
    assert attempt.flagged_for_review and "dinyatakan kedaluwarsa (EXPIRED)" in attempt.flag_reason
    assert len(entries_for(payload["order_id"])) == 1
    assert len(settled) == 1  # the intent was still open: the money counts
    login_as("bendahara")
    page = client.get("/payments/tinjauan").get_data(as_text=True)
    assert payload["order_id"] in page and "EXPIRED" in page


def test_deny_after_settlement_is_reversed(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    url = status_url(payload["transaction_id"])
    midtrans.add(responses.GET, url, json=status_body(payload))
    assert post(client, fixture_bytes("settlement")).status_code == 200

    deny = signed(payload, transaction_status="deny", status_code="202")
    midtrans.replace(responses.GET, url, json=status_body(deny))
    with receiving(signals.payment_reversed) as reversed_:
        response = post(client, deny)
    assert response.status_code == 200 and response.get_json()["outcome"] == "applied:REVERSED"
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.REVERSED
    assert attempt.flagged_for_review
    assert attempt.intent.status == IntentStatus.OPEN
    (receipt,) = entries_for(payload["order_id"])
    reversal = db.session.get(JournalEntry, attempt.reversal_entry_id)
    assert reversal.reverses_id == receipt.id
    assert {p.account.code: p.amount_idr for p in reversal.postings} == {
        GATEWAY_CLEARING: -150000,
        TEST_ACCOUNT: 150000,
    }
    assert balance_of(get_account(GATEWAY_CLEARING)) == 0
    (sender, kwargs), *rest = reversed_
    assert not rest and sender == "wajib" and kwargs["amount_idr"] == 150000
    assert check_ledger().ok

    # Replays change nothing.
    assert post(client, json.dumps(deny, indent=2).encode()).get_json()["outcome"] == "ignored"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 2


def test_status_timeout_is_stored_and_fixed_by_reconcile(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    url = status_url(payload["transaction_id"])
    midtrans.add(responses.GET, url, body=requests.exceptions.ReadTimeout("read timed out"))
    response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    (inbox,) = db.session.scalars(select(GatewayInbox)).all()
    assert inbox.processed_at is None and inbox.outcome.startswith("status_unavailable")
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert entries_for(payload["order_id"]) == []

    midtrans.replace(responses.GET, url, json=status_body(payload))
    with receiving(signals.payment_settled) as settled:
        report = reconcile_payments(now=now_utc() + dt.timedelta(minutes=5))
        db.session.commit()
    assert report.notifications == 1 and report.changed == 1
    assert fresh(attempt).state == PaymentState.PAID
    assert len(entries_for(payload["order_id"])) == 1 and len(settled) == 1
    db.session.expire_all()
    inbox = db.session.get(GatewayInbox, inbox.id)
    assert inbox.processed_at is not None and inbox.outcome == "reconciled:applied:PAID"

    # Idempotent: running again changes nothing.
    report = reconcile_payments(now=now_utc() + dt.timedelta(minutes=10))
    db.session.commit()
    assert report.changed == 0 and len(entries_for(payload["order_id"])) == 1


def test_html_502_from_status_api_is_stored(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    midtrans.add(
        responses.GET,
        status_url(payload["transaction_id"]),
        body=html,
        status=502,
        content_type="text/html",
    )
    response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200
    assert count(GatewayInbox) == 1
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert len(midtrans.calls) == 1  # the webhook gateway does not retry


def test_unknown_order_is_stored_and_flagged(client, midtrans, login_as):
    response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "unknown_order"
    (inbox,) = db.session.scalars(select(GatewayInbox)).all()
    assert inbox.flagged and inbox.needs_review and inbox.processed_at is not None
    assert len(midtrans.calls) == 0
    login_as("pengawas")
    page = client.get("/payments/tinjauan").get_data(as_text=True)
    assert "KOP-SIM-20250101-0001-a1b2" in page


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"gross_amount": "15000.00"}, "berbeda dengan tagihan"),
        ({"currency": "USD"}, "seharusnya IDR"),
        ({"gross_amount": "abc"}, "tidak terbaca"),
    ],
)
def test_amount_or_currency_mismatch_is_flagged_not_posted(client, midtrans, changes, reason):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    midtrans.add(
        responses.GET, status_url(payload["transaction_id"]), json=status_body(payload, **changes)
    )
    with receiving(signals.payment_settled) as settled:
        response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200 and response.get_json()["outcome"] == "mismatch"
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.TOKEN_ISSUED
    assert attempt.flagged_for_review and reason in attempt.flag_reason
    assert entries_for(payload["order_id"]) == [] and settled == []


def test_status_for_another_order_is_flagged(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    midtrans.add(
        responses.GET,
        status_url(payload["transaction_id"]),
        json=status_body(payload, order_id="KOP-OTHER-1"),
    )
    assert post(client, fixture_bytes("settlement")).get_json()["outcome"] == "mismatch"
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert fresh(attempt).flagged_for_review


def test_unknown_status_is_stored_and_flagged(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    midtrans.add(
        responses.GET,
        status_url(payload["transaction_id"]),
        json=status_body(payload, transaction_status="teleported"),
    )
    response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200 and response.get_json()["outcome"] == "unknown_status"
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED


def test_expire_status_code_is_never_branched_on(client, midtrans):
    """The doc's expire sample exists with status_code 407 and 202: same outcome."""
    payload = signed(load("expire"), status_code="202")
    attempt = make_attempt(payload["order_id"], 50000)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))
    assert post(client, payload).status_code == 200
    assert fresh(attempt).state == PaymentState.EXPIRED


def test_receiver_failure_rolls_back_the_payment(client, midtrans):
    payload = load("settlement")
    attempt = make_attempt(payload["order_id"], 150000)
    midtrans.add(responses.GET, status_url(payload["transaction_id"]), json=status_body(payload))

    def broken(sender, **kwargs):  # noqa: ARG001
        raise RuntimeError("savings update failed")

    with signals.payment_settled.connected_to(broken):
        response = post(client, fixture_bytes("settlement"))
    assert response.status_code == 200 and response.get_json()["status"] == "stored"
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert entries_for(payload["order_id"]) == []  # receipt and obligations: all or nothing
    (inbox,) = db.session.scalars(select(GatewayInbox)).all()
    assert inbox.processed_at is None and inbox.flagged and "savings update failed" in inbox.outcome

    # Once the receiver works again, reconciliation books it.
    report = reconcile_payments(now=now_utc() + dt.timedelta(minutes=5))
    db.session.commit()
    assert report.changed == 1 and len(entries_for(payload["order_id"])) == 1


def test_store_failure_answers_503(client, monkeypatch):
    import kmp.payments.views as views

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(views, "record_gateway_notification", boom)
    assert post(client, fixture_bytes("settlement")).status_code == 503
    assert count(GatewayInbox) == 0


# --------------------------------------------------------------------------- the fake end to end


def test_double_payment_is_booked_and_flagged_but_announced_once(fake, app):
    intent = make_intent()
    first = start_checkout(intent, get_gateway(app))
    second = start_checkout(intent, get_gateway(app))
    db.session.commit()
    with receiving(signals.payment_settled) as settled:
        for attempt in (first, second):
            fake.simulate(attempt.order_id, "settlement")
            apply_gateway_status(attempt, fake.get_status(attempt.order_id))
        db.session.commit()
    assert len(settled) == 1
    assert fresh(first).state == fresh(second).state == PaymentState.PAID
    assert fresh(second).flagged_for_review and "Pembayaran ganda" in fresh(second).flag_reason
    assert not fresh(first).flagged_for_review
    assert balance_of(get_account(GATEWAY_CLEARING)) == 300000
    # Reversing the uncounted duplicate keeps the intent paid; the signal (so the allocator
    # takes back what the duplicate paid) says it was not the counted payment.
    fake.simulate(second.order_id, "deny")
    with receiving(signals.payment_reversed) as reversed_:
        apply_gateway_status(second, fake.get_status(second.order_id))
        db.session.commit()
    assert [kwargs["counted"] for _sender, kwargs in reversed_] == [False]
    assert fresh(second).state == PaymentState.REVERSED
    assert fresh(first).intent.status == IntentStatus.PAID
    assert balance_of(get_account(GATEWAY_CLEARING)) == 150000


def test_payment_for_a_closed_intent_is_flagged(fake, app):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    close_payment_intent(intent, "Dibayar tunai ke bendahara")
    db.session.commit()
    fake.simulate(attempt.order_id, "settlement")
    with receiving(signals.payment_settled) as settled:
        apply_gateway_status(attempt, fake.get_status(attempt.order_id))
        db.session.commit()
    assert settled == []
    assert fresh(attempt).state == PaymentState.PAID and fresh(attempt).flagged_for_review
    assert len(entries_for(attempt.order_id)) == 1


def test_receipt_in_a_closed_year_is_booked_today_and_flagged(fake, app):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    db.session.add(ClosedPeriod(fiscal_year=2025))
    db.session.commit()
    payload = fake.simulate(attempt.order_id, "settlement")
    status = StatusResult.from_payload(payload | {"settlement_time": "2025-06-01 10:00:00"})
    set_clock(lambda: dt.datetime(2026, 2, 1, 3, 0, tzinfo=dt.UTC))
    apply_gateway_status(attempt, status)
    db.session.commit()
    (entry,) = entries_for(attempt.order_id)
    assert entry.entry_date == dt.date(2026, 2, 1)
    assert fresh(attempt).flagged_for_review


def test_reconcile_catches_a_reversal_of_a_recent_payment(fake, app):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    db.session.commit()
    fake.simulate(attempt.order_id, "settlement")
    apply_gateway_status(attempt, fake.get_status(attempt.order_id))
    db.session.commit()
    fake.simulate(attempt.order_id, "deny")  # the deny notification never arrived
    db.session.commit()
    # Too soon: paid attempts are re-checked at most once an hour.
    assert reconcile_payments(now=now_utc() + dt.timedelta(minutes=10)).checked == 0
    report = reconcile_payments(now=now_utc() + dt.timedelta(hours=2))
    db.session.commit()
    assert report.changed == 1
    assert fresh(attempt).state == PaymentState.REVERSED
    assert len(entries_for(attempt.order_id)) == 1  # the receipt; the reversal is keyed on it
    assert fresh(attempt).reversal_entry_id is not None
    assert check_ledger().ok
    # Older than 7 days: no longer re-checked.
    assert reconcile_payments(now=now_utc() + dt.timedelta(days=8)).checked == 0


def test_reconcile_waits_two_minutes_and_survives_gateway_errors(fake, app, monkeypatch):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    db.session.commit()
    assert reconcile_payments().checked == 0  # younger than 2 minutes
    fake.simulate(attempt.order_id, "pending")
    db.session.commit()

    def down(order_id):
        from kmp.payments.gateway import GatewayError

        raise GatewayError("transient", "down")

    monkeypatch.setattr(fake, "get_status", down)
    report = reconcile_payments(now=now_utc() + dt.timedelta(minutes=3))
    assert report.unavailable == 1 and report.changed == 0
    monkeypatch.undo()
    report = reconcile_payments(now=now_utc() + dt.timedelta(minutes=3))
    db.session.commit()
    assert report.changed == 1 and fresh(attempt).state == PaymentState.PENDING


def test_reconcile_expires_a_stale_fake_checkout(fake, app):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    db.session.commit()
    report = reconcile_payments(now=now_utc() + dt.timedelta(hours=25))
    db.session.commit()
    assert report.expired == 1 and fresh(attempt).state == PaymentState.EXPIRED


def test_cli_and_job(app, fake):
    intent = make_intent()
    attempt = start_checkout(intent, get_gateway(app))
    db.session.commit()
    fake.simulate(attempt.order_id, "settlement")
    db.session.commit()
    set_clock(lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "1 checked, 1 changed" in result.output
    assert fresh(attempt).state == PaymentState.PAID

    job = get_registry(app).job("payments-reconcile")
    assert job.trigger == "interval" and job.trigger_args == {"minutes": 10}
    assert run_job(app, job) is True
    assert len(entries_for(attempt.order_id)) == 1


# --------------------------------------------------------------------------- configuration


def _bare_app(**config: Any) -> Flask:
    from kmp.registry import init_app as init_registry

    app = Flask("kmp-test")
    app.config.update(config)
    init_registry(app)
    return app


def test_gateway_factory_follows_config():
    fake_app = _bare_app(KMP_PAYMENT_GATEWAY="fake")
    gateway = get_gateway(fake_app)
    assert isinstance(gateway, FakeGateway) and gateway.server_key == DEV_FAKE_SERVER_KEY
    assert get_gateway(fake_app, for_webhook=True) is gateway

    real = _bare_app(
        KMP_PAYMENT_GATEWAY="midtrans", MIDTRANS_SERVER_KEY=KEY, MIDTRANS_CLIENT_KEY="c"
    )
    checkout, webhook = get_gateway(real), get_gateway(real, for_webhook=True)
    assert isinstance(checkout, MidtransGateway) and isinstance(webhook, MidtransGateway)
    assert checkout.timeout == (5.0, 15.0) and checkout.status_retries == 2
    assert webhook.timeout == (5.0, 5.0) and webhook.status_retries == 0
    assert get_gateway(real) is checkout

    with pytest.raises(ConfigError):
        get_gateway(_bare_app(KMP_PAYMENT_GATEWAY="paypal"))
    with pytest.raises(ConfigError):
        get_gateway(_bare_app(KMP_PAYMENT_GATEWAY="midtrans"))  # no server key
    with pytest.raises(ConfigError):
        get_gateway(_bare_app(KMP_PAYMENT_GATEWAY="fake", ENV_NAME="production"))
    assert notification_server_key(_bare_app(KMP_PAYMENT_GATEWAY="fake", MIDTRANS_SERVER_KEY="k"))


def test_db_fake_store_is_shared_between_app_contexts(app):
    store = DbFakeStore()
    store.put("KOP-X-1", {"order_id": "KOP-X-1", "payload": None})
    db.session.commit()
    with app.app_context():
        record = DbFakeStore().get("KOP-X-1")
        record["payload"] = {"transaction_status": "settlement"}
        DbFakeStore().put("KOP-X-1", record)
        db.session.commit()
    db.session.expire_all()
    assert store.get("KOP-X-1")["payload"] == {"transaction_status": "settlement"}
    assert store.get("missing") is None
