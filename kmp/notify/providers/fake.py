"""The fake provider (development, tests, the offline demo): nothing leaves the server.

What it "sent" is appended to ``get_registry().fake_outbox`` (a list of dicts: channel,
address, subject, body, kind, params, provider_message_id). Tests make it fail for an address
with ``fail(address, ProviderError(...))``: the error is raised on every send to that address
until ``clear_failures()``.
"""

from __future__ import annotations

import itertools

from kmp.notify.models import Channel
from kmp.notify.providers import OutgoingMessage, ProviderError, SendResult

_ids = itertools.count(1)


class FakeProvider:
    name = "fake"
    rate_per_second = 0.0

    def __init__(self, channel: Channel, outbox: list):
        self.channel = channel
        self.outbox = outbox
        self.failures: dict[str, ProviderError] = {}

    def fail(self, address: str, error: ProviderError) -> None:
        self.failures[address] = error

    def clear_failures(self) -> None:
        self.failures.clear()

    def send(self, message: OutgoingMessage) -> SendResult:
        error = self.failures.get(message.to)
        if error is not None:
            raise error
        message_id = f"fake-{self.channel}-{next(_ids)}"
        self.outbox.append(
            {
                "channel": str(self.channel),
                "address": message.to,
                "subject": message.subject,
                "body": message.body,
                "kind": message.kind,
                "params": dict(message.params),
                "provider_message_id": message_id,
            }
        )
        return SendResult(message_id)
