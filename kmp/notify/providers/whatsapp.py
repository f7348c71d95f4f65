"""WhatsApp Business Platform, Cloud API: template messages out, status webhooks in.

Sending (Graph API)::

    POST https://graph.facebook.com/<KMP_WHATSAPP_API_VERSION>/<KMP_WHATSAPP_PHONE_NUMBER_ID>/messages
    Authorization: Bearer <KMP_WHATSAPP_TOKEN>
    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890",
     "type": "template",
     "template": {"name": "kmp_wajib_bill", "language": {"code": "id"},
                  "components": [{"type": "body",
                                  "parameters": [{"type": "text", "text": "..."}]}]}}

answers ``{"messaging_product": "whatsapp", "contacts": [{"input": ..., "wa_id": ...}],
"messages": [{"id": "wamid....", "message_status": "accepted"}]}``. An error answers
``{"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
"error_data": {"messaging_product": "whatsapp", "details": "..."}, "fbtrace_id": "..."}}``;
Meta asks integrators to act on ``code`` (titles are being deprecated), which
``classify_error`` does: throttling codes wait without spending an attempt, recipient and
template errors are permanent for WhatsApp (the fallback chain goes on to SMS), server-side
codes and 5xx answers are retried.

Receiving: Meta calls the webhook (``/pesan/whatsapp/webhook``) with a GET handshake
(``hub.mode=subscribe``, ``hub.verify_token``, ``hub.challenge``: answer the challenge when the
token matches ``KMP_WHATSAPP_VERIFY_TOKEN``) and then POSTs ``whatsapp_business_account``
notifications signed with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed
with the app secret>``. Each ``entry[].changes[].value.statuses[]`` says ``sent``,
``delivered``, ``read`` or ``failed`` (with ``errors[]``) for one ``id`` (the wamid), at a Unix
``timestamp``; notifications may repeat and arrive out of order.

Why not pywa: it brings its own HTTP client (httpx), so its calls would bypass
``kmp.http.http_session()`` (the one outbound session with KMP's timeouts) and could not be
faked with ``responses`` at the HTTP layer like every other adapter; KMP needs only two calls
(send a template, check a webhook), about a hundred lines on ``requests``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

import requests

from kmp.http import http_session
from kmp.notify.models import Channel
from kmp.notify.providers import OutgoingMessage, ProviderError, SendResult
from kmp.notify.templates import WhatsAppTemplate, whatsapp_template

#: Throttling codes and how long the provider is left alone (seconds) when no Retry-After
#: came: 4 app-level call limit, 80007 WhatsApp Business Account limit, 130429 Cloud API
#: throughput, 131048 spam-rate (quality) limit, 131056 pair rate (same recipient).
THROTTLING_CODES = {4: 300.0, 80007: 300.0, 130429: 30.0, 131048: 3600.0, 131056: 10.0}
#: Throttling that concerns only the one recipient: other messages go on.
RECIPIENT_THROTTLING = frozenset({131056})
#: Errors of this recipient or template: WhatsApp will never carry this message.
PERMANENT_CODES = frozenset(
    {
        100,  # invalid parameter
        131008,  # required parameter missing
        131009,  # parameter value not valid
        131021,  # recipient is the sender
        131026,  # message undeliverable (not on WhatsApp, old app, ...)
        131030,  # recipient not in the test allow-list
        131047,  # re-engagement window (free text outside 24 h)
        131049,  # not delivered to keep the ecosystem healthy
        131050,  # the user stopped marketing messages
        131051,  # unsupported message type
        132000,  # parameter count mismatch
        132001,  # template does not exist (in this language)
        132005,  # translated text too long
        132007,  # template format character policy
        132012,  # parameter format mismatch
        132015,  # template paused
        132016,  # template disabled
        132018,  # parameter formatting (new lines, tabs, spaces)
    }
)
#: Errors on Meta's side or of our account: try again later (an operator may be fixing them).
TEMPORARY_CODES = frozenset({0, 1, 2, 10, 190, 368, 131000, 131016, 131031, 133004})

STATUSES = ("sent", "delivered", "read", "failed")
MAX_PARAM_CHARS = 1000
_SPACES = re.compile(r"\s+")


def _retry_after(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(float(value), 1.0) if value is not None else None
    except ValueError:
        return None


def classify_error(status: int, body: object, retry_after: float | None = None) -> ProviderError:
    """The outbox's reading of one error answer of the Graph API."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    details = (error.get("error_data") or {}).get("details") if error else None
    text = f"WhatsApp HTTP {status}"
    if code is not None:
        text += f" code {code}"
    if error.get("message"):
        text += f": {error['message']}"
    if details:
        text += f" ({details})"
    if code in THROTTLING_CODES or (status == 429 and code not in PERMANENT_CODES):
        return ProviderError(
            text,
            throttled=True,
            retry_after=retry_after or THROTTLING_CODES.get(code, 60.0),
            pause_provider=code not in RECIPIENT_THROTTLING,
            code=code,
        )
    if code in PERMANENT_CODES:
        return ProviderError(text, permanent=True, code=code)
    if code in TEMPORARY_CODES or status >= 500:
        return ProviderError(text, code=code)
    return ProviderError(text, permanent=400 <= status < 500, code=code)


def clean_param(value: object) -> str:
    """A body parameter as Meta accepts it: no new lines or tabs, no runs of spaces, short."""
    text = _SPACES.sub(" ", str(value)).strip()
    if len(text) > MAX_PARAM_CHARS:
        text = text[: MAX_PARAM_CHARS - 1].rstrip() + "…"
    return text or "-"


