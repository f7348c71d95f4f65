"""Iris payouts client, signatures and the fake disburser, all offline."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
import requests
import responses

from kmp.payments.gateway import GatewayError
from kmp.payments.iris import (
    IRIS_SIGNATURE_HEADER,
    FakeDisburser,
    IrisClient,
    IrisDisburser,
    PayoutItem,
    PayoutReceipt,
    payout_transition_allowed,
    sign_iris_notification,
    verify_iris_signature,
)

CREATOR = "IRIS-CREATOR-TEST-ONLY"
APPROVER = "IRIS-APPROVER-TEST-ONLY"
MERCHANT_KEY = "IRIS-MERCHANT-KEY-TEST-ONLY"
API = "https://app.sandbox.midtrans.com/iris/api/v1"


def basic_auth(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def mock():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def creator(sleeps: SleepRecorder) -> IrisClient:
    return IrisClient(CREATOR, sleep=sleeps)


@pytest.fixture
def approver() -> IrisClient:
    return IrisClient(CREATOR, APPROVER)


def item(**overrides: Any) -> PayoutItem:
    values: dict[str, Any] = {
        "beneficiary_name": "Budi Santoso",
        "beneficiary_account": "1234567890",
        "beneficiary_bank": "bca",
        "amount_idr": 100000,
        "notes": "SHU 2025",
    }
    values.update(overrides)
    return PayoutItem(**values)


# --------------------------------------------------------------------------- payouts


def test_create_payout_sends_idempotency_key_and_basic_auth(creator: IrisClient, mock) -> None:
    mock.add(
        responses.POST,
        f"{API}/payouts",
        json={"payouts": [{"status": "queued", "reference_no": "ref-001"}]},
        status=201,
    )
    receipts = creator.create_payouts([item(beneficiary_email="budi@example.id")], "SHU-2025-7")
    assert receipts == [PayoutReceipt(reference_no="ref-001", status="queued")]
    request = mock.calls[0].request
    assert request.headers["X-Idempotency-Key"] == "SHU-2025-7"
    assert request.headers["Authorization"] == basic_auth(CREATOR)
    assert request.req_kwargs["timeout"] == (5.0, 15.0)
    assert json.loads(request.body) == {
        "payouts": [
            {
                "beneficiary_name": "Budi Santoso",
                "beneficiary_account": "1234567890",
                "beneficiary_bank": "bca",
                "amount": "100000.00",
                "notes": "SHU 2025",
                "beneficiary_email": "budi@example.id",
            }
        ]
    }


def test_production_base_url(mock) -> None:
    client = IrisClient(CREATOR, is_production=True)
    mock.add(responses.GET, "https://app.midtrans.com/iris/api/v1/balance", json={"balance": "5"})
    assert client.balance() == 5


def test_create_payout_input_validation(creator: IrisClient) -> None:
    with pytest.raises(ValueError):
        creator.create_payouts([item()], "x" * 101)
    with pytest.raises(ValueError):
        creator.create_payouts([item()], "has space")
    with pytest.raises(ValueError):
        creator.create_payouts([], "k")
    with pytest.raises(ValueError):
        item(notes="n" * 101)
    with pytest.raises(ValueError):
        item(amount_idr=0)
    with pytest.raises(ValueError):
        item(beneficiary_account=" ")


def test_create_payout_errors(creator: IrisClient, mock) -> None:
    mock.add(
        responses.POST,
        f"{API}/payouts",
        json={"error_message": "An error occurred when creating payouts", "errors": ["bad bank"]},
        status=400,
    )
    mock.add(responses.POST, f"{API}/payouts", body=requests.exceptions.ReadTimeout())
    mock.add(responses.POST, f"{API}/payouts", json={"payouts": []}, status=201)
    with pytest.raises(GatewayError) as info:
        creator.create_payouts([item()], "k1")
    assert info.value.kind == "rejected" and "bad bank" in info.value.message
    with pytest.raises(GatewayError) as info:
        creator.create_payouts([item()], "k1")
    assert info.value.kind == "transient"
    with pytest.raises(GatewayError) as info:
        creator.create_payouts([item()], "k1")
    assert info.value.kind == "unknown"
    assert len(mock.calls) == 3  # POSTs are never retried


def test_approve_without_approver_key_is_refused(creator: IrisClient, mock) -> None:
    assert not creator.can_approve
    with pytest.raises(GatewayError) as info:
        creator.approve_payouts(["ref-001"])
    assert info.value.kind == "rejected"
    with pytest.raises(GatewayError):
        creator.reject_payouts(["ref-001"], "salah rekening")
    assert len(mock.calls) == 0


def test_approve_and_reject_use_the_approver_key(approver: IrisClient, mock) -> None:
    mock.add(responses.POST, f"{API}/payouts/approve", json={"status": "ok"})
    mock.add(responses.POST, f"{API}/payouts/reject", json={"status": "ok"})
    assert approver.approve_payouts(["ref-001", "ref-002"], otp="123456") == {"status": "ok"}
    approver.reject_payouts(["ref-003"], "salah rekening")
    approve, reject = (call.request for call in mock.calls)
    assert approve.headers["Authorization"] == basic_auth(APPROVER)
    assert json.loads(approve.body) == {"reference_nos": ["ref-001", "ref-002"], "otp": "123456"}
    assert json.loads(reject.body) == {
        "reference_nos": ["ref-003"],
        "reject_reason": "salah rekening",
    }
    with pytest.raises(ValueError):
        approver.approve_payouts("ref-001")
    with pytest.raises(ValueError):
        approver.reject_payouts(["ref-001"], " ")


def test_get_payout_and_retries(creator: IrisClient, mock, sleeps: SleepRecorder) -> None:
    url = f"{API}/payouts/ref-001"
    mock.add(responses.GET, url, body=requests.exceptions.ReadTimeout("slow"))
    mock.add(
        responses.GET,
        url,
        json={"reference_no": "ref-001", "status": "completed", "amount": "100000.00"},
    )
    info = creator.get_payout("ref-001")
    assert (info.reference_no, info.status, info.amount_idr) == ("ref-001", "completed", 100000)
    assert sleeps.calls == [0.5]


def test_get_timeout_retried_bounded(creator: IrisClient, mock) -> None:
    mock.add(responses.GET, f"{API}/payouts/ref-001", body=requests.exceptions.ReadTimeout())
    with pytest.raises(GatewayError) as info:
        creator.get_payout("ref-001")
    assert info.value.kind == "transient"
    assert len(mock.calls) == 3


@pytest.mark.parametrize(
    ("status", "body", "content_type", "kind"),
    [
        (401, "HTTP Basic: Access denied.\n", "text/plain", "rejected"),
        (502, "<html><h1>502 Bad Gateway</h1></html>", "text/html", "transient"),
        (200, "<html>captive portal</html>", "text/html", "transient"),
        (404, '{"error_message": "Payout not found"}', "application/json", "rejected"),
        (429, '{"error_message": "slow down"}', "application/json", "transient"),
        (302, "", "text/plain", "unknown"),
    ],
)
def test_error_mapping(mock, status: int, body: str, content_type: str, kind: str) -> None:
    client = IrisClient(CREATOR, get_retries=0)
    mock.add(
        responses.GET, f"{API}/payouts/ref-001", body=body, status=status, content_type=content_type
    )
    with pytest.raises(GatewayError) as info:
        client.get_payout("ref-001")
    assert info.value.kind == kind
    assert CREATOR not in str(info.value)


def test_validate_account_and_balance(creator: IrisClient, mock) -> None:
    mock.add(
        responses.GET,
        f"{API}/account_validation",
        match=[responses.matchers.query_param_matcher({"bank": "bca", "account": "1234567890"})],
        json={"account_name": "Budi Santoso", "account_no": "1234567890", "bank_name": "bca"},
    )
    mock.add(responses.GET, f"{API}/balance", json={"balance": "1000000.50"})
    mock.add(responses.GET, f"{API}/balance", json={"balance": "lots"})
    result = creator.validate_account("bca", "1234567890")
    assert result.account_name == "Budi Santoso" and result.bank_name == "bca"
    assert creator.balance() == 1000000
    with pytest.raises(GatewayError) as info:
        creator.balance()
    assert info.value.kind == "unknown"


def test_repr_hides_keys(approver: IrisClient) -> None:
    assert CREATOR not in repr(approver) and APPROVER not in repr(approver)


# --------------------------------------------------------------------------- signatures


def test_iris_signature_verify() -> None:
    body = b'{"reference_no":"ref-001","amount":"100000.00","status":"completed"}'
    signature = hashlib.sha512(body + MERCHANT_KEY.encode()).hexdigest()
    assert sign_iris_notification(body, MERCHANT_KEY) == signature
    assert verify_iris_signature(body, signature, MERCHANT_KEY)
    assert verify_iris_signature(body, signature.upper(), MERCHANT_KEY)
    assert not verify_iris_signature(body.replace(b"completed", b"failed"), signature, MERCHANT_KEY)
    assert not verify_iris_signature(body + b" ", signature, MERCHANT_KEY)
    assert not verify_iris_signature(body, signature, MERCHANT_KEY + "x")
    assert not verify_iris_signature(body, None, MERCHANT_KEY)
    assert not verify_iris_signature(body, "", MERCHANT_KEY)
    assert not verify_iris_signature(body, signature, "")
    assert not verify_iris_signature(body.decode(), signature, MERCHANT_KEY)  # type: ignore[arg-type]
    assert not verify_iris_signature(body, "é" * 128, MERCHANT_KEY)


# --------------------------------------------------------------------------- disbursers


def test_iris_disburser(mock) -> None:
    disburser = IrisDisburser(IrisClient(CREATOR))
    mock.add(
        responses.POST,
        f"{API}/payouts",
        json={"payouts": [{"status": "queued", "reference_no": "ref-9"}]},
    )
    mock.add(
        responses.GET, f"{API}/payouts/ref-9", json={"reference_no": "ref-9", "status": "approved"}
    )
    assert disburser.submit(item(), "payout-9") == "ref-9"
    assert disburser.status("ref-9") == "approved"
    assert mock.calls[0].request.headers["X-Idempotency-Key"] == "payout-9"


def test_fake_disburser_idempotency() -> None:
    fake = FakeDisburser(MERCHANT_KEY)
    ref = fake.submit(item(), "payout-1")
    assert fake.submit(item(), "payout-1") == ref
    assert fake.status(ref) == "queued"
    assert fake.submit(item(), "payout-2") != ref
    with pytest.raises(GatewayError) as info:
        fake.submit(item(amount_idr=200000), "payout-1")
    assert info.value.kind == "rejected"
    with pytest.raises(GatewayError):
        fake.status("nope")


def test_fake_disburser_notifications_are_signed() -> None:
    now = dt.datetime(2025, 6, 1, 5, 0, tzinfo=dt.UTC)
    fake = FakeDisburser(MERCHANT_KEY, clock=lambda: now)
    ref = fake.submit(item(), "payout-1")
    notification = fake.simulate(ref, "approved")
    assert verify_iris_signature(notification.body, notification.signature, MERCHANT_KEY)
    assert notification.headers[IRIS_SIGNATURE_HEADER] == notification.signature
    assert notification.json() == {
        "reference_no": ref,
        "amount": "100000.00",
        "status": "approved",
        "updated_at": "2025-06-01T05:00:00Z",
        "error_code": None,
        "error_message": None,
    }
    fake.simulate(ref, "completed")
    late = fake.simulate(ref, "failed", error_code="BANK_RETURN", error_message="dikembalikan")
    assert late.json()["error_code"] == "BANK_RETURN"
    assert fake.status(ref) == "failed"
    fake.simulate(ref, "failed")  # a duplicate delivery is allowed
    with pytest.raises(ValueError):
        fake.simulate(ref, "completed")  # failed is terminal
    with pytest.raises(ValueError):
        fake.simulate(ref, "paid")


def test_payout_transitions() -> None:
    assert payout_transition_allowed("queued", "approved")
    assert payout_transition_allowed("queued", "rejected")
    assert payout_transition_allowed("approved", "processed")
    assert payout_transition_allowed("processed", "completed")
    assert payout_transition_allowed("completed", "failed")
    assert not payout_transition_allowed("completed", "processed")
    assert not payout_transition_allowed("rejected", "approved")
    assert not payout_transition_allowed("failed", "completed")
    assert not payout_transition_allowed("approved", "queued")
    assert not payout_transition_allowed("unknown", "queued")


# --------------------------------------------------------------------------- confirmation


def _payout_answer(mock, status: str, reference: str = "ref-001", http: int = 200) -> None:
    mock.add(
        responses.GET,
        f"{API}/payouts/{reference}",
        json={"reference_no": reference, "status": status, "amount": "100000.00"},
        status=http,
    )


def test_confirmation_applies_what_iris_reports_not_what_the_notice_claims(mock) -> None:
    from kmp.payments.iris import confirm_payout_status

    client = IrisClient(CREATOR, get_retries=0)
    _payout_answer(mock, "completed")
    assert confirm_payout_status(client, "ref-001", "failed") == "completed"
    request = mock.calls[0].request
    assert request.method == "GET" and request.headers["Authorization"] == basic_auth(CREATOR)


def test_confirmation_of_a_true_notice_returns_it(mock) -> None:
    from kmp.payments.iris import confirm_payout_status

    _payout_answer(mock, "failed")
    client = IrisClient(CREATOR, get_retries=0)
    assert confirm_payout_status(client, "ref-001", "failed") == "failed"


@pytest.mark.parametrize(
    "answer",
    [
        {"json": {"error_message": "down"}, "status": 503},
        {"json": {"reference_no": "someone-else", "status": "failed"}, "status": 200},
        {"json": {"reference_no": "ref-001"}, "status": 200},
        {"body": requests.exceptions.ConnectTimeout("slow")},
    ],
)
def test_confirmation_refuses_when_iris_cannot_say(mock, answer) -> None:
    from kmp.payments.iris import PayoutNotConfirmed, confirm_payout_status

    mock.add(responses.GET, f"{API}/payouts/ref-001", **answer)
    with pytest.raises(PayoutNotConfirmed) as caught:
        confirm_payout_status(IrisClient(CREATOR, get_retries=0), "ref-001", "completed")
    assert caught.value.status == 503


def test_confirmation_through_a_disburser_reads_its_status() -> None:
    from kmp.payments.iris import confirm_payout_status

    fake = FakeDisburser(MERCHANT_KEY)
    reference = fake.submit(item(), "SHU-2025-1")
    fake.simulate(reference, "completed")
    assert confirm_payout_status(fake, reference, "failed") == "completed"
