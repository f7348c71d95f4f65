"""Midtrans edge: signatures (doc test vectors), Snap/status over a mocked transport, the fake.

Every HTTP test runs inside ``responses.RequestsMock()``: an unregistered URL raises
``ConnectionError``, so nothing can reach the network.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import midtransclient.transactions
import pytest
import requests
import responses

from kmp.payments.gateway import (
    DEFAULT_ENABLED_PAYMENTS,
    ORDER_ID_RE,
    CheckoutRequest,
    CheckoutSession,
    FakeGateway,
    GatewayError,
    InMemoryFakeStore,
    MidtransGateway,
    PaymentState,
    StatusResult,
    sign_notification,
    verify_notification_signature,
)

KEY = "SB-Mid-server-TEST-ONLY-NOT-A-REAL-KEY"
CLIENT_KEY = "SB-Mid-client-TEST-ONLY"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "midtrans"
SNAP_URL = "https://app.sandbox.midtrans.com/snap/v1/transactions"
CORE = "https://api.sandbox.midtrans.com"
ORDER = "KOP-SIM-20250101-0001-a1b2"
STATUS_URL = f"{CORE}/v2/{ORDER}/status"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def gw(sleeps: SleepRecorder) -> MidtransGateway:
    return MidtransGateway(KEY, CLIENT_KEY, False, status_retries=2, sleep=sleeps)


@pytest.fixture
def mock():
    with responses.RequestsMock() as rsps:
        yield rsps


def checkout_request(**overrides: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "order_id": ORDER,
        "amount_idr": 150000,
        "item_name": "Simpanan pokok",
    }
    values.update(overrides)
    return CheckoutRequest(**values)


def basic_auth(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


# --------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("name", ["settlement", "pending", "expire"])
def test_doc_test_vectors_verify(name: str) -> None:
    payload = load(name)
    assert verify_notification_signature(payload, KEY)
    assert sign_notification(payload, KEY) == payload["signature_key"]


def test_expire_signature_with_status_code_202_matches_doc() -> None:
    payload = load("expire") | {"status_code": "202"}
    signature = sign_notification(payload, KEY)
    assert signature.startswith("e2d8cac6") and signature.endswith("0b62e8")


def test_forged_signature_fails() -> None:
    payload = load("settlement")
    payload["signature_key"] = hashlib.sha512(b"forged").hexdigest()
    assert not verify_notification_signature(payload, KEY)


@pytest.mark.parametrize("gross", ["1500000.00", "150000", "150000.0", "150001.00"])
def test_tampered_or_rebuilt_gross_amount_fails(gross: str) -> None:
    payload = load("settlement") | {"gross_amount": gross}
    assert not verify_notification_signature(payload, KEY)


def test_other_key_or_tampered_fields_fail() -> None:
    payload = load("settlement")
    assert not verify_notification_signature(payload, KEY + "x")
    assert not verify_notification_signature(payload, "")
    assert not verify_notification_signature(payload | {"order_id": "KOP-X"}, KEY)
    assert not verify_notification_signature(payload | {"status_code": "201"}, KEY)


@pytest.mark.parametrize("field", ["order_id", "status_code", "gross_amount", "signature_key"])
def test_missing_or_non_string_fields_fail(field: str) -> None:
    payload = load("settlement")
    missing = {k: v for k, v in payload.items() if k != field}
    assert not verify_notification_signature(missing, KEY)
    assert not verify_notification_signature(payload | {field: 150000}, KEY)
    assert not verify_notification_signature(payload | {field: None}, KEY)


def test_odd_inputs_never_raise() -> None:
    payload = load("settlement")
    assert not verify_notification_signature(payload | {"signature_key": "ü" * 128}, KEY)
    assert not verify_notification_signature([], KEY)  # type: ignore[arg-type]
    assert not verify_notification_signature(payload, None)  # type: ignore[arg-type]
    upper = payload | {"signature_key": payload["signature_key"].upper()}
    assert verify_notification_signature(upper, KEY)


def test_sign_refuses_incomplete_payload() -> None:
    with pytest.raises(ValueError):
        sign_notification({"order_id": ORDER, "status_code": "200"}, KEY)
    with pytest.raises(ValueError):
        sign_notification(load("settlement"), "")


# --------------------------------------------------------------------------- StatusResult


def test_status_result_parses_fixture_leniently() -> None:
    result = StatusResult.from_payload(load("settlement"))
    assert result.order_id == ORDER
    assert result.transaction_id == "5b1c7e0a-0000-4000-8000-000000000001"
    assert result.transaction_status == "settlement"
    assert result.fraud_status == "accept"
    assert result.gross_amount_text == "150000.00"
    assert result.amount_idr == 150000
    assert result.currency == "IDR"
    assert result.status_code == "200"
    assert result.payment_type == "bank_transfer"
    assert result.raw["va_numbers"][0]["bank"] == "bca"
    assert not result.not_found
    assert result.state is PaymentState.PAID
    assert result.signature_valid(KEY)


def test_status_result_without_fraud_status_and_odd_values() -> None:
    expire = StatusResult.from_payload(load("expire"))
    assert expire.fraud_status is None and expire.state is PaymentState.EXPIRED
    odd = StatusResult.from_payload(
        {"gross_amount": "1.5", "transaction_status": "brand_new", "status_code": 200, "x": [1]}
    )
    assert odd.amount_idr is None and odd.gross_amount_text == "1.5"
    assert odd.status_code == "200" and odd.state is None
    assert StatusResult.from_payload({"gross_amount": 150000}).gross_amount_text is None
    with pytest.raises(TypeError):
        StatusResult.from_payload(["not", "a", "dict"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- checkout request


def test_checkout_request_validation() -> None:
    for bad in ({"order_id": "has space"}, {"order_id": "x" * 51}, {"order_id": ""}):
        with pytest.raises(ValueError):
            checkout_request(**bad)
    for amount in (0, -1, 1500.0, True, "150000"):
        with pytest.raises(ValueError):
            checkout_request(amount_idr=amount)
    with pytest.raises(ValueError):
        checkout_request(item_name="  ")
    with pytest.raises(ValueError):
        checkout_request(expiry_minutes=0)


def test_snap_params_shape() -> None:
    req = checkout_request(
        customer_first_name="Siti",
        customer_email="siti@example.id",
        customer_phone="081234567890",
        finish_url="https://kmp.example/payments/finish",
        expiry_minutes=60,
        item_name="S" * 80,
    )
    params = req.to_snap_params()
    assert params["transaction_details"] == {"order_id": ORDER, "gross_amount": 150000}
    items = params["item_details"]
    assert sum(i["price"] * i["quantity"] for i in items) == 150000
    assert len(items[0]["name"]) == 50
    assert params["customer_details"] == {
        "first_name": "Siti",
        "email": "siti@example.id",
        "phone": "081234567890",
    }
    assert params["callbacks"] == {"finish": "https://kmp.example/payments/finish"}
    assert params["expiry"] == {"unit": "minute", "duration": 60}
    assert "credit_card" not in params["enabled_payments"]
    minimal = checkout_request(expiry_minutes=None, enabled_payments=()).to_snap_params()
    assert "customer_details" not in minimal and "callbacks" not in minimal
    assert "expiry" not in minimal and "enabled_payments" not in minimal


# --------------------------------------------------------------------------- Snap over HTTP


def test_create_checkout_request_and_response(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.POST,
        SNAP_URL,
        json={"token": "tok-123", "redirect_url": "https://app.sandbox.midtrans.com/snap/v4/x"},
        status=201,
    )
    session = gw.create_checkout(checkout_request())
    assert session == CheckoutSession("tok-123", "https://app.sandbox.midtrans.com/snap/v4/x")
    request = mock.calls[0].request
    body = json.loads(request.body)
    assert body["transaction_details"]["order_id"] == ORDER
    gross = body["transaction_details"]["gross_amount"]
    assert gross == 150000 and type(gross) is int
    assert body["enabled_payments"] == list(DEFAULT_ENABLED_PAYMENTS)
    assert request.headers["Authorization"] == basic_auth(KEY)
    assert request.req_kwargs["timeout"] == (5.0, 15.0)


def test_production_urls_and_notification_header(mock) -> None:
    gw = MidtransGateway(
        "Mid-server-prod", "Mid-client-prod", True, notification_url="https://kmp.example/wh"
    )
    mock.add(
        responses.POST,
        "https://app.midtrans.com/snap/v1/transactions",
        json={"token": "t", "redirect_url": "https://app.midtrans.com/snap/v4/t"},
        status=201,
    )
    gw.create_checkout(checkout_request())
    assert mock.calls[0].request.headers["X-Override-Notification"] == "https://kmp.example/wh"


def test_sandbox_key_refused_in_production_and_repr_hides_key() -> None:
    with pytest.raises(ValueError):
        MidtransGateway(KEY, CLIENT_KEY, True)
    with pytest.raises(ValueError):
        MidtransGateway("", CLIENT_KEY, False)
    assert KEY not in repr(MidtransGateway(KEY, CLIENT_KEY, False))


def test_custom_http_client_gets_timeouts(mock) -> None:
    seen: list[dict[str, Any]] = []

    class Recorder:
        def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
            seen.append(kwargs)
            return requests.request(method, url, **kwargs)  # noqa: S113 - timeout in kwargs

    gw = MidtransGateway(KEY, CLIENT_KEY, False, connect_timeout=2, read_timeout=7, http=Recorder())
    mock.add(responses.GET, STATUS_URL, json=load("settlement"))
    gw.get_status(ORDER)
    assert seen[0]["timeout"] == (2.0, 7.0)


def test_snap_validation_error_is_rejected(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.POST,
        SNAP_URL,
        json={"error_messages": ["gross_amount is not equal to the sum of item_details"]},
        status=400,
    )
    with pytest.raises(GatewayError) as info:
        gw.create_checkout(checkout_request())
    assert info.value.kind == "rejected" and info.value.http_status == 400
    assert "gross_amount is not equal" in info.value.message


def test_snap_401_is_rejected(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.POST,
        SNAP_URL,
        json={"error_messages": ["Access denied due to unauthorized transaction"]},
        status=401,
    )
    with pytest.raises(GatewayError) as info:
        gw.create_checkout(checkout_request())
    assert info.value.kind == "rejected" and info.value.http_status == 401
    assert KEY not in str(info.value)


def test_snap_timeout_is_transient_and_not_retried(gw: MidtransGateway, mock) -> None:
    mock.add(responses.POST, SNAP_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(GatewayError) as info:
        gw.create_checkout(checkout_request())
    assert info.value.kind == "transient"
    assert len(mock.calls) == 1


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (503, {"error_messages": ["down"]}, "transient"),
        (201, {"unexpected": True}, "unknown"),
        (406, {"error_messages": ["order_id has already been taken"]}, "rejected"),
    ],
)
def test_snap_error_mapping(gw: MidtransGateway, mock, status: int, body: dict, kind: str) -> None:
    mock.add(responses.POST, SNAP_URL, json=body, status=status)
    with pytest.raises(GatewayError) as info:
        gw.create_checkout(checkout_request())
    assert info.value.kind == kind


# --------------------------------------------------------------------------- status over HTTP


def test_get_status_settlement(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, STATUS_URL, json=load("settlement"))
    result = gw.get_status(ORDER)
    assert result.state is PaymentState.PAID and result.amount_idr == 150000
    request = mock.calls[0].request
    assert request.headers["Authorization"] == basic_auth(KEY)
    assert request.req_kwargs["timeout"] == (5.0, 15.0)


def test_status_404_in_200_body_is_not_found(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.GET,
        STATUS_URL,
        json={"status_code": "404", "status_message": "Transaction doesn't exist."},
        status=200,
    )
    result = gw.get_status(ORDER)
    assert result.not_found and result.order_id == ORDER and result.state is None
    assert len(mock.calls) == 1


def test_status_http_404_is_not_found(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, STATUS_URL, json={"status_code": "404"}, status=404)
    assert gw.get_status(ORDER).not_found


def test_status_407_expired_is_data(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, STATUS_URL, json=load("expire") | {"order_id": ORDER})
    result = gw.get_status(ORDER)
    assert result.state is PaymentState.EXPIRED and not result.not_found


def test_read_timeout_is_transient_and_retried_bounded(
    gw: MidtransGateway, mock, sleeps: SleepRecorder
) -> None:
    mock.add(responses.GET, STATUS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(GatewayError) as info:
        gw.get_status(ORDER)
    assert info.value.kind == "transient"
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)
    assert len(mock.calls) == 3  # 1 try + status_retries=2
    assert sleeps.calls == [0.5, 1.0]


def test_retry_then_success(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, STATUS_URL, body=requests.exceptions.ConnectTimeout("slow"))
    mock.add(responses.GET, STATUS_URL, json=load("settlement"))
    assert gw.get_status(ORDER).state is PaymentState.PAID
    assert len(mock.calls) == 2


def test_no_retries_when_disabled(mock) -> None:
    gw = MidtransGateway(KEY, CLIENT_KEY, False, status_retries=0, sleep=SleepRecorder())
    mock.add(responses.GET, STATUS_URL, body=requests.exceptions.ReadTimeout("x"))
    with pytest.raises(GatewayError):
        gw.get_status(ORDER)
    assert len(mock.calls) == 1


def test_html_502_is_transient(gw: MidtransGateway, mock) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    mock.add(responses.GET, STATUS_URL, body=html, status=502, content_type="text/html")
    with pytest.raises(GatewayError) as info:
        gw.get_status(ORDER)
    assert info.value.kind == "transient" and info.value.http_status == 502
    assert len(mock.calls) == 3


def test_status_401_is_rejected_and_not_retried(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.GET,
        STATUS_URL,
        json={"status_code": "401", "status_message": "Unknown Merchant server_key/id"},
        status=401,
    )
    with pytest.raises(GatewayError) as info:
        gw.get_status(ORDER)
    assert info.value.kind == "rejected" and info.value.http_status == 401
    assert len(mock.calls) == 1


def test_status_500_in_200_body_is_transient(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, STATUS_URL, json={"status_code": "500"}, status=200)
    with pytest.raises(GatewayError) as info:
        gw.get_status(ORDER)
    assert info.value.kind == "transient"


def test_status_garbage_is_unknown(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, STATUS_URL, json={"status_code": "not-a-number"}, status=200)
    with pytest.raises(GatewayError) as info:
        gw.get_status(ORDER)
    assert info.value.kind == "unknown"
    assert len(mock.calls) == 1


def test_status_by_transaction_id_is_path_quoted(gw: MidtransGateway, mock) -> None:
    mock.add(responses.GET, f"{CORE}/v2/a%2Fb/status", json=load("pending"))
    assert gw.get_status("a/b").state is PaymentState.PENDING


def test_cancel_and_expire(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.POST,
        f"{CORE}/v2/{ORDER}/cancel",
        json=load("pending") | {"transaction_status": "cancel", "status_code": "200"},
    )
    mock.add(responses.POST, f"{CORE}/v2/{ORDER}/expire", json=load("expire"))
    assert gw.cancel(ORDER).state is PaymentState.CANCELLED
    assert gw.expire(ORDER).state is PaymentState.EXPIRED


def test_cancel_cannot_modify_is_rejected_and_not_retried(gw: MidtransGateway, mock) -> None:
    mock.add(
        responses.POST,
        f"{CORE}/v2/{ORDER}/cancel",
        json={"status_code": "412", "status_message": "Merchant cannot modify the status"},
    )
    with pytest.raises(GatewayError) as info:
        gw.cancel(ORDER)
    assert info.value.kind == "rejected"
    assert len(mock.calls) == 1


def test_post_timeout_not_retried(gw: MidtransGateway, mock) -> None:
    mock.add(responses.POST, f"{CORE}/v2/{ORDER}/expire", body=requests.exceptions.ReadTimeout())
    with pytest.raises(GatewayError) as info:
        gw.expire(ORDER)
    assert info.value.kind == "transient"
    assert len(mock.calls) == 1


def test_expire_unknown_order_is_not_found(gw: MidtransGateway, mock) -> None:
    mock.add(responses.POST, f"{CORE}/v2/{ORDER}/expire", json={"status_code": "404"})
    assert gw.expire(ORDER).not_found


def test_library_notification_helper_is_never_used(
    gw: MidtransGateway, mock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("transactions.notification() must not be used")

    monkeypatch.setattr(midtransclient.transactions.Transactions, "notification", forbidden)
    mock.add(responses.GET, STATUS_URL, json=load("settlement"))
    mock.add(responses.POST, f"{CORE}/v2/{ORDER}/cancel", json={"status_code": "412"})
    assert gw.get_status(ORDER).state is PaymentState.PAID
    with pytest.raises(GatewayError):
        gw.cancel(ORDER)


def test_gateway_error_kinds() -> None:
    with pytest.raises(ValueError):
        GatewayError("oops", "x")  # type: ignore[arg-type]
    err = GatewayError("transient", "boom", http_status=503)
    assert err.is_transient and "transient" in str(err)


# --------------------------------------------------------------------------- the fake

FIXED = dt.datetime(2025, 1, 1, 3, 0, 0, tzinfo=dt.UTC)  # 10:00 in Jakarta
WALL = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(KEY, "http://localhost:5000/", clock=lambda: FIXED)


def test_fake_checkout_and_not_found_before_simulate(fake: FakeGateway) -> None:
    session = fake.create_checkout(checkout_request())
    assert session.token
    assert session.redirect_url == f"http://localhost:5000/payments/simulate/{ORDER}"
    assert fake.get_status(ORDER).not_found
    assert fake.get_order(ORDER)["gross_amount"] == "150000.00"
    with pytest.raises(GatewayError) as info:
        fake.create_checkout(checkout_request())
    assert info.value.kind == "rejected"


def test_fake_settlement_payload_is_signed_and_midtrans_shaped(fake: FakeGateway) -> None:
    fake.create_checkout(checkout_request())
    payload = fake.simulate(ORDER, "settlement")
    assert verify_notification_signature(payload, KEY)
    assert payload["gross_amount"] == "150000.00"
    assert payload["status_code"] == "200"
    assert payload["transaction_time"] == "2025-01-01 10:00:00"
    assert payload["settlement_time"] == "2025-01-01 10:00:00"
    assert WALL.match(payload["transaction_time"])
    assert payload["currency"] == "IDR" and payload["order_id"] == ORDER
    status = fake.get_status(ORDER)
    assert status.state is PaymentState.PAID and status.amount_idr == 150000
    assert fake.get_status(payload["transaction_id"]).order_id == ORDER


@pytest.mark.parametrize(
    ("outcome", "code", "state"),
    [
        ("settlement", "200", PaymentState.PAID),
        ("pending", "201", PaymentState.PENDING),
        ("expire", "407", PaymentState.EXPIRED),
        ("deny", "202", PaymentState.DENIED),
        ("cancel", "200", PaymentState.CANCELLED),
    ],
)
def test_fake_outcomes(fake: FakeGateway, outcome: str, code: str, state: PaymentState) -> None:
    fake.create_checkout(checkout_request())
    payload = fake.simulate(ORDER, outcome)
    assert payload["status_code"] == code
    assert verify_notification_signature(payload, KEY)
    assert StatusResult.from_payload(payload).state is state
    assert fake.get_status(ORDER).state is state


def test_fake_keeps_transaction_id_and_rejects_bad_input(fake: FakeGateway) -> None:
    fake.create_checkout(checkout_request())
    first = fake.simulate(ORDER, "pending")
    second = fake.simulate(ORDER, "settlement")
    assert first["transaction_id"] == second["transaction_id"]
    assert first["expiry_time"] == "2025-01-02 10:00:00"
    with pytest.raises(ValueError):
        fake.simulate(ORDER, "capture")
    with pytest.raises(GatewayError):
        fake.simulate("KOP-NOPE", "settlement")


def test_fake_cancel_and_expire(fake: FakeGateway) -> None:
    fake.create_checkout(checkout_request())
    assert fake.expire(ORDER).not_found  # no channel chosen yet
    fake.simulate(ORDER, "pending")
    assert fake.cancel(ORDER).state is PaymentState.CANCELLED
    with pytest.raises(GatewayError) as info:
        fake.expire(ORDER)
    assert info.value.kind == "rejected" and info.value.http_status == 412


def test_fake_state_lives_in_a_replaceable_store() -> None:
    class DictStore:
        def __init__(self) -> None:
            self.data: dict[str, dict] = {}

        def get(self, key: str) -> dict | None:
            return json.loads(json.dumps(self.data[key])) if key in self.data else None

        def put(self, key: str, record: dict) -> None:
            self.data[key] = json.loads(json.dumps(record))

    store = DictStore()
    web = FakeGateway(KEY, "http://x", store)
    worker = FakeGateway(KEY, "http://x", store)
    web.create_checkout(checkout_request())
    web.simulate(ORDER, "settlement")
    assert worker.get_status(ORDER).state is PaymentState.PAID
    shared = InMemoryFakeStore()
    FakeGateway(KEY, "http://x", shared).create_checkout(checkout_request())
    assert FakeGateway(KEY, "http://x", shared).get_order(ORDER) is not None


def test_fake_order_ids_are_valid() -> None:
    assert ORDER_ID_RE.fullmatch(ORDER)
