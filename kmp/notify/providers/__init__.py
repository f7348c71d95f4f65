"""Provider adapters: one per channel, all behind the one outbox.

A provider takes one ``OutgoingMessage`` and either returns a ``SendResult`` (the provider
accepted it; ``provider_message_id`` identifies it in later status reports) or raises
``ProviderError`` saying what the outbox should do next:

- ``permanent``: this channel will never carry this message (not a WhatsApp number, template
  missing, address refused): the outbox tries the next channel of the fallback chain;
- ``throttled``: the provider asked us to slow down (WhatsApp 130429, 131056, 80007, HTTP 429):
  the message waits ``retry_after`` seconds without spending an attempt, and unless the limit is
  the recipient's own (``pause_provider=False``) nothing else goes to that provider meanwhile;
- otherwise temporary: retried on the same channel with exponential backoff, at most
  ``KMP_NOTIFY_MAX_ATTEMPTS`` times, then treated as permanent for that channel.

``KMP_NOTIFIER`` picks the providers: ``fake`` (development and tests: every channel is a fake
that keeps what it "sent" in ``get_registry().fake_outbox``), or a comma-separated list of real
channels, ``whatsapp`` (Cloud API), ``sms`` (``KMP_SMS_PROVIDER``, Zenziva) and ``email``
(SMTP). Every HTTP call goes through ``kmp.http.http_session()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kmp.config import notifier_channels
from kmp.notify.models import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    kind: str
    channel: Channel
    to: str
    subject: str
    body: str
    params: dict = field(default_factory=dict)
    locale: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None = None


class ProviderError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
        pause_provider: bool = True,
        code: int | str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.throttled = throttled
        self.retry_after = retry_after
        self.pause_provider = pause_provider
        self.code = code


class Provider(Protocol):
    name: str  # stored in notifications.provider ("whatsapp", "zenziva", "smtp", "fake")
    channel: Channel
    rate_per_second: float  # 0: no limit

    def send(self, message: OutgoingMessage) -> SendResult: ...


def build_providers(config: dict, fake_outbox: list) -> dict[Channel, Provider]:
    """The providers ``KMP_NOTIFIER`` enables, keyed by channel."""
    channels = notifier_channels(config.get("KMP_NOTIFIER"))
    if "fake" in channels:
        from kmp.notify.providers.fake import FakeProvider

        return {c: FakeProvider(c, fake_outbox) for c in Channel}
    providers: dict[Channel, Provider] = {}
    for name in channels:
        channel = Channel(name) if name in Channel._value2member_map_ else None
        if channel is Channel.WHATSAPP:
            from kmp.notify.providers.whatsapp import WhatsAppCloudProvider

            providers[channel] = WhatsAppCloudProvider.from_config(config)
        elif channel is Channel.SMS:
            from kmp.notify.providers.sms import sms_provider

            providers[channel] = sms_provider(config)
        elif channel is Channel.EMAIL:
            from kmp.notify.providers.smtp import SmtpProvider

            providers[channel] = SmtpProvider.from_config(config)
    return providers


def config_fingerprint(config: dict) -> tuple:
    """The settings the providers are built from (rebuilt when one of them changes)."""
    return tuple(
        (key, str(config.get(key)))
        for key in sorted(config)
        if key.startswith(("KMP_WHATSAPP_", "KMP_SMS_", "KMP_ZENZIVA_", "KMP_SMTP_", "KMP_EMAIL_"))
        or key in ("KMP_NOTIFIER", "KMP_COOP_NAME")
    )