def template_payload(to: str, template: WhatsAppTemplate, values: dict, locale=None) -> dict:
    """The JSON body of a template message; ``ProviderError`` (permanent) when a parameter has
    no value."""
    missing = [p for p in template.params if values.get(p) in (None, "")]
    if template.button_param and values.get(template.button_param) in (None, ""):
        missing.append(template.button_param)
    if missing:
        raise ProviderError(
            f"WhatsApp template {template.name!r} needs parameter(s) {', '.join(missing)}",
            permanent=True,
        )
    components = []
    if template.params:
        components.append(
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": clean_param(values[p])} for p in template.params
                ],
            }
        )
    if template.button_param:
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [
                    {"type": "text", "text": clean_param(values[template.button_param])}
                ],
            }
        )
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "".join(ch for ch in to if ch.isdigit()),
        "type": "template",
        "template": {"name": template.name, "language": {"code": template.language_for(locale)}},
    }
    if components:
        body["template"]["components"] = components
    return body


class WhatsAppCloudProvider:
    name = "whatsapp"
    channel = Channel.WHATSAPP

    def __init__(
        self,
        *,
        token: str,
        phone_number_id: str,
        api_version: str = "v23.0",
        api_base: str = "https://graph.facebook.com",
        config: dict | None = None,
        rate_per_second: float = 50.0,
    ):
        self.token = token
        self.phone_number_id = phone_number_id
        self.url = f"{api_base.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self.config = dict(config or {})
        self.rate_per_second = rate_per_second
        self._templates: dict[str, WhatsAppTemplate] = {}

    @classmethod
    def from_config(cls, config: dict) -> WhatsAppCloudProvider:
        return cls(
            token=config.get("KMP_WHATSAPP_TOKEN") or "",
            phone_number_id=config.get("KMP_WHATSAPP_PHONE_NUMBER_ID") or "",
            api_version=config.get("KMP_WHATSAPP_API_VERSION") or "v23.0",
            api_base=config.get("KMP_WHATSAPP_API_BASE") or "https://graph.facebook.com",
            config=config,
            rate_per_second=float(config.get("KMP_WHATSAPP_RATE") or 0),
        )

    def template(self, kind: str) -> WhatsAppTemplate:
        found = self._templates.get(kind)
        if found is None:
            found = self._templates[kind] = whatsapp_template(kind, self.config)
        return found

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.token or not self.phone_number_id:
            raise ProviderError(
                "WhatsApp is not configured (KMP_WHATSAPP_TOKEN / _PHONE_NUMBER_ID)"
            )
        values = {
            "body": message.body,
            "subject": message.subject,
            "coop_name": self.config.get("KMP_COOP_NAME") or "KMP",
            **{k: v for k, v in (message.params or {}).items() if v not in (None, "")},
        }
        payload = template_payload(message.to, self.template(message.kind), values, message.locale)
        try:
            response = http_session().post(
                self.url, json=payload, headers={"Authorization": f"Bearer {self.token}"}
            )
        except requests.RequestException as error:
            raise ProviderError(f"WhatsApp unreachable: {type(error).__name__}") from error
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            messages = body.get("messages") or []
            if messages and messages[0].get("id"):
                return SendResult(str(messages[0]["id"]))
        raise classify_error(response.status_code, body, _retry_after(response))


# --------------------------------------------------------------------------- the webhook


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """``X-Hub-Signature-256: sha256=<hex>``: HMAC-SHA256 of the raw body with the app secret."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower(), expected)


def sign(raw_body: bytes, app_secret: str) -> str:
    """The header value Meta would send (tests, the local simulator)."""
    return "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StatusUpdate:
    provider_message_id: str
    status: str  # sent / delivered / read / failed
    occurred_at: dt.datetime
    error: str | None
    raw: dict


def _values(payload: dict):
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, dict):
                yield value


def _instant(value) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def parse_status_updates(payload: dict) -> list[StatusUpdate]:
    """Every well-formed ``statuses`` entry of a notification (others are ignored)."""
    updates = []
    for value in _values(payload):
        for status in value.get("statuses") or []:
            if not isinstance(status, dict):
                continue
            kind = str(status.get("status") or "").lower()
            message_id = status.get("id")
            occurred = _instant(status.get("timestamp"))
            if kind not in STATUSES or not isinstance(message_id, str) or occurred is None:
                continue
            error = None
            errors = status.get("errors") or value.get("errors") or []
            if errors and isinstance(errors[0], dict):
                first = errors[0]
                details = (first.get("error_data") or {}).get("details")
                error = " ".join(
                    str(p)
                    for p in (
                        first.get("code"),
                        first.get("title") or first.get("message"),
                        details,
                    )
                    if p
                )[:300]
            updates.append(StatusUpdate(message_id[:128], kind, occurred, error, status))
    return updates


#: Inbound texts that mean "no more messages, please" (Meta asks businesses to honour them).
STOP_WORDS = frozenset({"stop", "berhenti", "unsubscribe", "stop promosi"})


def parse_stop_requests(payload: dict) -> list[str]:
    """Phone numbers (``+<digits>``) of members who answered with a stop word."""
    numbers = []
    for value in _values(payload):
        for message in value.get("messages") or []:
            if not isinstance(message, dict) or message.get("type") != "text":
                continue
            text = str((message.get("text") or {}).get("body") or "").strip().lower()
            sender = "".join(ch for ch in str(message.get("from") or "") if ch.isdigit())
            if text in STOP_WORDS and sender:
                numbers.append("+" + sender)
    return numbers
