"""Production refuses to start when an enabled message provider lacks a secret (issue 21)."""

from __future__ import annotations

import pytest

from kmp import create_app
from kmp.config import ConfigError
from kmp.notify.templates import kind_of, parse_templates, whatsapp_template

pytestmark = pytest.mark.nodb

PRODUCTION = {
    "SECRET_KEY": "x" * 40,
    "KMP_PAYMENT_GATEWAY": "midtrans",
    "KMP_IRIS_CREATOR_KEY": "iris-creator-test",
}
WHATSAPP = {
    "KMP_WHATSAPP_TOKEN": "EAAG-token",
    "KMP_WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "KMP_WHATSAPP_APP_SECRET": "app-secret",
    "KMP_WHATSAPP_VERIFY_TOKEN": "verify-token",
}
SMS = {"KMP_SMS_PROVIDER": "zenziva", "KMP_ZENZIVA_USERKEY": "u", "KMP_ZENZIVA_PASSKEY": "p"}


def _production(**settings):
    return create_app("production", **{**PRODUCTION, **settings})


def test_production_refuses_the_fake_notifier():
    with pytest.raises(ConfigError, match="KMP_NOTIFIER=fake"):
        _production(KMP_NOTIFIER="fake")
    with pytest.raises(ConfigError, match="unknown channel"):
        _production(KMP_NOTIFIER="pigeon")


@pytest.mark.parametrize("missing", sorted(WHATSAPP))
def test_production_whatsapp_needs_every_secret(missing):
    settings = {**WHATSAPP, missing: ""}
    with pytest.raises(ConfigError, match=missing):
        _production(KMP_NOTIFIER="whatsapp", **settings)


@pytest.mark.parametrize("missing", ["KMP_ZENZIVA_USERKEY", "KMP_ZENZIVA_PASSKEY"])
def test_production_sms_needs_the_zenziva_keys(missing):
    with pytest.raises(ConfigError, match=missing):
        _production(KMP_NOTIFIER="sms", **{**SMS, missing: ""})
    with pytest.raises(ConfigError, match="KMP_SMS_PROVIDER"):
        _production(KMP_NOTIFIER="sms", **{**SMS, "KMP_SMS_PROVIDER": "carrier-pigeon"})


def test_production_email_needs_the_smtp_host():
    with pytest.raises(ConfigError, match="KMP_SMTP_HOST"):
        _production(KMP_NOTIFIER="email", KMP_SMTP_HOST="")


def test_production_starts_with_every_provider_configured():
    app = _production(
        KMP_NOTIFIER="whatsapp,sms,email", KMP_SMTP_HOST="smtp.test", **WHATSAPP, **SMS
    )
    assert app.config["KMP_NOTIFIER"] == "whatsapp,sms,email"


def test_templates_json_is_checked_at_start():
    with pytest.raises(ConfigError, match="KMP_WHATSAPP_TEMPLATES"):
        _production(KMP_NOTIFIER="whatsapp", KMP_WHATSAPP_TEMPLATES="{not json", **WHATSAPP)
    with pytest.raises(ConfigError, match="params"):
        parse_templates('{"wajib_bill": {"name": "x", "params": "body"}}')


def test_templates_per_kind_defaults_and_overrides():
    config = {"KMP_WHATSAPP_LANGUAGE": "id"}
    bill = whatsapp_template("wajib_bill", config)
    assert (bill.name, bill.language, bill.params) == (
        "kmp_wajib_bill",
        "id",
        ("coop_name", "body"),
    )
    code = whatsapp_template("login_code", config)
    assert (code.params, code.button_param) == (("code",), "code")
    assert whatsapp_template("something_new", config).name == "kmp_pesan"
    config["KMP_WHATSAPP_TEMPLATES"] = (
        '{"meeting_notice": {"name": "undangan_rat", "params": ["name", "date"],'
        ' "languages": {"en": "en_US"}}, "wajib_bill": "tagihan_v2"}'
    )
    notice = whatsapp_template("meeting_notice", config)
    assert (notice.name, notice.params, notice.button_param) == (
        "undangan_rat",
        ("name", "date"),
        None,
    )
    assert (notice.language_for("en"), notice.language_for("id")) == ("en_US", "id")
    assert whatsapp_template("wajib_bill", config).name == "tagihan_v2"
    assert kind_of("password_reset").essential and kind_of("password_reset").urgent
    assert not kind_of("announcement").essential


def test_quiet_hours_are_checked_at_start():
    with pytest.raises(ConfigError, match="KMP_NOTIFY_QUIET_HOURS"):
        _production(KMP_NOTIFIER="email", KMP_SMTP_HOST="smtp.test", KMP_NOTIFY_QUIET_HOURS="21-7")
