"""Per-provider rate limits: a token bucket of messages per second, and pauses on throttling.

The delivery job is the only sender (one scheduler process, under its advisory lock), so the
buckets live in that process: a 100,000-message campaign leaves at ``KMP_WHATSAPP_RATE`` per
second (default 50, below the Cloud API's default 80 messages/s per number) and never trips the
provider's throttling. When a provider throttles anyway (WhatsApp 130429, HTTP 429), its bucket
is paused until the time the provider asked for and the waiting messages keep their place.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class TokenBucket:
    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = float(rate_per_second or 0)
        self.capacity = float(burst if burst is not None else max(self.rate, 1.0))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.last = clock()
        self.paused_until: dt.datetime | None = None
        self.waited = 0.0  # seconds slept, for the job's log and the tests

    def acquire(self) -> None:
        """Take one token, sleeping until there is one (no limit when the rate is 0)."""
        if self.rate <= 0:
            return
        now = max(self.clock(), self.last)  # (a sleep may have been shorter than asked)
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            wait = (1.0 - self.tokens) / self.rate
            self.sleep(wait)
            self.waited += wait
            self.tokens = 1.0
            self.last = now + wait
        self.tokens -= 1.0

    def pause(self, until: dt.datetime) -> None:
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until

    def paused(self, now: dt.datetime) -> dt.datetime | None:
        if self.paused_until is not None and self.paused_until > now:
            return self.paused_until
        return None


@dataclass
class NotifyState:
    """What the notifier keeps per process: the providers built from the configuration and
    their buckets (kept in the registry's ``notify_state`` slot)."""

    fingerprint: tuple
    providers: dict
    buckets: dict = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def bucket(self, provider) -> TokenBucket:
        key = (provider.name, str(provider.channel))
        found = self.buckets.get(key)
        if found is None:
            found = self.buckets[key] = TokenBucket(
                provider.rate_per_second, clock=self.clock, sleep=self.sleep
            )
        return found
