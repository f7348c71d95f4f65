"""The Midtrans edge of KMP: Snap checkout, status look-ups, webhook signatures, a fake.

This module has no Flask and no database dependency; a later step wires it into the models
and views. Spec and traps: ``docs/midtrans.md`` (shared research notes).

* ``MidtransGateway`` wraps ``midtransclient`` 1.4.2 with a transport that puts a
  ``(connect, read)`` timeout on every request (the library has none) and turns every
  failure into a ``GatewayError`` with ``kind`` ``rejected`` | ``transient`` | ``unknown``.
  Only GET status is retried, a bounded number of times. ``transactions.notification()``
  is never used (it does not check signatures and misplaces its arguments).
* ``verify_notification_signature`` checks a webhook body with the raw received strings.
* ``PaymentState`` / ``state_from_status`` / ``next_state``: the pure ranking that makes late
  and duplicated notifications harmless.
* ``FakeGateway``: an in-process stand-in for the SIMULASI page and the tests. It must never
  run in production; the configuration refuses it there (enforced in ``kmp.config``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol
from urllib.parse import quote

import midtransclient
import requests
from midtransclient.error_midtrans import JSONDecodeError as MidtransJSONDecodeError
from midtransclient.error_midtrans import MidtransAPIError

from kmp.http import SharedSession
from kmp.money import MoneyError, parse_gateway_amount, to_gateway_amount
from kmp.timeutil import now_utc, to_jakarta

__all__ = [
    "DEFAULT_ENABLED_PAYMENTS",
    "NON_PAID_TERMINAL_STATES",
    "OPEN_STATES",
    "ORDER_ID_RE",
    "SIMULATABLE_OUTCOMES",
    "CheckoutRequest",
    "CheckoutSession",
    "FakeGateway",
    "FakeStore",
    "GatewayError",
    "HttpRequester",
    "InMemoryFakeStore",
    "MidtransGateway",
    "PaymentGateway",
    "PaymentState",
    "StatusResult",
    "UnknownStatusError",
    "classify_http_status",
    "is_late_settlement",
    "new_order_id",
    "next_state",
    "sign_notification",
    "state_from_status",
    "validate_order_id",
    "verify_notification_signature",
]

# --------------------------------------------------------------------------- errors

ErrorKind = Literal["rejected", "transient", "unknown"]
_KINDS: frozenset[str] = frozenset({"rejected", "transient", "unknown"})


class GatewayError(Exception):
    """A failed call to a payment provider.

    ``kind``:
      * ``rejected``: the provider refused the request (4xx: bad key, validation, duplicate
        order_id, "cannot modify"). Retrying the same request will not help.
      * ``transient``: timeout, connection error, 5xx, 408/429 or a non-JSON answer (e.g. an
        HTML 502 page). It may be retried later. After ``create_checkout`` the transaction
        may or may not exist at Midtrans: mark the attempt TOKEN_UNKNOWN.
      * ``unknown``: anything else (an answer we cannot make sense of).
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        http_status: int | None = None,
        response: Any = None,
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown GatewayError kind {kind!r}")
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.http_status = http_status
        self.response = response

    @property
    def is_transient(self) -> bool:
        return self.kind == "transient"

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


def _short(text: object, limit: int = 300) -> str:
    value = str(text)
    return value if len(value) <= limit else value[:limit] + "…"


# --------------------------------------------------------------------------- order ids

ORDER_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,50}\Z")
_PURPOSE_RE = re.compile(r"^[A-Za-z0-9]{1,10}\Z")
_INTENT_RE = re.compile(r"^[A-Za-z0-9]{1,24}\Z")


def validate_order_id(order_id: object) -> str:
    """Return ``order_id`` if Midtrans accepts it (letters, digits, ``. _ ~ -``, ≤ 50)."""
    if not isinstance(order_id, str) or not ORDER_ID_RE.fullmatch(order_id):
        raise ValueError(f"invalid Midtrans order_id {order_id!r}")
    return order_id


