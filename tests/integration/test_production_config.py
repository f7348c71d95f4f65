"""Production refuses to start when an enabled adapter lacks a secret, naming the missing
variable, and never accepts a development constant in place of a secret (issue 24)."""

from __future__ import annotations

import pytest

from kmp import create_app
from kmp.config import ConfigError

PRODUCTION = {
    "SECRET_KEY": "s" * 48,
    "KMP_PAYMENT_GATEWAY": "midtrans",
    "MIDTRANS_SERVER_KEY": "Mid-server-production-test",
    "MIDTRANS_CLIENT_KEY": "Mid-client-production-test",
    "KMP_DISBURSER": "iris",
    "KMP_IRIS_CREATOR_KEY": "iris-creator-test",
    "KMP_IRIS_MERCHANT_KEY": "iris-merchant-test",
    "KMP_NOTIFIER": "email",
    "KMP_SMTP_HOST": "smtp.example.test",
    "KMP_SMTP_USER": "kmp@example.test",
    "KMP_SMTP_PASSWORD": "smtp-password-test",
}


def _start(**changes):
    return create_app("production", **dict(PRODUCTION, **changes))


def test_a_complete_production_configuration_starts():
    app = _start()
    assert app.config["ENV_NAME"] == "production"


@pytest.mark.parametrize("name", ["MIDTRANS_SERVER_KEY", "MIDTRANS_CLIENT_KEY"])
def test_midtrans_needs_its_keys(name):
    with pytest.raises(ConfigError, match=f"{name} is not set") as caught:
        _start(**{name: ""})
    assert "KMP_PAYMENT_GATEWAY=midtrans" in str(caught.value)


@pytest.mark.parametrize("name", ["KMP_IRIS_CREATOR_KEY", "KMP_IRIS_MERCHANT_KEY"])
def test_iris_needs_the_creator_and_the_merchant_key(name):
    with pytest.raises(ConfigError, match=f"{name} is not set") as caught:
        _start(**{name: ""})
    assert "KMP_DISBURSER=iris" in str(caught.value)


@pytest.mark.parametrize("name", ["KMP_SMTP_HOST", "KMP_SMTP_USER", "KMP_SMTP_PASSWORD"])
def test_email_notifications_need_the_smtp_settings(name):
    with pytest.raises(ConfigError, match=f"{name} is not set") as caught:
        _start(**{name: None})
    assert "KMP_NOTIFIER=email" in str(caught.value)


def test_every_missing_variable_is_named():
    with pytest.raises(ConfigError) as caught:
        _start(MIDTRANS_SERVER_KEY="", MIDTRANS_CLIENT_KEY="")
    assert "MIDTRANS_SERVER_KEY, MIDTRANS_CLIENT_KEY are not set" in str(caught.value)


def test_smtp_is_not_needed_when_email_is_not_the_notifier():
    sms = {"KMP_SMS_PROVIDER": "zenziva", "KMP_ZENZIVA_USERKEY": "u", "KMP_ZENZIVA_PASSKEY": "p"}
    app = _start(KMP_NOTIFIER="sms", KMP_SMTP_HOST="", KMP_SMTP_PASSWORD="", **sms)
    assert app.config["KMP_NOTIFIER"] == "sms"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KMP_IRIS_MERCHANT_KEY", "fake-merchant"),
        ("MIDTRANS_SERVER_KEY", "SB-Mid-server-KMP-DEV-FAKE-GATEWAY-ONLY"),
        ("MIDTRANS_SERVER_KEY", "SB-Mid-server-TEST-ONLY-NOT-A-REAL-KEY"),
        ("SECRET_KEY", "dev-only-insecure-key-change-me"),
    ],
)
def test_no_development_constant_is_accepted(name, value):
    with pytest.raises(ConfigError, match=f"{name} is a development constant"):
        _start(**{name: value})


@pytest.mark.parametrize(
    ("setting", "value"),
    [("KMP_DISBURSER", "cash"), ("KMP_PAYMENT_GATEWAY", "paypal"), ("KMP_NOTIFIER", "fake")],
)
def test_unknown_or_simulated_adapters_are_refused(setting, value):
    with pytest.raises(ConfigError, match=setting):
        _start(**{setting: value})


def test_the_development_merchant_key_constant_is_the_refused_one():
    from kmp.config import DEVELOPMENT_CONSTANTS
    from kmp.payments.factory import DEV_FAKE_SERVER_KEY
    from kmp.payments.iris import DEV_IRIS_MERCHANT_KEY

    assert {DEV_IRIS_MERCHANT_KEY, DEV_FAKE_SERVER_KEY} <= DEVELOPMENT_CONSTANTS
