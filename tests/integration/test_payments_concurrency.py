"""1,000 signed notifications for 200 orders, shuffled and duplicated, posted concurrently.

PostgreSQL only: SQLite serialises writers, so it cannot show the races this test is about.
Each thread has its own test client, and every request runs in its own app context (its own
session and connection), as under gunicorn. The status call is faked consistently: it always
answers the order's latest real status, whichever notification asked.
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from kmp import signals
from kmp.extensions import db
from kmp.ledger.chart import GATEWAY_CLEARING
from kmp.ledger.models import JournalEntry
from kmp.ledger.queries import balance_of, check_ledger
from kmp.ledger.services import get_account
from kmp.payments.factory import set_gateway
from kmp.payments.gateway import (
    CheckoutRequest,
    CheckoutSession,
    GatewayError,
    PaymentState,
    StatusResult,
    sign_notification,
    state_from_status,
)
from kmp.payments.models import GatewayInbox, PaymentAttempt
from tests.integration.test_payments import KEY, MEMBER_ID, TEST_ACCOUNT, WEBHOOK
from tests.integration.test_payments import open_test_account as open_account_for_tests

pytestmark = pytest.mark.postgres

ORDERS = 200
NOTIFICATIONS = 1000
THREADS = 12
STATUS_CODES = {"pending": "201", "settlement": "200", "expire": "407", "deny": "202"}
#: Real status histories at the gateway, by scenario (the last one is the current status).
HISTORIES = [
    ["pending", "settlement"],
    ["pending", "expire"],
    ["settlement"],
    ["pending"],
    ["pending", "settlement", "deny"],  # Permata/Indomaret: settlement reversed within minutes
]


class ConsistentStatusGateway:
    """GET status answers each order's current real status (by order id or transaction id)."""

    is_fake = False

    def __init__(self) -> None:
        self.current: dict[str, dict[str, Any]] = {}
        self.by_transaction: dict[str, str] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def set(self, payload: dict[str, Any]) -> None:
        self.current[payload["order_id"]] = dict(payload)
        self.by_transaction[payload["transaction_id"]] = payload["order_id"]

    def get_status(self, order_id: str) -> StatusResult:
        with self._lock:
            self.calls += 1
        order = self.by_transaction.get(order_id, order_id)
        body = self.current.get(order)
        if body is None:
            return StatusResult.for_not_found(order_id, {"status_code": "404"})
        return StatusResult.from_payload(body | {"status_message": "Success, transaction is found"})

    def create_checkout(self, req: CheckoutRequest) -> CheckoutSession:  # pragma: no cover
        raise GatewayError("rejected", "not used here")

    def cancel(self, order_id: str) -> StatusResult:  # pragma: no cover
        return self.get_status(order_id)

    def expire(self, order_id: str) -> StatusResult:  # pragma: no cover
        return self.get_status(order_id)


def notification(order_id: str, transaction_id: str, amount: int, status: str, n: int) -> dict:
    payload = {
        "transaction_time": "2025-03-01 10:00:00",
        "transaction_status": status,
        "transaction_id": transaction_id,
        "status_message": f"midtrans payment notification #{n}",
        "status_code": STATUS_CODES[status],
        "payment_type": "bank_transfer",
        "order_id": order_id,
        "merchant_id": "G000000000",
        "gross_amount": f"{amount}.00",
        "currency": "IDR",
        "fraud_status": "accept",
    }
    if status == "settlement":
        payload["settlement_time"] = "2025-03-01 10:05:00"
    payload["signature_key"] = sign_notification(payload, KEY)
    return payload


def post_all(app, bodies: list[bytes]) -> list[int]:
    local = threading.local()

    def send(body: bytes) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = app.test_client()
        response = client.post(WEBHOOK, data=body, content_type="application/json")
        return response.status_code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(send, bodies))