def new_order_id(purpose_code: str, intent_id: int | str, business_date: dt.date) -> str:
    """A fresh order id ``KOP-<TYPE>-<yyyymmdd>-<intent>-<rand4>`` for one payment attempt.

    ``purpose_code``: 1–10 letters/digits (upper-cased); ``intent_id``: a non-negative int
    (zero-padded to 4 digits) or 1–24 letters/digits; ``business_date``: the Jakarta
    business date (a ``date``, not a ``datetime``). ``rand4`` is 4 hex chars from
    ``secrets``. Raises ``ValueError`` on bad input or when the result would not be a
    valid Midtrans order_id.
    """
    if not isinstance(purpose_code, str) or not _PURPOSE_RE.fullmatch(purpose_code):
        raise ValueError(f"invalid purpose code {purpose_code!r}")
    if isinstance(intent_id, bool):
        raise ValueError("intent_id must be an int or a short code")
    if isinstance(intent_id, int):
        if intent_id < 0:
            raise ValueError("intent_id must not be negative")
        intent = f"{intent_id:04d}"
    elif isinstance(intent_id, str) and _INTENT_RE.fullmatch(intent_id):
        intent = intent_id
    else:
        raise ValueError(f"invalid intent_id {intent_id!r}")
    if isinstance(business_date, dt.datetime) or not isinstance(business_date, dt.date):
        raise ValueError("business_date must be a date (use kmp.timeutil.business_date())")
    order_id = f"KOP-{purpose_code.upper()}-{business_date:%Y%m%d}-{intent}-{secrets.token_hex(2)}"
    return validate_order_id(order_id)


# --------------------------------------------------------------------------- checkout

