"""Which gateway the app talks to (``KMP_PAYMENT_GATEWAY`` = ``fake`` | ``midtrans``).

``get_gateway(app)`` builds the gateway once per app and caches it in ``app.extensions``;
``get_gateway(app, for_webhook=True)`` is the same provider with a short read timeout and no
retries (the webhook answers Midtrans within seconds and lets reconciliation catch up).
``set_gateway(app, gateway)`` swaps both in tests.

The fake keeps its simulated orders in the database (``DbFakeStore``, table
``fake_gateway_orders``), so every gunicorn worker, the SIMULASI page and browser tests see
the same orders. It signs notifications with ``MIDTRANS_SERVER_KEY`` (a fixed development
key when unset), so the webhook verifies them with exactly the code that verifies Midtrans.

Optional settings (``app.config``; defaults in brackets): ``MIDTRANS_CONNECT_TIMEOUT`` [5],
``MIDTRANS_READ_TIMEOUT`` [15], ``MIDTRANS_STATUS_RETRIES`` [2],
``MIDTRANS_WEBHOOK_READ_TIMEOUT`` [5], ``MIDTRANS_NOTIFICATION_URL`` [unset: the dashboard's],
``KMP_FAKE_GATEWAY_BASE_URL`` [empty: relative ``/payments/simulate/...`` links].
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from kmp.config import ConfigError
from kmp.extensions import db
from kmp.payments.gateway import FakeGateway, MidtransGateway, PaymentGateway

#: Signs the fake's notifications when MIDTRANS_SERVER_KEY is unset (development only).
DEV_FAKE_SERVER_KEY = "SB-Mid-server-KMP-DEV-FAKE-GATEWAY-ONLY"  # noqa: S105 - not a secret

GATEWAY_KINDS = ("fake", "midtrans")


class DbFakeStore:
    """``FakeStore`` in the ``fake_gateway_orders`` table (through the request's session).

    Writes join the caller's transaction: the boundary that commits the payment attempt or
    the inbox row commits the simulated order with it.
    """

    def get(self, key: str) -> dict[str, Any] | None:
        from kmp.payments.models import FakeGatewayOrder

        row = db.session.get(FakeGatewayOrder, key, populate_existing=True)
        if row is None:
            return None
        return json.loads(json.dumps(row.record))  # a private copy the fake may mutate

    def put(self, key: str, record: dict[str, Any]) -> None:
        from kmp.payments.models import FakeGatewayOrder

        value = json.loads(json.dumps(record))
        row = db.session.get(FakeGatewayOrder, key)
        if row is None:
            db.session.add(FakeGatewayOrder(key=key, record=value))
        else:
            row.record = value
        db.session.flush()


def gateway_kind(app: Flask) -> str:
    kind = str(app.config.get("KMP_PAYMENT_GATEWAY") or "fake").strip().lower()
    if kind not in GATEWAY_KINDS:
        raise ConfigError(
            f"KMP_PAYMENT_GATEWAY={kind!r} is unknown: use one of {', '.join(GATEWAY_KINDS)}."
        )
    if kind == "fake" and app.config.get("ENV_NAME") == "production":
        raise ConfigError("KMP_PAYMENT_GATEWAY=fake is refused in production.")
    return kind


def notification_server_key(app: Flask) -> str:
    """The key that signs (Midtrans, fake) and verifies (webhook) notifications."""
    key = app.config.get("MIDTRANS_SERVER_KEY") or ""
    if key:
        return key
    if gateway_kind(app) == "fake":
        return DEV_FAKE_SERVER_KEY
    raise ConfigError("MIDTRANS_SERVER_KEY is not set: Midtrans notifications cannot be verified.")


def _build(app: Flask, *, for_webhook: bool) -> PaymentGateway:
    kind = gateway_kind(app)
    if kind == "fake":
        return FakeGateway(
            notification_server_key(app),
            base_url=str(app.config.get("KMP_FAKE_GATEWAY_BASE_URL") or ""),
            store=DbFakeStore(),
        )
    config = app.config
    return MidtransGateway(
        notification_server_key(app),
        config.get("MIDTRANS_CLIENT_KEY") or "",
        bool(config.get("MIDTRANS_IS_PRODUCTION")),
        connect_timeout=float(config.get("MIDTRANS_CONNECT_TIMEOUT", 5)),
        read_timeout=float(
            config.get("MIDTRANS_WEBHOOK_READ_TIMEOUT", 5)
            if for_webhook
            else config.get("MIDTRANS_READ_TIMEOUT", 15)
        ),
        status_retries=0 if for_webhook else int(config.get("MIDTRANS_STATUS_RETRIES", 2)),
        notification_url=config.get("MIDTRANS_NOTIFICATION_URL") or None,
    )


def get_gateway(app: Flask, *, for_webhook: bool = False) -> PaymentGateway:
    """The configured gateway (built once per app; thread-safe to share)."""
    from kmp.registry import get_registry

    registry = get_registry(app)
    gateway = registry.webhook_gateway if for_webhook else registry.gateway
    if gateway is None:
        gateway = _build(app, for_webhook=for_webhook)
        if getattr(gateway, "is_fake", False):
            # One fake serves both roles, so the webhook sees what the page simulated.
            registry.gateway = registry.gateway or gateway
            registry.webhook_gateway = registry.webhook_gateway or gateway
        elif for_webhook:
            registry.webhook_gateway = gateway
        else:
            registry.gateway = gateway
        gateway = registry.webhook_gateway if for_webhook else registry.gateway
    return gateway


def set_gateway(app: Flask, gateway: PaymentGateway | None) -> None:
    """Use ``gateway`` for checkout, webhook and reconciliation (``None``: back to config)."""
    from kmp.registry import get_registry

    registry = get_registry(app)
    registry.gateway = gateway
    registry.webhook_gateway = gateway


def is_fake_gateway(gateway: object) -> bool:
    return bool(getattr(gateway, "is_fake", False))
