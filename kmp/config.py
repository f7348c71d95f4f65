"""Configuration read from the environment (``KMP_*``, ``DATABASE_URL``, ``SECRET_KEY``, ...)."""

from __future__ import annotations

import os
from pathlib import Path

INSTANCE_DIR = Path(
    os.environ.get("KMP_INSTANCE_DIR", Path(__file__).resolve().parent.parent / "instance")
)


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message is one line meant for the operator."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class BaseConfig:
    ENV_NAME = "base"
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'kmp.sqlite3'}")
    )
    KMP_READONLY_DATABASE_URL = os.environ.get("KMP_READONLY_DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    KMP_PUBLIC_URL = os.environ.get("KMP_PUBLIC_URL", "http://127.0.0.1:5000")
    KMP_PAYMENT_GATEWAY = os.environ.get("KMP_PAYMENT_GATEWAY", "fake")
    KMP_NOTIFIER = os.environ.get("KMP_NOTIFIER", "fake")
    KMP_SMTP_HOST = os.environ.get("KMP_SMTP_HOST", "")
    KMP_SMTP_PORT = int(os.environ.get("KMP_SMTP_PORT", "587"))
    KMP_SMTP_USER = os.environ.get("KMP_SMTP_USER", "")
    KMP_SMTP_PASSWORD = os.environ.get("KMP_SMTP_PASSWORD", "")
    KMP_SMTP_FROM = os.environ.get("KMP_SMTP_FROM", "")
    # Messages (kmp.notify): channels, WhatsApp Cloud API, SMS gateway (README "Pesan / messages").
    KMP_NOTIFY_FALLBACK = os.environ.get("KMP_NOTIFY_FALLBACK", "whatsapp,sms,email")
    KMP_NOTIFY_MAX_ATTEMPTS = int(os.environ.get("KMP_NOTIFY_MAX_ATTEMPTS", "5"))
    KMP_NOTIFY_RETRY_SECONDS = int(os.environ.get("KMP_NOTIFY_RETRY_SECONDS", "60"))
    KMP_NOTIFY_RETRY_MAX_SECONDS = int(os.environ.get("KMP_NOTIFY_RETRY_MAX_SECONDS", "21600"))
    KMP_NOTIFY_QUIET_HOURS = os.environ.get("KMP_NOTIFY_QUIET_HOURS", "21:00-07:00")
    KMP_NOTIFY_BATCH = int(os.environ.get("KMP_NOTIFY_BATCH", "500"))
    KMP_NOTIFY_RUN_SECONDS = int(os.environ.get("KMP_NOTIFY_RUN_SECONDS", "50"))
    KMP_WHATSAPP_TOKEN = os.environ.get("KMP_WHATSAPP_TOKEN", "")
    KMP_WHATSAPP_PHONE_NUMBER_ID = os.environ.get("KMP_WHATSAPP_PHONE_NUMBER_ID", "")
    KMP_WHATSAPP_APP_SECRET = os.environ.get("KMP_WHATSAPP_APP_SECRET", "")
    KMP_WHATSAPP_VERIFY_TOKEN = os.environ.get("KMP_WHATSAPP_VERIFY_TOKEN", "")
    KMP_WHATSAPP_API_VERSION = os.environ.get("KMP_WHATSAPP_API_VERSION", "v23.0")
    KMP_WHATSAPP_API_BASE = os.environ.get("KMP_WHATSAPP_API_BASE", "https://graph.facebook.com")
    KMP_WHATSAPP_LANGUAGE = os.environ.get("KMP_WHATSAPP_LANGUAGE", "id")
    KMP_WHATSAPP_TEMPLATES = os.environ.get("KMP_WHATSAPP_TEMPLATES", "")
    KMP_WHATSAPP_RATE = float(os.environ.get("KMP_WHATSAPP_RATE", "50"))
    KMP_SMS_PROVIDER = os.environ.get("KMP_SMS_PROVIDER", "zenziva")
    KMP_ZENZIVA_USERKEY = os.environ.get("KMP_ZENZIVA_USERKEY", "")
    KMP_ZENZIVA_PASSKEY = os.environ.get("KMP_ZENZIVA_PASSKEY", "")
    KMP_ZENZIVA_URL = os.environ.get(
        "KMP_ZENZIVA_URL", "https://console.zenziva.net/reguler/api/sendsms/"
    )
    KMP_SMS_RATE = float(os.environ.get("KMP_SMS_RATE", "10"))
    KMP_EMAIL_RATE = float(os.environ.get("KMP_EMAIL_RATE", "10"))
    KMP_COOP_NAME = os.environ.get(
        "KMP_COOP_NAME", "Koperasi Multi Pihak Mitra Pengemudi Nusantara"
    )
    MIDTRANS_SERVER_KEY = os.environ.get("MIDTRANS_SERVER_KEY", "")
    MIDTRANS_CLIENT_KEY = os.environ.get("MIDTRANS_CLIENT_KEY", "")
    MIDTRANS_IS_PRODUCTION = _bool("MIDTRANS_IS_PRODUCTION", False)
    PORT = int(os.environ.get("PORT", "5000"))

    # Payments (kmp/payments): reconciliation timings and where the gateway calls back.
    KMP_PAYMENT_PAGE_EXPIRY_MINUTES = int(os.environ.get("KMP_PAYMENT_PAGE_EXPIRY_MINUTES", "1440"))
    KMP_PAYMENT_STALE_MINUTES = int(os.environ.get("KMP_PAYMENT_STALE_MINUTES", "2"))
    KMP_PAYMENT_PAID_RECHECK_MINUTES = int(os.environ.get("KMP_PAYMENT_PAID_RECHECK_MINUTES", "60"))
    MIDTRANS_NOTIFICATION_URL = os.environ.get("MIDTRANS_NOTIFICATION_URL") or None
    KMP_FAKE_GATEWAY_BASE_URL = os.environ.get("KMP_FAKE_GATEWAY_BASE_URL", "")
    KMP_SUKARELA_MIN_IDR = int(os.environ.get("KMP_SUKARELA_MIN_IDR", "10000"))
    KMP_SUKARELA_MAX_IDR = int(os.environ.get("KMP_SUKARELA_MAX_IDR", "50000000"))
    # Bookkeeping (kmp.ledger.books): above the threshold an income/expense entry needs a
    # second board member (unless the AD provider is installed); receipts are stored here.
    KMP_EXPENSE_APPROVAL_THRESHOLD_IDR = int(
        os.environ.get("KMP_EXPENSE_APPROVAL_THRESHOLD_IDR", "5000000")
    )
    KMP_RECEIPT_MAX_BYTES = int(os.environ.get("KMP_RECEIPT_MAX_BYTES", str(4 * 1024 * 1024)))
    KMP_RECEIPT_DIR = os.environ.get("KMP_RECEIPT_DIR") or None  # default <instance>/receipts
    # Social protection (members.protection): BPJS due day of the month after, the reminders
    # to the bendahara before it, the member's pay-by day and the lapse reminders before it.
    KMP_BPJS_REMITTANCE_DAY = int(os.environ.get("KMP_BPJS_REMITTANCE_DAY", "15"))
    KMP_BPJS_REMINDER_DAYS = os.environ.get("KMP_BPJS_REMINDER_DAYS", "7,3,1")
    KMP_BPJS_MEMBER_PAY_DAY = int(os.environ.get("KMP_BPJS_MEMBER_PAY_DAY", "10"))
    KMP_BPJS_LAPSE_REMINDER_DAYS = os.environ.get("KMP_BPJS_LAPSE_REMINDER_DAYS", "7,3,1")

    # Disbursements (SHU transfers): the fake outside production, Midtrans Iris in production.
    KMP_DISBURSER = os.environ.get("KMP_DISBURSER", "fake")
    KMP_IRIS_CREATOR_KEY = os.environ.get("KMP_IRIS_CREATOR_KEY", "")
    KMP_IRIS_MERCHANT_KEY = os.environ.get("KMP_IRIS_MERCHANT_KEY", "")
    KMP_IRIS_PRODUCTION = _bool("KMP_IRIS_PRODUCTION", False)

    # Partner API and second factor.
    KMP_API_RATE_LIMIT = os.environ.get("KMP_API_RATE_LIMIT", "600 per minute")
    KMP_API_AUTH_FAILURE_LIMIT = os.environ.get("KMP_API_AUTH_FAILURE_LIMIT", "20 per minute")
    KMP_PASSWORD_RESET_TTL = int(os.environ.get("KMP_PASSWORD_RESET_TTL", "3600"))
    # Reset by a 6-digit code to a phone login: its lifetime, and the sends allowed per number
    # (or e-mail) and per client address.
    KMP_RESET_CODE_TTL = int(os.environ.get("KMP_RESET_CODE_TTL", "600"))
    KMP_RESET_SEND_LIMIT_PER_TARGET = os.environ.get(
        "KMP_RESET_SEND_LIMIT_PER_TARGET", "3 per hour"
    )
    KMP_RESET_SEND_LIMIT_PER_ADDRESS = os.environ.get(
        "KMP_RESET_SEND_LIMIT_PER_ADDRESS", "10 per hour"
    )
    KMP_TOTP_ISSUER = os.environ.get("KMP_TOTP_ISSUER", "KMP")

    # Babel: Indonesian by default, English selectable.
    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).resolve().parent / "translations")
    KMP_LANGUAGES = ("id", "en")

    # Sessions and cookies.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("KMP_SECURE_COOKIES", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _bool("KMP_SECURE_COOKIES", True)
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    WTF_CSRF_TIME_LIMIT = 60 * 60 * 12
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024

    # Rate limiting (Flask-Limiter): memory:// is per process; use redis:// with several workers.
    RATELIMIT_STORAGE_URI = os.environ.get("KMP_RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    KMP_LOGIN_RATE_LIMIT = os.environ.get("KMP_LOGIN_RATE_LIMIT", "5 per minute")
    KMP_LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get(
        "KMP_LOGIN_ACCOUNT_RATE_LIMIT", "10 per 15 minutes"
    )
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (Werkzeug's ProxyFix): a
    # number of proxy hops in front of the app ("1"), or their addresses/networks
    # ("10.0.0.0/8,192.168.1.5"). Empty: no proxy, headers ignored.
    KMP_TRUSTED_PROXIES = os.environ.get("KMP_TRUSTED_PROXIES", "")

    SEND_FILE_MAX_AGE_DEFAULT = 60 * 60 * 24 * 365

    def validate(self, config: dict) -> None:
        """Refuse configurations that cannot run; overridden by stricter environments."""


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-change-me"
    SESSION_COOKIE_SECURE = _bool("KMP_SECURE_COOKIES", False)
    REMEMBER_COOKIE_SECURE = _bool("KMP_SECURE_COOKIES", False)


class TestingConfig(BaseConfig):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"  # noqa: S105 - tests only
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("KMP_TEST_DATABASE_URL") or "sqlite:///:memory:"
    )
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    KMP_PAYMENT_GATEWAY = "fake"
    KMP_NOTIFIER = "fake"
    KMP_NOTIFY_QUIET_HOURS = "off"  # tests set quiet hours (and the clock) themselves
    MIDTRANS_SERVER_KEY = "SB-Mid-server-TEST-ONLY-NOT-A-REAL-KEY"
    RATELIMIT_STORAGE_URI = "memory://"


#: Values that exist only so development and tests run without secrets; production refuses
#: every one of them wherever a secret is expected.
DEVELOPMENT_CONSTANTS = frozenset(
    {
        DevelopmentConfig.SECRET_KEY,
        TestingConfig.SECRET_KEY,
        TestingConfig.MIDTRANS_SERVER_KEY,
        "SB-Mid-server-KMP-DEV-FAKE-GATEWAY-ONLY",  # kmp.payments.factory.DEV_FAKE_SERVER_KEY
        "fake-merchant",  # kmp.payments.iris.DEV_IRIS_MERCHANT_KEY
    }
)

#: The secrets each enabled production adapter needs (``KMP_PAYMENT_GATEWAY``,
#: ``KMP_DISBURSER``; the notifier's channels: ``check_notifier``).
ADAPTER_SECRETS = {
    ("KMP_PAYMENT_GATEWAY", "midtrans"): ("MIDTRANS_SERVER_KEY", "MIDTRANS_CLIENT_KEY"),
    ("KMP_DISBURSER", "iris"): ("KMP_IRIS_CREATOR_KEY", "KMP_IRIS_MERCHANT_KEY"),
}
_PRODUCTION_CHOICES = {
    "KMP_PAYMENT_GATEWAY": ("midtrans",),
    "KMP_DISBURSER": ("iris",),
}


def _enabled(config: dict, setting: str) -> set[str]:
    """The adapters a setting enables (a notifier may list several: ``email,whatsapp``)."""
    value = str(config.get(setting) or "")
    return {part.strip().lower() for part in value.replace(";", ",").split(",") if part.strip()}


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    KMP_PAYMENT_GATEWAY = os.environ.get("KMP_PAYMENT_GATEWAY", "midtrans")
    KMP_NOTIFIER = os.environ.get("KMP_NOTIFIER", "email")
    KMP_DISBURSER = os.environ.get("KMP_DISBURSER", "iris")

    def validate(self, config: dict) -> None:
        if not config.get("SECRET_KEY"):
            raise ConfigError(
                "SECRET_KEY is not set: production refuses to start without a secret key "
                "(set SECRET_KEY to a long random value, e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)."
            )
        if config.get("KMP_PAYMENT_GATEWAY") == "fake":
            raise ConfigError(
                "KMP_PAYMENT_GATEWAY=fake is refused in production: the simulated gateway "
                "must never take real members' money (use KMP_PAYMENT_GATEWAY=midtrans)."
            )
        if config.get("KMP_DISBURSER") == "fake":
            raise ConfigError(
                "KMP_DISBURSER=fake is refused in production: the simulated disburser "
                "must never pay out real members' money (use KMP_DISBURSER=iris)."
            )
        for setting, allowed in _PRODUCTION_CHOICES.items():
            value = str(config.get(setting) or "")
            if value not in allowed:
                raise ConfigError(
                    f"{setting}={value!r} is not a production adapter: use "
                    f"{setting}={' or '.join(allowed)}."
                )
        for (setting, adapter), names in ADAPTER_SECRETS.items():
            if adapter not in _enabled(config, setting):
                continue
            missing = [name for name in names if not str(config.get(name) or "").strip()]
            if missing:
                raise ConfigError(
                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                    f"production refuses to start with {setting}={adapter} without "
                    f"{'it' if len(missing) == 1 else 'them'}."
                )
        check_notifier(config)
        secrets = (*ADAPTER_SECRETS.values(), *_CHANNEL_SECRETS.values())
        for name in ("SECRET_KEY", *(n for names in secrets for n in names)):
            if config.get(name) in DEVELOPMENT_CONSTANTS:
                raise ConfigError(
                    f"{name} is a development constant: production refuses to start with it "
                    "(set the real secret)."
                )


#: The message channels ``KMP_NOTIFIER`` may enable, and the settings each one needs.
NOTIFY_CHANNELS = ("whatsapp", "sms", "email")
_CHANNEL_SECRETS = {
    "whatsapp": (
        "KMP_WHATSAPP_TOKEN",
        "KMP_WHATSAPP_PHONE_NUMBER_ID",
        "KMP_WHATSAPP_APP_SECRET",
        "KMP_WHATSAPP_VERIFY_TOKEN",
    ),
    "email": ("KMP_SMTP_HOST", "KMP_SMTP_USER", "KMP_SMTP_PASSWORD"),
}
_SMS_SECRETS = {"zenziva": ("KMP_ZENZIVA_USERKEY", "KMP_ZENZIVA_PASSKEY")}


def notifier_channels(value: str | None) -> tuple[str, ...]:
    """``KMP_NOTIFIER`` as a tuple: ``("fake",)`` or real channels (``whatsapp,sms,email``)."""
    names = tuple(dict.fromkeys(p.strip().lower() for p in (value or "fake").split(",")))
    return tuple(n for n in names if n) or ("fake",)


def check_notifier(config: dict) -> None:
    """Production: a real channel for every message, and every enabled provider's secrets."""
    channels = notifier_channels(config.get("KMP_NOTIFIER"))
    if "fake" in channels:
        raise ConfigError(
            "KMP_NOTIFIER=fake is refused in production: members' messages would never leave "
            "the server (use e.g. KMP_NOTIFIER=whatsapp,sms,email)."
        )
    unknown = [c for c in channels if c not in NOTIFY_CHANNELS]
    if unknown:
        raise ConfigError(
            f"KMP_NOTIFIER: unknown channel(s) {', '.join(unknown)}; use "
            f"{', '.join(NOTIFY_CHANNELS)} (comma-separated)."
        )
    needed = [name for c in channels for name in _CHANNEL_SECRETS.get(c, ())]
    if "sms" in channels:
        provider = (config.get("KMP_SMS_PROVIDER") or "").lower()
        if provider not in _SMS_SECRETS:
            raise ConfigError(
                f"KMP_SMS_PROVIDER={provider!r} is not supported: use {', '.join(_SMS_SECRETS)}."
            )
        needed += _SMS_SECRETS[provider]
    for name in needed:
        if not config.get(name):
            raise ConfigError(
                f"{name} is not set: production sends messages through "
                f"KMP_NOTIFIER={','.join(channels)} and needs it."
            )
    from kmp.notify.delivery import parse_quiet_hours

    try:
        parse_quiet_hours(config.get("KMP_NOTIFY_QUIET_HOURS"))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if "whatsapp" in channels:
        from kmp.notify.templates import parse_templates

        parse_templates(config.get("KMP_WHATSAPP_TEMPLATES"))  # ConfigError names the problem


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None) -> type[BaseConfig]:
    name = (name or os.environ.get("KMP_ENV") or "development").lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"unknown KMP_ENV {name!r}: use one of {', '.join(CONFIGS)}") from None