DEFAULT_ENABLED_PAYMENTS: tuple[str, ...] = (
    "bca_va",
    "bni_va",
    "bri_va",
    "permata_va",
    "echannel",
    "other_va",
    "gopay",
    "shopeepay",
    "other_qris",
    "indomaret",
    "alfamart",
)


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What we ask Snap for: one item whose price equals the gross amount (whole IDR).

    ``expiry_minutes`` (or ``None`` for the Midtrans default) counts from the moment the
    customer picks a channel (no ``start_time`` is sent). An empty ``enabled_payments``
    means every channel enabled in the dashboard.
    """

    order_id: str
    amount_idr: int
    item_name: str
    customer_first_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    finish_url: str | None = None
    expiry_minutes: int | None = 24 * 60
    item_id: str | None = None
    enabled_payments: tuple[str, ...] = DEFAULT_ENABLED_PAYMENTS

    def __post_init__(self) -> None:
        validate_order_id(self.order_id)
        to_gateway_amount(self.amount_idr)  # MoneyError (a ValueError) unless a positive int
        if not isinstance(self.item_name, str) or not self.item_name.strip():
            raise ValueError("item_name must be a non-empty string")
        if self.expiry_minutes is not None and (
            isinstance(self.expiry_minutes, bool)
            or not isinstance(self.expiry_minutes, int)
            or self.expiry_minutes <= 0
        ):
            raise ValueError("expiry_minutes must be a positive int or None")
        if not all(isinstance(p, str) and p for p in self.enabled_payments):
            raise ValueError("enabled_payments must be non-empty channel codes")

    def to_snap_params(self) -> dict[str, Any]:
        """The Snap ``POST /transactions`` body."""
        amount = to_gateway_amount(self.amount_idr)
        params: dict[str, Any] = {
            "transaction_details": {"order_id": self.order_id, "gross_amount": amount},
            "item_details": [
                {
                    "id": (self.item_id or self.order_id)[:50],
                    "price": amount,
                    "quantity": 1,
                    "name": self.item_name.strip()[:50],
                }
            ],
        }
        if self.enabled_payments:
            params["enabled_payments"] = list(self.enabled_payments)
        customer = {
            key: value[:255]
            for key, value in (
                ("first_name", self.customer_first_name),
                ("email", self.customer_email),
                ("phone", self.customer_phone),
            )
            if value
        }
        if customer:
            params["customer_details"] = customer
        if self.finish_url:
            params["callbacks"] = {"finish": self.finish_url}
        if self.expiry_minutes is not None:
            params["expiry"] = {"unit": "minute", "duration": self.expiry_minutes}
        return params


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    token: str
    redirect_url: str


# --------------------------------------------------------------------------- states


class UnknownStatusError(ValueError):
    """A ``transaction_status`` this module does not know (store it, answer 2xx, review)."""


class PaymentState(StrEnum):
    """State of one payment attempt; only moves to a higher ``rank`` (see ``next_state``)."""

    CREATED = "CREATED"
    TOKEN_ISSUED = "TOKEN_ISSUED"  # noqa: S105 - a state name, not a secret
    TOKEN_UNKNOWN = "TOKEN_UNKNOWN"  # noqa: S105
    PENDING = "PENDING"
    CHALLENGE = "CHALLENGE"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    DENIED = "DENIED"
    FAILED = "FAILED"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    REVERSED = "REVERSED"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK: dict[PaymentState, int] = {
    PaymentState.CREATED: 0,
    PaymentState.TOKEN_ISSUED: 1,
    PaymentState.TOKEN_UNKNOWN: 1,
    PaymentState.PENDING: 2,
    PaymentState.CHALLENGE: 3,
    PaymentState.EXPIRED: 4,
    PaymentState.CANCELLED: 4,
    PaymentState.DENIED: 4,
    PaymentState.FAILED: 4,
    PaymentState.PAID: 5,
    PaymentState.PARTIALLY_REFUNDED: 6,
    PaymentState.REFUNDED: 7,
    PaymentState.REVERSED: 7,
}

NON_PAID_TERMINAL_STATES: frozenset[PaymentState] = frozenset(
    {PaymentState.EXPIRED, PaymentState.CANCELLED, PaymentState.DENIED, PaymentState.FAILED}
)
"""No money was received and none will be for this attempt (unless a late settlement)."""

OPEN_STATES: frozenset[PaymentState] = frozenset(
    {
        PaymentState.TOKEN_ISSUED,
        PaymentState.TOKEN_UNKNOWN,
        PaymentState.PENDING,
        PaymentState.CHALLENGE,
    }
)
"""Attempts the reconciliation job should poll with GET status."""

_MONEY_IN_STATES = frozenset({PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED})
_REVERSAL_TRIGGERS = frozenset({PaymentState.DENIED, PaymentState.CANCELLED, PaymentState.FAILED})

_SIMPLE_STATUS: dict[str, PaymentState] = {
    "settlement": PaymentState.PAID,
    "pending": PaymentState.PENDING,
    "authorize": PaymentState.PENDING,  # card pre-auth: no money yet
    "deny": PaymentState.DENIED,
    "cancel": PaymentState.CANCELLED,
    "expire": PaymentState.EXPIRED,
    "failure": PaymentState.FAILED,
    "refund": PaymentState.REFUNDED,
    "partial_refund": PaymentState.PARTIALLY_REFUNDED,
    "chargeback": PaymentState.REVERSED,
    "partial_chargeback": PaymentState.PARTIALLY_REFUNDED,
}


def _norm(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value or None


def state_from_status(
    transaction_status: str | None, fraud_status: str | None = None
) -> PaymentState:
    """Map Midtrans ``transaction_status`` (+ ``fraud_status``) to a ``PaymentState``.

    ``capture`` is money only with fraud ``accept`` or no fraud status at all; ``challenge``
    (or any other fraud status) is CHALLENGE and ``deny`` is DENIED. ``settlement`` is PAID.
    Raises ``UnknownStatusError`` for statuses not in the documented table.
    """
    status = _norm(transaction_status)
    fraud = _norm(fraud_status)
    if status == "capture":
        if fraud in (None, "accept"):
            return PaymentState.PAID
        if fraud == "deny":
            return PaymentState.DENIED
        return PaymentState.CHALLENGE
    if status is not None and status in _SIMPLE_STATUS:
        return _SIMPLE_STATUS[status]
    raise UnknownStatusError(f"unknown Midtrans transaction_status {transaction_status!r}")


def next_state(current: PaymentState, incoming: PaymentState) -> PaymentState | None:
    """The state to move to, or ``None`` when ``incoming`` must be ignored.

    * deny / cancel / failure after PAID (or PARTIALLY_REFUNDED) -> REVERSED (money gone);
    * otherwise only a strictly higher rank is applied, so duplicated, stale and
      out-of-order events do nothing;
    * PAID after EXPIRED/CANCELLED/DENIED/FAILED is applied (money wins); flag it with
      ``is_late_settlement`` for the treasurer.
    """
    current = PaymentState(current)
    incoming = PaymentState(incoming)
    if current in _MONEY_IN_STATES and incoming in _REVERSAL_TRIGGERS:
        return PaymentState.REVERSED
    if incoming.rank <= current.rank:
        return None
    return incoming


def is_late_settlement(current: PaymentState, new: PaymentState | None) -> bool:
    """True when money arrives for an attempt we already closed as not paid."""
    return new == PaymentState.PAID and current in NON_PAID_TERMINAL_STATES


# --------------------------------------------------------------------------- status result


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class StatusResult:
    """A Midtrans status response or notification body, parsed leniently.

    Strings are kept exactly as received (``gross_amount_text`` e.g. ``"150000.00"``);
    ``amount_idr`` is ``None`` when the amount is missing or malformed. ``not_found`` is
    True for "404" (no payment channel chosen yet, or an unknown order).
    """

    order_id: str | None
    transaction_id: str | None
    transaction_status: str | None
    fraud_status: str | None
    gross_amount_text: str | None
    amount_idr: int | None
    currency: str | None
    status_code: str | None
    payment_type: str | None
    raw: dict[str, Any] = field(default_factory=dict)
    not_found: bool = False

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> StatusResult:
        if not isinstance(payload, Mapping):
            raise TypeError(
                f"a Midtrans payload must be a JSON object, got {type(payload).__name__}"
            )
        gross = payload.get("gross_amount")
        gross_text = gross if isinstance(gross, str) else None
        try:
            amount = parse_gateway_amount(gross_text) if gross_text is not None else None
        except MoneyError:
            amount = None
        status_code = _text(payload.get("status_code"))
        return cls(
            order_id=_text(payload.get("order_id")),
            transaction_id=_text(payload.get("transaction_id")),
            transaction_status=_text(payload.get("transaction_status")),
            fraud_status=_text(payload.get("fraud_status")),
            gross_amount_text=gross_text,
            amount_idr=amount,
            currency=_text(payload.get("currency")),
            status_code=status_code,
            payment_type=_text(payload.get("payment_type")),
            raw=dict(payload),
            not_found=status_code == "404",
        )

    @classmethod
    def for_not_found(cls, order_id: str, payload: Mapping[str, Any] | None = None) -> StatusResult:
        raw = dict(payload) if isinstance(payload, Mapping) else {}
        return cls(
            order_id=order_id,
            transaction_id=None,
            transaction_status=None,
            fraud_status=None,
            gross_amount_text=None,
            amount_idr=None,
            currency=None,
            status_code="404",
            payment_type=None,
            raw=raw,
            not_found=True,
        )

    @property
    def state(self) -> PaymentState | None:
        """The mapped state, or ``None`` when not found or the status is unknown."""
        if self.not_found:
            return None
        try:
            return state_from_status(self.transaction_status, self.fraud_status)
        except UnknownStatusError:
            return None

    def signature_valid(self, server_key: str) -> bool:
        return verify_notification_signature(self.raw, server_key)


# --------------------------------------------------------------------------- signatures

_SIGNED_FIELDS = ("order_id", "status_code", "gross_amount")


def _signature_base(payload: object) -> str | None:
    if not isinstance(payload, Mapping):
        return None
    values = [payload.get(name) for name in _SIGNED_FIELDS]
    if not all(isinstance(v, str) for v in values):
        return None
    return "".join(values)  # type: ignore[arg-type]


def sign_notification(payload: Mapping[str, Any], server_key: str) -> str:
    """``sha512_hex(order_id + status_code + gross_amount + server_key)`` of the raw strings."""
    base = _signature_base(payload)
    if base is None:
        raise ValueError("order_id, status_code and gross_amount must all be strings")
    if not isinstance(server_key, str) or not server_key:
        raise ValueError("server_key must be a non-empty string")
    return hashlib.sha512((base + server_key).encode("utf-8")).hexdigest()


def verify_notification_signature(payload: Mapping[str, Any], server_key: str) -> bool:
    """True only if ``signature_key`` matches; missing or non-string fields give False.

    Uses the values exactly as received (never rebuild ``gross_amount`` from an int) and
    compares in constant time.
    """
    if not isinstance(server_key, str) or not server_key:
        return False
    base = _signature_base(payload)
    if base is None:
        return False
    received = payload.get("signature_key")
    if not isinstance(received, str) or not received:
        return False
    expected = hashlib.sha512((base + server_key).encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), received.lower().encode("utf-8"))


# --------------------------------------------------------------------------- the protocol


class PaymentGateway(Protocol):
    def create_checkout(self, req: CheckoutRequest) -> CheckoutSession: ...

    def get_status(self, order_id: str) -> StatusResult: ...

    def cancel(self, order_id: str) -> StatusResult: ...

    def expire(self, order_id: str) -> StatusResult: ...


class HttpRequester(Protocol):
    """Anything with ``requests``' ``request(method, url, **kwargs)`` (module or Session)."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...