def receipts_and_reversals() -> tuple[dict[str, int], int]:
    db.session.expire_all()
    rows = db.session.execute(
        select(JournalEntry.idempotency_key, JournalEntry.source_kind, JournalEntry.reverses_id)
    ).all()
    receipts: dict[str, int] = {}
    reversals = 0
    for key, kind, reverses_id in rows:
        if kind == "payment":
            order = key.split(":")[1]
            receipts[order] = receipts.get(order, 0) + 1
        elif reverses_id is not None:
            reversals += 1
    return receipts, reversals


def test_concurrent_shuffled_duplicated_notifications(app, db):  # noqa: PLR0915
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL")
    from kmp.payments.services import create_payment_intent

    rng = random.Random(20250301)  # noqa: S311 - reproducible shuffling
    open_account_for_tests()
    gateway = ConsistentStatusGateway()
    orders: list[dict[str, Any]] = []
    for i in range(ORDERS):
        amount = rng.randrange(10, 200) * 1000
        intent = create_payment_intent(
            MEMBER_ID + i, "wajib", amount, [(TEST_ACCOUNT, amount)], f"Uji konkurensi {i}"
        )
        order_id = f"KOP-CONC-20250301-{i:04d}-{rng.randrange(16**4):04x}"
        db.session.add(
            PaymentAttempt(
                intent_id=intent.id,
                order_id=order_id,
                amount_idr=amount,
                state=PaymentState.TOKEN_ISSUED,
            )
        )
        history = HISTORIES[i % len(HISTORIES)]
        orders.append(
            {
                "order_id": order_id,
                "transaction_id": f"txn-{i:04d}-{rng.randrange(16**8):08x}",
                "amount": amount,
                "history": history,
            }
        )
    db.session.commit()

    distinct: list[bytes] = []
    for order in orders:
        for n, status in enumerate(order["history"]):
            payload = notification(
                order["order_id"], order["transaction_id"], order["amount"], status, n
            )
            distinct.append(json.dumps(payload).encode())
        final = notification(
            order["order_id"], order["transaction_id"], order["amount"], order["history"][-1], 99
        )
        gateway.set(final)
    bodies = list(distinct)
    while len(bodies) < NOTIFICATIONS:  # exact duplicates and re-serialised redeliveries
        body = rng.choice(distinct)
        if rng.random() < 0.5:
            body = json.dumps(json.loads(body), indent=1).encode()
        bodies.append(body)
    rng.shuffle(bodies)
    assert len(bodies) == NOTIFICATIONS

    settled: list[str] = []
    reversed_: list[str] = []
    lock = threading.Lock()

    def on_settled(sender, payment, **kwargs):  # noqa: ARG001
        with lock:
            settled.append(payment.order_id)

    def on_reversed(sender, payment, **kwargs):  # noqa: ARG001
        with lock:
            reversed_.append(payment.order_id)

    set_gateway(app, gateway)
    try:
        with (
            signals.payment_settled.connected_to(on_settled),
            signals.payment_reversed.connected_to(on_reversed),
        ):
            statuses = post_all(app, bodies)
            assert statuses == [200] * NOTIFICATIONS

            db.session.expire_all()
            states = dict(
                db.session.execute(select(PaymentAttempt.order_id, PaymentAttempt.state)).all()
            )
            for order in orders:
                expected = state_from_status(order["history"][-1])
                assert states[order["order_id"]] == expected, order
            paid = [o for o in orders if o["history"][-1] == "settlement"]
            receipts, reversals = receipts_and_reversals()
            assert receipts == {o["order_id"]: 1 for o in paid}
            assert reversals == 0
            assert sorted(settled) == sorted(o["order_id"] for o in paid)
            stored = set(bodies)
            assert db.session.scalar(select(func.count()).select_from(GatewayInbox)) == len(stored)
            assert (
                db.session.scalar(
                    select(func.count())
                    .select_from(GatewayInbox)
                    .where(GatewayInbox.processed_at.is_(None))
                )
                == 0
            )
            assert check_ledger().ok
            total = sum(o["amount"] for o in paid)
            assert balance_of(get_account(GATEWAY_CLEARING)) == total

            # Second wave: 20 paid orders are reversed (deny); 5 deliveries each, concurrently.
            reversed_orders = paid[:20]
            wave: list[bytes] = []
            for order in reversed_orders:
                deny = notification(
                    order["order_id"], order["transaction_id"], order["amount"], "deny", 7
                )
                gateway.set(deny)
                for k in range(5):
                    body = json.dumps(deny, indent=k % 2 or None).encode()
                    wave.append(body)
            rng.shuffle(wave)
            assert post_all(app, wave) == [200] * len(wave)
    finally:
        set_gateway(app, None)

    db.session.expire_all()
    states = dict(db.session.execute(select(PaymentAttempt.order_id, PaymentAttempt.state)).all())
    for order in reversed_orders:
        assert states[order["order_id"]] == PaymentState.REVERSED
    receipts, reversals = receipts_and_reversals()
    assert receipts == {o["order_id"]: 1 for o in paid}
    assert reversals == len(reversed_orders)
    assert sorted(reversed_) == sorted(o["order_id"] for o in reversed_orders)
    assert check_ledger().ok
    still_paid = sum(o["amount"] for o in paid[20:])
    assert balance_of(get_account(GATEWAY_CLEARING)) == still_paid


