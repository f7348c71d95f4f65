"""Midtrans Iris (Payouts): a small ``requests`` client, notification signatures, a fake.

No Python client for Iris is maintained, so this is ours (spec: ``docs/midtrans.md`` §4).

* HTTP Basic with the API key as user name and an empty password. A *creator* key creates
  payouts and reads; only an *approver* key approves or rejects. Keep the approver key out
  of the web app so a payout still needs two people: ``IrisClient`` refuses approve/reject
  when it has none.
* Every request has ``(connect, read)`` timeouts; failures become ``GatewayError``
  (``rejected`` | ``transient`` | ``unknown``) like the Midtrans gateway. Only GETs are
  retried (bounded). ``create_payouts`` sends ``X-Idempotency-Key``: the caller may resend
  it with the *same* key and body after a transient failure.
* Statuses: queued -> approved | rejected; approved -> processed | completed | failed;
  processed -> completed | failed; ``completed`` can later become ``failed``.
* Notifications: verify header ``Iris-Signature`` = sha512_hex(raw_body + merchant_key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

import requests

from kmp.errors import DomainError
from kmp.http import SharedSession
from kmp.i18n import gettext
from kmp.money import MoneyError, parse_gateway_amount, to_gateway_amount
from kmp.payments.gateway import (
    GatewayError,
    HttpRequester,
    classify_http_status,
)
from kmp.timeutil import now_utc

__all__ = [
    "DEV_IRIS_MERCHANT_KEY",
    "IRIS_PRODUCTION_BASE_URL",
    "IRIS_SANDBOX_BASE_URL",
    "IRIS_SIGNATURE_HEADER",
    "AccountValidation",
    "Disburser",
    "FakeDisburser",
    "IrisClient",
    "IrisDisburser",
    "PayoutInfo",
    "PayoutItem",
    "PayoutReceipt",
    "PayoutStatus",
    "SignedIrisNotification",
    "payout_transition_allowed",
    "sign_iris_notification",
    "confirm_payout_status",
    "verify_iris_signature",
]

IRIS_SANDBOX_BASE_URL = "https://app.sandbox.midtrans.com/iris"
IRIS_PRODUCTION_BASE_URL = "https://app.midtrans.com/iris"
IRIS_SIGNATURE_HEADER = "Iris-Signature"
#: Signs the fake disburser's notifications outside production (production refuses it).
DEV_IRIS_MERCHANT_KEY = "fake-merchant"


class PayoutStatus(StrEnum):
    QUEUED = "queued"
    APPROVED = "approved"
    REJECTED = "rejected"
    PROCESSED = "processed"
    COMPLETED = "completed"
    FAILED = "failed"


_NEXT: dict[str, frozenset[str]] = {
    "queued": frozenset({"approved", "rejected", "processed", "completed", "failed"}),
    "approved": frozenset({"processed", "completed", "failed"}),
    "processed": frozenset({"completed", "failed"}),
    "completed": frozenset({"failed"}),  # the bank can return the money later
    "rejected": frozenset(),
    "failed": frozenset(),
}


def payout_transition_allowed(current: str, new: str) -> bool:
    """Whether Iris can move a payout from ``current`` to ``new`` (forward moves only)."""
    return new in _NEXT.get(current, frozenset())


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class PayoutItem:
    """One payout. E-wallets: ``beneficiary_bank`` ``gopay``/``ovo``, account = phone."""

    beneficiary_name: str
    beneficiary_account: str
    beneficiary_bank: str
    amount_idr: int
    notes: str
    beneficiary_email: str | None = None

    def __post_init__(self) -> None:
        for name in ("beneficiary_name", "beneficiary_account", "beneficiary_bank", "notes"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        if len(self.notes) > 100:
            raise ValueError("notes must be at most 100 characters")
        to_gateway_amount(self.amount_idr)  # MoneyError unless a positive int

    def to_api(self) -> dict[str, str]:
        body = {
            "beneficiary_name": self.beneficiary_name,
            "beneficiary_account": self.beneficiary_account,
            "beneficiary_bank": self.beneficiary_bank,
            "amount": f"{to_gateway_amount(self.amount_idr)}.00",
            "notes": self.notes,
        }
        if self.beneficiary_email:
            body["beneficiary_email"] = self.beneficiary_email
        return body


@dataclass(frozen=True, slots=True)
class PayoutReceipt:
    reference_no: str
    status: str


@dataclass(frozen=True, slots=True)
class PayoutInfo:
    """``GET /payouts/{reference_no}``, parsed leniently (``amount_idr`` None if malformed)."""

    reference_no: str | None
    status: str | None
    amount_text: str | None
    amount_idr: int | None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PayoutInfo:
        amount = payload.get("amount")
        amount_text = amount if isinstance(amount, str) else None
        try:
            amount_idr = parse_gateway_amount(amount_text) if amount_text is not None else None
        except MoneyError:
            amount_idr = None
        ref = payload.get("reference_no")
        status = payload.get("status")
        return cls(
            reference_no=ref if isinstance(ref, str) else None,
            status=status if isinstance(status, str) else None,
            amount_text=amount_text,
            amount_idr=amount_idr,
            raw=dict(payload),
        )


@dataclass(frozen=True, slots=True)
class AccountValidation:
    account_name: str | None
    account_no: str | None
    bank_name: str | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignedIrisNotification:
    """What Iris would POST: the raw body and its ``Iris-Signature`` header."""

    body: bytes
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", IRIS_SIGNATURE_HEADER: self.signature}

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


# --------------------------------------------------------------------------- signatures


def sign_iris_notification(raw_body: bytes, merchant_key: str) -> str:
    if not isinstance(raw_body, bytes | bytearray):
        raise TypeError("raw_body must be bytes")
    if not isinstance(merchant_key, str) or not merchant_key:
        raise ValueError("merchant_key must be a non-empty string")
    return hashlib.sha512(bytes(raw_body) + merchant_key.encode("utf-8")).hexdigest()


def verify_iris_signature(raw_body: bytes, header_value: str | None, merchant_key: str) -> bool:
    """``Iris-Signature`` == sha512_hex(raw_body + merchant_key), in constant time.

    Pass the body bytes exactly as received (not re-serialised JSON). Anything missing or
    of the wrong type gives False.
    """
    if not isinstance(raw_body, bytes | bytearray):
        return False
    if not isinstance(header_value, str) or not header_value.strip():
        return False
    if not isinstance(merchant_key, str) or not merchant_key:
        return False
    expected = sign_iris_notification(raw_body, merchant_key)
    received = header_value.strip().lower()
    return hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8"))


# --------------------------------------------------------------------------- client

_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,100}\Z")
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


def _short(text: object, limit: int = 300) -> str:
    value = str(text)
    return value if len(value) <= limit else value[:limit] + "…"


def _error_detail(body: Any) -> str:
    if isinstance(body, Mapping):
        parts = [body.get("error_message"), body.get("errors")]
        return _short("; ".join(str(p) for p in parts if p))
    return ""


def _check_refs(reference_nos: Sequence[str]) -> list[str]:
    if isinstance(reference_nos, str):
        raise ValueError("reference_nos must be a list of reference numbers")
    refs = list(reference_nos)
    if not refs or not all(isinstance(r, str) and r for r in refs):
        raise ValueError("reference_nos must be non-empty strings")
    return refs


class IrisClient:
    """Iris REST client (``{base}/api/v1/...``). Keys never appear in ``repr``."""

    def __init__(
        self,
        creator_key: str,
        approver_key: str | None = None,
        is_production: bool = False,
        timeouts: tuple[float, float] = (5.0, 15.0),
        *,
        http: HttpRequester | None = None,
        base_url: str | None = None,
        get_retries: int = 2,
        retry_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(creator_key, str) or not creator_key:
            raise ValueError("an Iris creator key is required")
        if approver_key is not None and (not isinstance(approver_key, str) or not approver_key):
            raise ValueError("approver_key must be a non-empty string or None")
        connect, read = timeouts
        if connect <= 0 or read <= 0:
            raise ValueError("timeouts must be positive")
        if isinstance(get_retries, bool) or not isinstance(get_retries, int):
            raise ValueError("get_retries must be an int")
        if not 0 <= get_retries <= 5:
            raise ValueError("get_retries must be between 0 and 5")
        self.is_production = bool(is_production)
        default = IRIS_PRODUCTION_BASE_URL if self.is_production else IRIS_SANDBOX_BASE_URL
        self.base_url = (base_url or default).rstrip("/")
        self.timeouts = (float(connect), float(read))
        self._creator_key = creator_key
        self._approver_key = approver_key
        # Default: the shared outbound session, without its own retries (GETs are retried
        # here, a POST only with the same idempotency key by the caller).
        self._http: HttpRequester = http if http is not None else SharedSession(retries=0)
        self._get_retries = get_retries
        self._retry_backoff = retry_backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return (
            f"<IrisClient production={self.is_production} "
            f"approver={'yes' if self._approver_key else 'no'}>"
        )

    @property
    def can_approve(self) -> bool:
        return self._approver_key is not None

    # -- transport

    def _once(
        self,
        method: str,
        path: str,
        key: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        action = f"Iris {method} {path}"
        all_headers = {"Accept": "application/json", "User-Agent": "kmp-iris"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        try:
            response = self._http.request(
                method,
                f"{self.base_url}/api/v1{path}",
                auth=requests.auth.HTTPBasicAuth(key, ""),
                data=json.dumps(body) if body is not None else None,
                params=dict(params) if params else None,
                headers=all_headers,
                timeout=self.timeouts,
                allow_redirects=False,
            )
        except _NETWORK_ERRORS as exc:
            raise GatewayError(
                "transient", f"{action}: {type(exc).__name__}: {_short(exc)}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise GatewayError("unknown", f"{action}: {type(exc).__name__}: {_short(exc)}") from exc
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
            is_json = False
        else:
            is_json = True
        if status >= 400:
            detail = _error_detail(data) or _short(response.text, 120)
            raise GatewayError(
                classify_http_status(status),
                f"{action}: HTTP {status}: {detail}",
                http_status=status,
                response=data,
            )
        if not 200 <= status < 300:
            raise GatewayError("unknown", f"{action}: unexpected HTTP {status}", http_status=status)
        if not is_json:
            raise GatewayError(
                "transient",
                f"{action}: non-JSON answer (HTTP {status}): {_short(response.text, 120)}",
                http_status=status,
            )
        return data

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        attempts = 1 + self._get_retries
        for attempt in range(attempts):
            try:
                return self._once("GET", path, self._creator_key, params=params)
            except GatewayError as err:
                if err.kind != "transient" or attempt + 1 >= attempts:
                    raise
            self._sleep(self._retry_backoff * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _approver(self, what: str) -> str:
        if self._approver_key is None:
            raise GatewayError(
                "rejected", f"{what} needs the Iris approver key, which this client does not hold"
            )
        return self._approver_key

    @staticmethod
    def _object(data: Any, action: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise GatewayError("unknown", f"{action}: answer is not a JSON object")
        return data

    # -- API

    def create_payouts(
        self, items: Sequence[PayoutItem], idempotency_key: str
    ) -> list[PayoutReceipt]:
        """POST ``/payouts`` (creator key) with ``X-Idempotency-Key``; not retried here."""
        items = list(items)
        if not items or not all(isinstance(i, PayoutItem) for i in items):
            raise ValueError("items must be a non-empty list of PayoutItem")
        if not isinstance(idempotency_key, str) or not _IDEMPOTENCY_KEY_RE.fullmatch(
            idempotency_key
        ):
            raise ValueError("idempotency_key must be 1-100 printable ASCII characters")
        data = self._once(
            "POST",
            "/payouts",
            self._creator_key,
            body={"payouts": [item.to_api() for item in items]},
            headers={"X-Idempotency-Key": idempotency_key},
        )
        payouts = self._object(data, "create payouts").get("payouts")
        if not isinstance(payouts, list) or len(payouts) != len(items):
            raise GatewayError("unknown", "create payouts: unexpected 'payouts' in the answer")
        receipts = []
        for entry in payouts:
            ref = entry.get("reference_no") if isinstance(entry, Mapping) else None
            status = entry.get("status") if isinstance(entry, Mapping) else None
            if not isinstance(ref, str) or not ref or not isinstance(status, str):
                raise GatewayError("unknown", "create payouts: a payout without reference_no")
            receipts.append(PayoutReceipt(reference_no=ref, status=status))
        return receipts

    def approve_payouts(self, reference_nos: Sequence[str], otp: str | None = None) -> dict:
        """POST ``/payouts/approve`` (approver key only; ``otp`` if the account needs it)."""
        key = self._approver("approving payouts")
        body: dict[str, Any] = {"reference_nos": _check_refs(reference_nos)}
        if otp is not None:
            body["otp"] = otp
        return dict(self._object(self._once("POST", "/payouts/approve", key, body=body), "approve"))

    def reject_payouts(self, reference_nos: Sequence[str], reason: str) -> dict:
        """POST ``/payouts/reject`` (approver key only)."""
        key = self._approver("rejecting payouts")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a reject reason is required")
        body = {"reference_nos": _check_refs(reference_nos), "reject_reason": reason}
        return dict(self._object(self._once("POST", "/payouts/reject", key, body=body), "reject"))

    def get_payout(self, reference_no: str) -> PayoutInfo:
        ref = _check_refs([reference_no])[0]
        data = self._get(f"/payouts/{quote(ref, safe='')}")
        return PayoutInfo.from_payload(self._object(data, "get payout"))

    def validate_account(self, bank: str, account: str) -> AccountValidation:
        """GET ``/account_validation``: the holder's name, to compare before submitting."""
        if not (isinstance(bank, str) and bank and isinstance(account, str) and account):
            raise ValueError("bank and account are required")
        data = self._object(
            self._get("/account_validation", {"bank": bank, "account": account}),
            "account validation",
        )

        def text(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        return AccountValidation(
            account_name=text("account_name"),
            account_no=text("account_no"),
            bank_name=text("bank_name"),
            raw=dict(data),
        )

    def balance(self) -> int:
        """GET ``/balance`` in whole Rupiah (rounded down)."""
        value = self._object(self._get("/balance"), "balance").get("balance")
        try:
            amount = Decimal(str(value)) if isinstance(value, str | int) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            raise GatewayError("unknown", f"balance: malformed amount {_short(value, 40)!r}")
        return int(amount.to_integral_value(rounding=ROUND_FLOOR))


# --------------------------------------------------------------------------- confirmation


class PayoutNotConfirmed(DomainError):
    """Iris could not be asked about a notified payout: answer 503 so Iris sends it again."""

    status = 503
    code = "payout_not_confirmed"


def confirm_payout_status(source: IrisClient | Disburser, reference_no: str, claimed: str) -> str:
    """The status Iris itself reports for ``reference_no``, to apply instead of the one a
    notification ``claimed``: a notification only tells us *that* something changed, as
    Midtrans notifications are confirmed with GET status (docs/midtrans.md §3, §6).

    ``source`` is an ``IrisClient`` (``GET /payouts/{reference_no}``) or a ``Disburser``
    (``status(reference)``: Iris, or the fake outside production). A forged ``failed`` for a
    completed transfer therefore comes back as ``completed`` and changes nothing. Raises
    ``PayoutNotConfirmed`` (503) when Iris cannot answer or answers about another payout.
    """
    log = logging.getLogger("kmp.payments.iris")
    try:
        if isinstance(source, IrisClient):
            info = source.get_payout(reference_no)
            if info.reference_no not in (None, reference_no) or info.status is None:
                raise GatewayError("unknown", f"payout {reference_no}: unexpected answer")
            status = info.status
        else:
            status = source.status(reference_no)
    except (GatewayError, ValueError) as error:
        log.warning("Iris payout %s could not be confirmed: %s", reference_no, error)
        raise PayoutNotConfirmed(
            gettext(
                "Status transfer belum bisa dipastikan ke penyedia pembayaran; coba lagi nanti."
            )
        ) from None
    status = str(status).strip().lower()
    if status != str(claimed or "").strip().lower():
        log.warning(
            "Iris notification for %s claimed %r, Iris reports %r: applying Iris's status",
            reference_no,
            claimed,
            status,
        )
    return status


# --------------------------------------------------------------------------- disbursers


class Disburser(Protocol):
    """What the SHU payout flow needs: submit one item, read its status later."""

    def submit(self, item: PayoutItem, idempotency_key: str) -> str: ...

    def status(self, reference: str) -> str: ...


class IrisDisburser:
    """``Disburser`` over a real ``IrisClient`` (creator key is enough)."""

    def __init__(self, client: IrisClient) -> None:
        self.client = client

    def submit(self, item: PayoutItem, idempotency_key: str) -> str:
        return self.client.create_payouts([item], idempotency_key)[0].reference_no

    def status(self, reference: str) -> str:
        info = self.client.get_payout(reference)
        if info.status is None:
            raise GatewayError("unknown", f"payout {reference}: no status in the answer")
        return info.status


class FakeDisburser:
    """In-memory Iris for development and tests. Never for production.

    ``submit`` honours idempotency keys like Iris (same key + same item -> same reference;
    same key + another item -> ``rejected``). ``simulate`` moves a payout forward and
    returns the signed notification Iris would POST.
    """

    is_fake = True

    def __init__(self, merchant_key: str, *, clock: Callable[[], dt.datetime] = now_utc) -> None:
        if not isinstance(merchant_key, str) or not merchant_key:
            raise ValueError("the fake still signs notifications: a merchant key is required")
        self.merchant_key = merchant_key
        self._clock = clock
        self._lock = threading.Lock()
        self._by_key: dict[str, tuple[dict[str, str], str]] = {}
        self._payouts: dict[str, dict[str, Any]] = {}

    def submit(self, item: PayoutItem, idempotency_key: str) -> str:
        if not isinstance(idempotency_key, str) or not _IDEMPOTENCY_KEY_RE.fullmatch(
            idempotency_key
        ):
            raise ValueError("idempotency_key must be 1-100 printable ASCII characters")
        body = item.to_api()
        with self._lock:
            seen = self._by_key.get(idempotency_key)
            if seen is not None:
                if seen[0] != body:
                    raise GatewayError(
                        "rejected", "idempotency key reused with a different body", http_status=409
                    )
                return seen[1]
            reference = uuid.uuid4().hex[:20]
            self._by_key[idempotency_key] = (body, reference)
            self._payouts[reference] = {**body, "reference_no": reference, "status": "queued"}
        return reference

    def status(self, reference: str) -> str:
        with self._lock:
            payout = self._payouts.get(reference)
            if payout is None:
                raise GatewayError("rejected", f"unknown payout {reference}", http_status=404)
            return payout["status"]

    def get(self, reference: str) -> dict[str, Any] | None:
        with self._lock:
            payout = self._payouts.get(reference)
            return dict(payout) if payout is not None else None

    def simulate(
        self,
        reference: str,
        status: str,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> SignedIrisNotification:
        if status not in _NEXT:
            raise ValueError(f"status must be one of {', '.join(_NEXT)}")
        with self._lock:
            payout = self._payouts.get(reference)
            if payout is None:
                raise GatewayError("rejected", f"unknown payout {reference}", http_status=404)
            if status != payout["status"] and not payout_transition_allowed(
                payout["status"], status
            ):
                raise ValueError(f"Iris cannot move a payout from {payout['status']} to {status}")
            payout["status"] = status
            amount = payout["amount"]
        notification = {
            "reference_no": reference,
            "amount": amount,
            "status": status,
            "updated_at": self._clock().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "error_code": error_code,
            "error_message": error_message,
        }
        body = json.dumps(notification, separators=(",", ":")).encode("utf-8")
        return SignedIrisNotification(
            body=body, signature=sign_iris_notification(body, self.merchant_key)
        )