# --------------------------------------------------------------------------- Midtrans

_TRANSIENT_HTTP = frozenset({408, 425, 429})
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


def classify_http_status(status: int) -> ErrorKind:
    """``transient`` for 5xx/408/425/429, ``rejected`` for other 4xx, else ``unknown``."""
    if status >= 500 or status in _TRANSIENT_HTTP:
        return "transient"
    if 400 <= status < 500:
        return "rejected"
    return "unknown"


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


class _TimeoutTransport:
    """Put in place of ``HttpClient.http_client``: forces ``(connect, read)`` timeouts.

    It also answers non-JSON error pages itself (the library would raise a bare JSON
    decode error and lose the HTTP status).
    """

    def __init__(self, http: HttpRequester, timeout: tuple[float, float]) -> None:
        self._http = http
        self._timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = self._timeout
        response = self._http.request(method, url, **kwargs)
        if not _is_json(response):
            status = response.status_code
            kind = classify_http_status(status) if status >= 400 else "transient"
            raise GatewayError(
                kind,
                f"non-JSON answer from Midtrans (HTTP {status}): {_short(response.text, 120)}",
                http_status=status,
            )
        return response


def _api_error_code(exc: MidtransAPIError) -> int:
    if exc.http_status_code >= 400:
        return exc.http_status_code
    body = exc.api_response_dict
    if isinstance(body, Mapping):
        try:
            return int(body.get("status_code"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return exc.http_status_code


def _is_not_found(exc: MidtransAPIError) -> bool:
    return _api_error_code(exc) == 404


def _to_gateway_error(exc: BaseException, action: str) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, _NETWORK_ERRORS):
        return GatewayError("transient", f"{action}: {type(exc).__name__}: {_short(exc)}")
    if isinstance(exc, MidtransJSONDecodeError):
        return GatewayError("transient", f"{action}: non-JSON answer: {_short(exc)}")
    if isinstance(exc, MidtransAPIError):
        code = _api_error_code(exc)
        body = exc.api_response_dict if isinstance(exc.api_response_dict, Mapping) else None
        detail = ""
        if body is not None:
            detail = _short(body.get("error_messages") or body.get("status_message") or "")
        return GatewayError(
            classify_http_status(code),
            f"{action}: Midtrans answered {code}" + (f": {detail}" if detail else ""),
            http_status=code,
            response=dict(body) if body is not None else None,
        )
    return GatewayError("unknown", f"{action}: {type(exc).__name__}: {_short(exc)}")


def _path_id(order_or_transaction_id: str) -> str:
    if not isinstance(order_or_transaction_id, str) or not order_or_transaction_id:
        raise ValueError("an order_id or transaction_id is required")
    return quote(order_or_transaction_id, safe="")


class MidtransGateway:
    """Real Midtrans: Snap for checkout, Core API ``/v2/{id}/…`` for status/cancel/expire.

    Every request carries ``(connect_timeout, read_timeout)``. ``get_status`` retries
    transient failures ``status_retries`` times (exponential backoff from
    ``retry_backoff`` seconds); nothing else is retried. ``http`` may be any object with
    ``request(method, url, **kw)`` (default: ``kmp.http``'s shared per-thread session).
    ``notification_url`` sets ``X-Override-Notification`` on Snap calls.
    """

    def __init__(
        self,
        server_key: str,
        client_key: str,
        is_production: bool,
        connect_timeout: float = 5,
        read_timeout: float = 15,
        status_retries: int = 2,
        *,
        http: HttpRequester | None = None,
        retry_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        notification_url: str | None = None,
    ) -> None:
        if not isinstance(server_key, str) or not server_key:
            raise ValueError("a Midtrans server key is required")
        if is_production and server_key.startswith("SB-"):
            raise ValueError("a sandbox server key cannot be used in production")
        if isinstance(status_retries, bool) or not isinstance(status_retries, int):
            raise ValueError("status_retries must be an int")
        if not 0 <= status_retries <= 5:
            raise ValueError("status_retries must be between 0 and 5")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self.client_key = client_key
        self.is_production = bool(is_production)
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.status_retries = status_retries
        self._retry_backoff = retry_backoff
        self._sleep = sleep
        # Default: the shared outbound session without its own retries (get_status retries).
        shared = http if http is not None else SharedSession(retries=0)
        transport = _TimeoutTransport(shared, self.timeout)
        snap_headers = {"X-Override-Notification": notification_url} if notification_url else {}
        # Fresh dicts: the library's default header/proxy dicts are shared between instances.
        self._snap = midtransclient.Snap(
            is_production=self.is_production,
            server_key=server_key,
            client_key=client_key,
            custom_headers=snap_headers,
            proxies={},
        )
        self._snap.http_client.http_client = transport
        self._core = midtransclient.CoreApi(
            is_production=self.is_production,
            server_key=server_key,
            client_key=client_key,
            custom_headers={},
            proxies={},
        )
        self._core.http_client.http_client = transport

    def __repr__(self) -> str:  # never show the server key
        return f"<MidtransGateway production={self.is_production} timeout={self.timeout}>"

    def create_checkout(self, req: CheckoutRequest) -> CheckoutSession:
        """POST Snap ``/transactions``. A ``transient`` error means "maybe created"."""
        action = f"create Snap transaction {req.order_id}"
        try:
            body = self._snap.create_transaction(req.to_snap_params())
        except Exception as exc:
            raise _to_gateway_error(exc, action) from exc
        token = body.get("token") if isinstance(body, Mapping) else None
        url = body.get("redirect_url") if isinstance(body, Mapping) else None
        if not (isinstance(token, str) and token and isinstance(url, str) and url):
            raise GatewayError("unknown", f"{action}: no token/redirect_url in the answer")
        return CheckoutSession(token=token, redirect_url=url)

    def get_status(self, order_id: str) -> StatusResult:
        """GET ``/v2/{id}/status`` (order_id or transaction_id), retried when transient.

        "404" (HTTP 404, or HTTP 200 with body ``status_code`` "404") gives a result with
        ``not_found=True``.
        """
        path_id = _path_id(order_id)
        attempts = 1 + self.status_retries
        for attempt in range(attempts):
            try:
                body = self._core.transactions.status(path_id)
                if not isinstance(body, Mapping):
                    raise GatewayError("unknown", "status answer is not a JSON object")
                return StatusResult.from_payload(body)
            except MidtransAPIError as exc:
                if _is_not_found(exc):
                    return StatusResult.for_not_found(order_id, exc.api_response_dict)
                error, cause = _to_gateway_error(exc, f"status {order_id}"), exc
            except Exception as exc:
                error, cause = _to_gateway_error(exc, f"status {order_id}"), exc
            if error.kind != "transient" or attempt + 1 >= attempts:
                if error.kind == "transient" and attempts > 1:
                    error.message = f"{error.message} (after {attempts} attempts)"
                raise error from cause
            self._sleep(self._retry_backoff * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_action(self, order_id: str, action: str) -> StatusResult:
        path_id = _path_id(order_id)
        method = getattr(self._core.transactions, action)
        try:
            body = method(path_id)
        except MidtransAPIError as exc:
            if _is_not_found(exc):
                return StatusResult.for_not_found(order_id, exc.api_response_dict)
            raise _to_gateway_error(exc, f"{action} {order_id}") from exc
        except Exception as exc:
            raise _to_gateway_error(exc, f"{action} {order_id}") from exc
        if not isinstance(body, Mapping):
            raise GatewayError("unknown", f"{action} {order_id}: answer is not a JSON object")
        return StatusResult.from_payload(body)

    def cancel(self, order_id: str) -> StatusResult:
        """POST ``/v2/{id}/cancel`` (not retried). 412 "cannot modify" -> ``rejected``."""
        return self._post_action(order_id, "cancel")

    def expire(self, order_id: str) -> StatusResult:
        """POST ``/v2/{id}/expire`` (not retried); not_found when no channel was chosen."""
        return self._post_action(order_id, "expire")


# --------------------------------------------------------------------------- the fake


class FakeStore(Protocol):
    """Where ``FakeGateway`` keeps orders: JSON-serialisable dicts by key.

    The in-memory store serves one process; a DB-backed store (same two methods) lets the
    web workers and the SIMULASI page share it. Keys are order ids plus ``txn:<id>``
    aliases (``:`` never occurs in an order id).
    """

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, record: dict[str, Any]) -> None: ...


class InMemoryFakeStore:
    """A dict behind a lock; records are copied through JSON so they stay serialisable."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            text = self._data.get(key)
        return None if text is None else json.loads(text)

    def put(self, key: str, record: dict[str, Any]) -> None:
        text = json.dumps(record)
        with self._lock:
            self._data[key] = text


SIMULATABLE_OUTCOMES: tuple[str, ...] = ("settlement", "pending", "expire", "deny", "cancel")
_FAKE_STATUS_CODES = {
    "settlement": "200",
    "pending": "201",
    "expire": "407",
    "deny": "202",
    "cancel": "200",
}
_FAKE_PAID_OR_CLOSED = frozenset({"settlement", "capture", "expire", "deny", "cancel"})


def _wall_time(instant: dt.datetime) -> str:
    """Midtrans' time format: Jakarta (+0700) wall time ``YYYY-MM-DD HH:MM:SS``."""
    return to_jakarta(instant).strftime("%Y-%m-%d %H:%M:%S")


class FakeGateway:
    """In-process Midtrans for development, the SIMULASI page and tests.

    NEVER use it in production: the configuration refuses the fake when production is set
    (enforced in ``kmp.config``, not here). ``create_checkout`` returns a redirect to the
    local ``{base_url}/payments/simulate/{order_id}`` page; ``simulate`` records an
    outcome and returns a signed, Midtrans-shaped notification for the caller to POST to
    the webhook. ``get_status`` answers like GET status (by order_id or transaction_id),
    "404" until a first ``simulate``.
    """

    is_fake = True

    def __init__(
        self,
        server_key: str,
        base_url: str,
        store: FakeStore | None = None,
        *,
        clock: Callable[[], dt.datetime] = now_utc,
        merchant_id: str = "G000000000",
    ) -> None:
        if not isinstance(server_key, str) or not server_key:
            raise ValueError("the fake still signs notifications: a server key is required")
        self.server_key = server_key
        self.base_url = base_url.rstrip("/")
        self.store: FakeStore = store if store is not None else InMemoryFakeStore()
        self._clock = clock
        self._merchant_id = merchant_id

    def __repr__(self) -> str:
        return f"<FakeGateway base_url={self.base_url!r}>"

    def create_checkout(self, req: CheckoutRequest) -> CheckoutSession:
        if self.store.get(req.order_id) is not None:
            raise GatewayError("rejected", f"order_id {req.order_id} already used", http_status=406)
        token = str(uuid.uuid4())
        redirect_url = f"{self.base_url}/payments/simulate/{quote(req.order_id, safe='')}"
        self.store.put(
            req.order_id,
            {
                "order_id": req.order_id,
                "gross_amount": f"{to_gateway_amount(req.amount_idr)}.00",
                "item_name": req.item_name,
                "token": token,
                "redirect_url": redirect_url,
                "expiry_minutes": req.expiry_minutes,
                "created_at": self._clock().isoformat(),
                "payload": None,
            },
        )
        return CheckoutSession(token=token, redirect_url=redirect_url)

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        """The stored record (amount, item, token, last payload) for the SIMULASI page."""
        return self._resolve(order_id)

    def _resolve(self, key: str) -> dict[str, Any] | None:
        record = self.store.get(key)
        if record is None and not key.startswith("txn:"):
            alias = self.store.get(f"txn:{key}")
            if alias is not None:
                record = self.store.get(alias["order_id"])
        return record

    def simulate(self, order_id: str, outcome: str) -> dict[str, Any]:
        """Record ``outcome`` and return the signed notification body for it."""
        if outcome not in SIMULATABLE_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(SIMULATABLE_OUTCOMES)}")
        record = self.store.get(order_id)
        if record is None:
            raise GatewayError("rejected", f"unknown order {order_id}", http_status=404)
        return self._record(record, outcome)

    def _record(self, record: dict[str, Any], outcome: str) -> dict[str, Any]:
        now = self._clock()
        previous = record.get("payload")
        if previous is None:  # first channel choice: a transaction now exists
            transaction_id = str(uuid.uuid4())
            record["transaction_id"] = transaction_id
            record["transaction_time"] = _wall_time(now)
            record["va_number"] = f"{secrets.randbelow(10**11):011d}"
            minutes = record.get("expiry_minutes")
            if minutes:
                record["expiry_time"] = _wall_time(now + dt.timedelta(minutes=minutes))
            self.store.put(f"txn:{transaction_id}", {"order_id": record["order_id"]})
        payload: dict[str, Any] = {
            "transaction_time": record["transaction_time"],
            "transaction_status": outcome,
            "transaction_id": record["transaction_id"],
            "status_message": "midtrans payment notification",
            "status_code": _FAKE_STATUS_CODES[outcome],
            "payment_type": "bank_transfer",
            "order_id": record["order_id"],
            "merchant_id": self._merchant_id,
            "gross_amount": record["gross_amount"],
            "currency": "IDR",
            "va_numbers": [{"va_number": record["va_number"], "bank": "bca"}],
        }
        if outcome in ("settlement", "pending", "deny"):
            payload["fraud_status"] = "accept"
        if outcome == "settlement":
            payload["settlement_time"] = _wall_time(now)
        if outcome == "pending" and record.get("expiry_time"):
            payload["expiry_time"] = record["expiry_time"]
        payload["signature_key"] = sign_notification(payload, self.server_key)
        record["payload"] = payload
        self.store.put(record["order_id"], record)
        return dict(payload)

    def get_status(self, order_id: str) -> StatusResult:
        record = self._resolve(_checked_key(order_id))
        if record is None or record.get("payload") is None:
            return StatusResult.for_not_found(
                order_id, {"status_code": "404", "status_message": "Transaction doesn't exist."}
            )
        body = dict(record["payload"])
        body["status_message"] = "Success, transaction is found"
        return StatusResult.from_payload(body)

    def _change(self, order_id: str, outcome: str) -> StatusResult:
        record = self._resolve(_checked_key(order_id))
        if record is None or record.get("payload") is None:
            return StatusResult.for_not_found(order_id, {"status_code": "404"})
        if record["payload"]["transaction_status"] in _FAKE_PAID_OR_CLOSED:
            raise GatewayError(
                "rejected", "Merchant cannot modify the status of the transaction", http_status=412
            )
        return StatusResult.from_payload(self._record(record, outcome))

    def cancel(self, order_id: str) -> StatusResult:
        return self._change(order_id, "cancel")

    def expire(self, order_id: str) -> StatusResult:
        return self._change(order_id, "expire")


def _checked_key(order_id: str) -> str:
    if not isinstance(order_id, str) or not order_id or order_id.startswith("txn:"):
        raise ValueError("an order_id or transaction_id is required")
    return order_id
