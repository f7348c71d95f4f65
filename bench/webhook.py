"""Midtrans webhook throughput with the status call faked (issue 5, Must-show 6).

Subject: N signed ``settlement`` notifications (one per order, N open simpanan wajib intents
of N active members with billed obligations) POSTed one after another through the WSGI app
(Flask test client, no network) to ``/payments/midtrans/notification``: signature check,
raw body stored, status "re-read" from an in-memory gateway (no HTTP), amount/currency check,
state transition, one ledger receipt entry, ``payment_settled`` -> the members receivers
(obligation settled, receipt message queued), one commit per notification.
Afterwards ``check_ledger()`` must pass and every order must have exactly one receipt entry.

Floor: the same N bodies POSTed through the same app to a bare route that stores the raw body
with one ``INSERT`` and commits (no verification, no status call, no ledger).
"""

from __future__ import annotations

import json

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select

NAME = "webhook"
TITLE = "Midtrans webhook throughput (status call faked)"
UNIT = "notifications/s"
DEFAULT_SIZES = (2_000,)
LARGE_SIZES = (10_000,)
TARGET = 0.10  # at least 10 % of the bare store-the-body route's throughput
FLOOR_NAME = "the same POSTs to a bare route that INSERTs the raw body and commits"
WEBHOOK = "/payments/midtrans/notification"
AMOUNT = 25_000

_floor_md = MetaData()
FLOOR_TABLE = Table(
    "bench_webhook_floor",
    _floor_md,
    Column("id", Integer, primary_key=True),
    Column("body", Text),
)


class _StatusGateway:
    """Answers GET status from memory: the payload that was notified is the current status."""

    is_fake = False

    def __init__(self) -> None:
        self.current: dict[str, dict] = {}

    def get_status(self, order_id: str):
        from kmp.payments.gateway import StatusResult

        body = self.current.get(order_id)
        if body is None:
            return StatusResult.for_not_found(order_id, {"status_code": "404"})
        return StatusResult.from_payload(body | {"status_message": "Success, transaction is found"})

    def create_checkout(self, req):  # pragma: no cover - not used
        raise NotImplementedError

    def cancel(self, order_id: str):  # pragma: no cover - not used
        return self.get_status(order_id)

    def expire(self, order_id: str):  # pragma: no cover - not used
        return self.get_status(order_id)


def _setup(n: int):
    """N active members with one open wajib bill each, an open intent and a checkout attempt
    per member; returns (bodies, gateway). Members and bills set-based; intents through the
    service (what the Bayar button does)."""
    from flask import current_app

    from bench.billing import _insert_members
    from kmp.extensions import db
    from kmp.ledger.chart import member_account_code, open_member_accounts
    from kmp.payments.gateway import PaymentState, sign_notification
    from kmp.payments.models import PaymentAttempt
    from kmp.payments.services import create_payment_intent
    from members.savings.billing import bill_wajib

    month = _insert_members(n)
    bill_wajib(month)
    db.session.commit()
    key = current_app.config["MIDTRANS_SERVER_KEY"]
    gateway = _StatusGateway()
    bodies: list[bytes] = []
    for member_id in range(1, n + 1):
        member_no = f"B-{member_id}"
        open_member_accounts(member_id, member_no)
        code = member_account_code("wajib", member_no)
        intent = create_payment_intent(
            member_id, "wajib", AMOUNT, [(code, AMOUNT)], f"Simpanan wajib {member_no}"
        )
        order_id = f"KOP-WJB-BENCH-{member_id:07d}"
        db.session.add(
            PaymentAttempt(
                intent_id=intent.id,
                order_id=order_id,
                amount_idr=AMOUNT,
                state=PaymentState.TOKEN_ISSUED,
            )
        )
        payload = {
            "transaction_time": "2026-03-01 10:00:00",
            "settlement_time": "2026-03-01 10:05:00",
            "transaction_status": "settlement",
            "transaction_id": f"txn-bench-{member_id:07d}",
            "status_message": "midtrans payment notification",
            "status_code": "200",
            "payment_type": "qris",
            "order_id": order_id,
            "merchant_id": "G000000000",
            "gross_amount": f"{AMOUNT}.00",
            "currency": "IDR",
            "fraud_status": "accept",
        }
        payload["signature_key"] = sign_notification(payload, key)
        gateway.current[order_id] = payload
        gateway.current[payload["transaction_id"]] = payload  # the webhook looks up by this
        bodies.append(json.dumps(payload).encode())
        if member_id % 2000 == 0:
            db.session.commit()
    db.session.commit()
    return bodies, gateway


def subject_phase(timer, *, n: int) -> dict:
    from flask import current_app

    from kmp.extensions import db
    from kmp.ledger.models import JournalEntry
    from kmp.ledger.queries import check_ledger
    from kmp.payments.factory import set_gateway
    from members.savings.models import Obligation

    app = current_app._get_current_object()
    bodies, gateway = _setup(n)
    set_gateway(app, gateway)
    db.session.remove()
    client = app.test_client()
    statuses: dict[str, int] = {}
    with timer:
        for body in bodies:
            with app.app_context():
                response = client.post(WEBHOOK, data=body, content_type="application/json")
                key = f"{response.status_code}:{response.get_json().get('status')}"
                statuses[key] = statuses.get(key, 0) + 1
    receipts = db.session.scalar(
        select(func.count()).select_from(JournalEntry).where(JournalEntry.source_kind == "payment")
    )
    open_bills = db.session.scalar(
        select(func.count()).select_from(Obligation).where(Obligation.is_open.is_(True))
    )
    check = check_ledger()
    return {
        "answered_200": statuses.get("200:ok", 0),
        "statuses": statuses,
        "receipt_entries": int(receipts),
        "open_bills_left": int(open_bills),
        "ledger_check_ok": check.ok,
    }


def floor_phase(timer, *, n: int) -> dict:
    from flask import current_app, request

    from kmp.extensions import csrf, db

    app = current_app._get_current_object()
    bodies, _ = _setup(n)
    _floor_md.create_all(db.engine)

    def bare_store():
        db.session.execute(insert(FLOOR_TABLE).values(body=request.get_data(cache=False).decode()))
        db.session.commit()
        return {"ok": True}, 200

    app.add_url_rule("/bench/bare-webhook", "bench_bare_webhook", bare_store, methods=["POST"])
    csrf.exempt(bare_store)
    db.session.remove()
    client = app.test_client()
    ok = 0
    with timer:
        for body in bodies:
            with app.app_context():
                response = client.post(
                    "/bench/bare-webhook", data=body, content_type="application/json"
                )
                ok += response.status_code == 200
    stored = db.session.scalar(select(func.count()).select_from(FLOOR_TABLE))
    return {"answered_200": ok, "rows_written": int(stored)}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        if floor["rows_written"] != n:
            raise RuntimeError(f"the floor stored {floor['rows_written']} of {n} bodies")
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="throughput",
            target_value=TARGET,
            extra={
                "answered_200": subject["answered_200"],
                "receipt_entries": subject["receipt_entries"],
                "open_bills_left": subject["open_bills_left"],
                "ledger_check_ok": subject["ledger_check_ok"],
            },
        )
        correct = (
            subject["answered_200"] == n
            and subject["receipt_entries"] == n
            and subject["open_bills_left"] == 0
            and subject["ledger_check_ok"]
        )
        if not correct:
            result["target_met"] = False  # fast but wrong is not a result
        results.append(result)
    return results