def test_reconcile_runs_beside_concurrent_webhooks(app, db):
    """The job locks its whole batch first, so webhooks and the job never deadlock."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL")
    import datetime as dt

    from kmp.payments.services import create_payment_intent, reconcile_payments
    from kmp.timeutil import now_utc

    rng = random.Random(7)  # noqa: S311
    open_account_for_tests()
    gateway = ConsistentStatusGateway()
    orders = []
    for i in range(100):
        amount = rng.randrange(10, 100) * 1000
        intent = create_payment_intent(
            MEMBER_ID + i, "sukarela", amount, [(TEST_ACCOUNT, amount)], f"Uji rekonsiliasi {i}"
        )
        order_id = f"KOP-REC-20250301-{i:04d}-{rng.randrange(16**4):04x}"
        db.session.add(
            PaymentAttempt(
                intent_id=intent.id,
                order_id=order_id,
                amount_idr=amount,
                state=PaymentState.TOKEN_ISSUED,
                created_at=now_utc() - dt.timedelta(minutes=10),
            )
        )
        transaction_id = f"txn-rec-{i:04d}"
        final = notification(order_id, transaction_id, amount, "settlement", 0)
        gateway.set(final)
        orders.append((order_id, amount, final))
    db.session.commit()
    bodies = [json.dumps(final, indent=k).encode() for _, _, final in orders for k in (None, 1)]
    rng.shuffle(bodies)

    reports = []

    def reconcile() -> None:
        with app.app_context():
            reports.append(reconcile_payments(now=now_utc() + dt.timedelta(minutes=1)))
            db.session.commit()

    set_gateway(app, gateway)
    try:
        job = threading.Thread(target=reconcile)
        job.start()
        statuses = post_all(app, bodies)
        job.join(timeout=60)
    finally:
        set_gateway(app, None)
    assert statuses == [200] * len(bodies)
    assert reports and reports[0].errors == 0
    db.session.expire_all()
    states = dict(db.session.execute(select(PaymentAttempt.order_id, PaymentAttempt.state)).all())
    assert set(states.values()) == {PaymentState.PAID}
    receipts, reversals = receipts_and_reversals()
    assert receipts == {order_id: 1 for order_id, _, _ in orders} and reversals == 0
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(GatewayInbox)
            .where(GatewayInbox.processed_at.is_(None))
        )
        == 0
    )
    assert balance_of(get_account(GATEWAY_CLEARING)) == sum(a for _, a, _ in orders)
    assert check_ledger().ok
