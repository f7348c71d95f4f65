"""SMS through Zenziva (zenziva.id), an HTTP SMS gateway many Indonesian senders use.

Zenziva's console API ("SMS Reguler")::

    POST https://console.zenziva.net/reguler/api/sendsms/
    userkey=<KMP_ZENZIVA_USERKEY>&passkey=<KMP_ZENZIVA_PASSKEY>&to=081234567890&message=...

(form-encoded; JSON is accepted too) answers HTTP 200 with JSON
``{"messageId": "...", "to": "081234567890", "status": "1", "text": "Success"}``; any other
``status`` is a refusal whose reason is in ``text`` (wrong user/pass key, balance used up,
invalid number, ...). The masking and OTP products of Zenziva take the same fields at other
URLs: point ``KMP_ZENZIVA_URL`` at them. Zenziva sends no delivery reports to a webhook, so an
SMS stays ``sent``.

How an answer is read: ``status == "1"`` is accepted; a refusal naming the number is permanent
(the fallback chain goes on to e-mail); other refusals (keys, balance) and HTTP 5xx are
retried with backoff, since an operator can fix them; HTTP 429 is throttling.
"""

from __future__ import annotations

import requests

from kmp.http import http_session
from kmp.notify.models import Channel
from kmp.notify.providers import OutgoingMessage, ProviderError, SendResult

ZENZIVA_URL = "https://console.zenziva.net/reguler/api/sendsms/"
#: A refusal whose text mentions one of these concerns the number: permanent.
_NUMBER_WORDS = ("nomor", "number", "tujuan")
MAX_SMS_CHARS = 612  # four concatenated SMS parts


def local_number(address: str) -> str:
    """``+6281234567890`` -> ``081234567890`` (Zenziva's documented form for Indonesia)."""
    digits = "".join(ch for ch in address if ch.isdigit())
    if digits.startswith("62"):
        return "0" + digits[2:]
    return digits


class ZenzivaProvider:
    name = "zenziva"
    channel = Channel.SMS

    def __init__(self, *, userkey: str, passkey: str, url: str = ZENZIVA_URL, rate_per_second=10.0):
        self.userkey = userkey
        self.passkey = passkey
        self.url = url or ZENZIVA_URL
        self.rate_per_second = float(rate_per_second or 0)

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.userkey or not self.passkey:
            raise ProviderError("Zenziva is not configured (KMP_ZENZIVA_USERKEY / _PASSKEY)")
        text = message.body if len(message.body) <= MAX_SMS_CHARS else message.body[:611] + "…"
        form = {
            "userkey": self.userkey,
            "passkey": self.passkey,
            "to": local_number(message.to),
            "message": text,
        }
        try:
            response = http_session().post(self.url, data=form)
        except requests.RequestException as error:
            raise ProviderError(f"Zenziva unreachable: {type(error).__name__}") from error
        if response.status_code == 429:
            raise ProviderError("Zenziva HTTP 429", throttled=True, retry_after=60.0)
        if response.status_code >= 500:
            raise ProviderError(f"Zenziva HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError(f"Zenziva HTTP {response.status_code}: not a JSON answer")
        status, reason = str(body.get("status", "")), str(body.get("text") or "")[:200]
        if response.status_code == 200 and status == "1":
            return SendResult(str(body["messageId"]) if body.get("messageId") else None)
        permanent = any(word in reason.lower() for word in _NUMBER_WORDS)
        raise ProviderError(
            f"Zenziva HTTP {response.status_code} status {status or '?'}: {reason or 'refused'}",
            permanent=permanent,
            code=status or None,
        )


def sms_provider(config: dict):
    provider = (config.get("KMP_SMS_PROVIDER") or "zenziva").lower()
    if provider == "zenziva":
        return ZenzivaProvider(
            userkey=config.get("KMP_ZENZIVA_USERKEY") or "",
            passkey=config.get("KMP_ZENZIVA_PASSKEY") or "",
            url=config.get("KMP_ZENZIVA_URL") or ZENZIVA_URL,
            rate_per_second=float(config.get("KMP_SMS_RATE") or 0),
        )
    from kmp.config import ConfigError

    raise ConfigError(f"KMP_SMS_PROVIDER={provider!r} is not supported (use zenziva)")
