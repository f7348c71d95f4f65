"""Delivery: due messages leave the outbox through their recipient's channel chain.

For each due message (status queued, ``next_attempt_at`` passed; during quiet hours only the
urgent ones) the dispatcher:

1. skips it (status ``skipped``) when the recipient opted out of its kind, unless the kind is
   essential (security codes, the formal meeting notice);
2. builds the channel chain: the recipient's preferred channel (their setting; without one,
   e-mail when they have an address, else WhatsApp), then ``KMP_NOTIFY_FALLBACK`` (default
   ``whatsapp,sms,email``), keeping the channels that are enabled, have an address for this
   recipient and have not failed for good for this message;
3. hands it to the first channel's provider, at that provider's rate (``ratelimit``), and reads
   the outcome: sent; throttled (wait, no attempt spent); temporary failure (retry with
   exponential backoff, ``KMP_NOTIFY_RETRY_SECONDS`` x 2^(n-1) plus up to 10 % jitter, capped
   at ``KMP_NOTIFY_RETRY_MAX_SECONDS``, at most ``KMP_NOTIFY_MAX_ATTEMPTS`` times per channel);
   permanent failure (the next channel of the chain, at once); no channel left: failed.

``deliver_batch`` flushes; the caller commits. The scheduled job commits after every batch: a
message handed to a provider must be marked sent before the next batch leaves, so a crash
repeats at most one batch. On PostgreSQL the batch is claimed ``FOR UPDATE SKIP LOCKED``, so a
``kmp notify-deliver`` run beside the scheduler never sends a message twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import false, or_, select, true

from kmp.extensions import db
from kmp.notify.models import (
    ALL_KINDS,
    Channel,
    Notification,
    NotificationOptOut,
    NotificationPreference,
    NotificationStatus,
)
from kmp.notify.providers import (
    OutgoingMessage,
    ProviderError,
    build_providers,
    config_fingerprint,
)
from kmp.notify.ratelimit import NotifyState
from kmp.notify.templates import kind_of
from kmp.registry import get_registry
from kmp.timeutil import JAKARTA, now_utc

log = logging.getLogger("kmp.notify")

MAX_ATTEMPTS = 5
S = NotificationStatus


@dataclass
class DeliveryReport:
    handled: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    postponed: int = 0

    def add(self, other: DeliveryReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --------------------------------------------------------------------------- configuration


def notify_state(app=None) -> NotifyState:
    """The providers for the current configuration (rebuilt when a setting changes)."""
    app = app or current_app._get_current_object()
    registry = get_registry(app)
    fingerprint = config_fingerprint(app.config)
    state = registry.notify_state
    if state is None or state.fingerprint != fingerprint:
        fresh = NotifyState(fingerprint, build_providers(app.config, registry.fake_outbox))
        if state is not None:  # keep a test's clock and sleep
            fresh.clock, fresh.sleep = state.clock, state.sleep
        state = registry.notify_state = fresh
    return state


def get_provider(channel: Channel | str, app=None):
    """The provider of one channel (``None`` when that channel is not enabled)."""
    return notify_state(app).providers.get(Channel(channel))


def fallback_order(config) -> list[Channel]:
    names = (config.get("KMP_NOTIFY_FALLBACK") or "whatsapp,sms,email").split(",")
    return [Channel(n.strip()) for n in names if n.strip() in Channel._value2member_map_]


def parse_quiet_hours(text: str | None) -> tuple[dt.time, dt.time] | None:
    """``"21:00-07:00"`` -> (21:00, 07:00) in Asia/Jakarta; empty or ``off``: no quiet hours."""
    if not text or text.strip().lower() in ("off", "0", "none"):
        return None
    try:
        start, end = (dt.time.fromisoformat(p.strip()) for p in text.split("-"))
    except ValueError:
        raise ValueError(
            f"KMP_NOTIFY_QUIET_HOURS must look like 21:00-07:00, got {text!r}"
        ) from None
    return start, end


def in_quiet_hours(instant: dt.datetime, config) -> bool:
    hours = parse_quiet_hours(config.get("KMP_NOTIFY_QUIET_HOURS"))
    if hours is None:
        return False
    start, end = hours
    local = instant.astimezone(JAKARTA).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def backoff_seconds(attempt: int, config) -> float:
    """Seconds before retry number ``attempt`` (1, 2, ...) on the same channel."""
    base = float(config.get("KMP_NOTIFY_RETRY_SECONDS") or 60)
    cap = float(config.get("KMP_NOTIFY_RETRY_MAX_SECONDS") or 21600)
    delay = min(base * 2 ** max(attempt - 1, 0), cap)
    return delay + random.uniform(0, delay * 0.1)  # noqa: S311 - jitter, not security


# --------------------------------------------------------------------------- one batch


def _due(limit: int, now: dt.datetime, quiet: bool) -> list[Notification]:
    due = select(Notification).where(
        Notification.status == S.PENDING,
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )
    lock = db.engine.dialect.name == "postgresql"

    def fetch(stmt, n):
        stmt = stmt.order_by(Notification.id).limit(n)
        if lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(db.session.scalars(stmt))

    rows = fetch(due.where(Notification.urgent == true()), limit)
    if not quiet and len(rows) < limit:
        rows += fetch(due.where(Notification.urgent == false()), limit - len(rows))
    return rows


class _Recipients:
    """Logins, preferences and opt-outs of one batch, read with one query each."""

    def __init__(self, rows: list[Notification]):
        from kmp.auth import User

        user_ids = {r.user_id for r in rows if r.user_id is not None}
        addresses = {a for r in rows for a in (r.address, r.alt_address) if a}
        self.users = {}
        if user_ids:
            self.users = {
                u.id: (u.email, u.phone, u.locale)
                for u in db.session.execute(
                    select(User.id, User.email, User.phone, User.locale).where(
                        User.id.in_(user_ids)
                    )
                )
            }
        self.pref_user, self.pref_address = {}, {}
        self.opt_user: dict[int, set[str]] = {}
        self.opt_address: dict[str, set[str]] = {}
        if not user_ids and not addresses:
            return
        who = []
        if user_ids:
            who.append(("user_id", user_ids))
        if addresses:
            who.append(("address", addresses))
        for model, by_user, by_address, value in (
            (NotificationPreference, self.pref_user, self.pref_address, "channel"),
            (NotificationOptOut, self.opt_user, self.opt_address, "kind"),
        ):
            cond = or_(*(getattr(model, col).in_(vals) for col, vals in who))
            for row in db.session.scalars(select(model).where(cond)):
                got = getattr(row, value)
                if model is NotificationOptOut:
                    target = by_user if row.user_id is not None else by_address
                    target.setdefault(row.user_id or row.address, set()).add(got)
                elif row.user_id is not None:
                    by_user[row.user_id] = got
                else:
                    by_address[row.address] = got

    def opted_out(self, row: Notification) -> bool:
        kinds = set()
        if row.user_id is not None:
            kinds |= self.opt_user.get(row.user_id, set())
        for address in (row.address, row.alt_address):
            if address:
                kinds |= self.opt_address.get(address, set())
        return row.kind in kinds or ALL_KINDS in kinds

    def addresses(self, row: Notification) -> dict[Channel, str]:
        email, phone, _locale = self.users.get(row.user_id, (None, None, None))
        candidates = [row.address, row.alt_address]
        found_phone = next((a for a in candidates if a and "@" not in a), None) or phone
        found_email = next((a for a in candidates if a and "@" in a), None) or email
        out = {}
        if found_phone:
            out[Channel.WHATSAPP] = out[Channel.SMS] = found_phone
        if found_email:
            out[Channel.EMAIL] = found_email
        return out

    def locale(self, row: Notification) -> str | None:
        return self.users.get(row.user_id, (None, None, None))[2]

    def preferred(self, row: Notification) -> Channel | None:
        if row.user_id is not None and row.user_id in self.pref_user:
            return self.pref_user[row.user_id]
        for address in (row.address, row.alt_address):
            if address in self.pref_address:
                return self.pref_address[address]
        return None


def channel_chain(
    row: Notification, recipients: _Recipients, providers: dict, fallback: list[Channel]
) -> list[Channel]:
    addresses = recipients.addresses(row)
    first = recipients.preferred(row) or (
        Channel.EMAIL if Channel.EMAIL in addresses else Channel.WHATSAPP
    )
    tried = set(row.tried)
    return [
        c
        for c in dict.fromkeys([first, *fallback])
        if c in providers and c in addresses and str(c) not in tried
    ]


def _fail(row: Notification, report: DeliveryReport, now: dt.datetime, reason: str) -> None:
    row.status = S.FAILED
    row.failed_at = row.status_at = now
    row.next_attempt_at = None
    row.last_error = (row.last_error or reason)[:500]
    report.failed += 1


def _deliver_one(row, recipients, state, config, report, fallback, max_attempts) -> None:
    now = now_utc()
    if not kind_of(row.kind).essential and recipients.opted_out(row):
        row.status = S.SKIPPED
        row.status_at = now
        row.last_error = "recipient opted out of this kind of message"
        report.skipped += 1
        return
    addresses = recipients.addresses(row)
    chain = channel_chain(row, recipients, state.providers, fallback)
    if not chain:
        enabled = ", ".join(sorted(str(c) for c in state.providers)) or "none"
        _fail(row, report, now, f"no enabled channel can reach this recipient (enabled: {enabled})")
        return
    for channel in chain:
        provider = state.providers[channel]
        bucket = state.bucket(provider)
        paused = bucket.paused(now)
        if paused is not None:
            row.next_attempt_at = paused
            report.postponed += 1
            return
        bucket.acquire()
        message = OutgoingMessage(
            id=row.id,
            kind=row.kind,
            channel=channel,
            to=addresses[channel],
            subject=row.subject or "",
            body=row.body,
            params=dict(row.params or {}),
            locale=recipients.locale(row),
        )
        try:
            result = provider.send(message)
        except ProviderError as error:
            outcome = error
        except Exception as error:  # noqa: BLE001 - an adapter bug must not stop the batch
            log.exception("provider %s crashed on notification %s", provider.name, row.id)
            outcome = ProviderError(f"{type(error).__name__}: {error}"[:300])
        else:
            now = now_utc()
            row.attempts += 1
            row.status = S.SENT
            row.channel = channel
            row.sent_to = message.to
            row.provider = provider.name
            row.provider_message_id = result.provider_message_id
            row.sent_at = row.status_at = now
            row.next_attempt_at = None
            report.sent += 1
            return
        now = now_utc()
        row.last_error = f"{channel}: {outcome.message}"[:500]
        if outcome.throttled:
            until = now + dt.timedelta(seconds=outcome.retry_after or 60)
            if outcome.pause_provider:
                bucket.pause(until)
            row.next_attempt_at = until
            report.postponed += 1
            return
        row.attempts += 1
        row.channel_attempts += 1
        if not outcome.permanent and row.channel_attempts < max_attempts:
            delay = backoff_seconds(row.channel_attempts, config)
            row.next_attempt_at = now + dt.timedelta(seconds=delay)
            report.retried += 1
            return
        row.channels_tried = ",".join([*row.tried, str(channel)])
        row.channel_attempts = 0
        log.info("notification %s: %s gave up (%s)", row.id, channel, outcome.message)
    _fail(row, report, now, "every channel failed")


def deliver_batch(limit: int = 500) -> DeliveryReport:
    """Hand up to ``limit`` due messages to their providers. Flushes; the caller commits."""
    config = current_app.config
    state = notify_state()
    now = now_utc()
    rows = _due(limit, now, in_quiet_hours(now, config))
    report = DeliveryReport(handled=len(rows))
    if not rows:
        return report
    recipients = _Recipients(rows)
    fallback = fallback_order(config)
    max_attempts = int(config.get("KMP_NOTIFY_MAX_ATTEMPTS") or MAX_ATTEMPTS)
    for row in rows:
        _deliver_one(row, recipients, state, config, report, fallback, max_attempts)
    db.session.flush()
    return report


def deliver_pending(limit: int = 500) -> tuple[int, int]:
    """One batch; returns (sent, failed for good). The caller commits."""
    report = deliver_batch(limit)
    return report.sent, report.failed


def deliver_all(*, batch: int | None = None, seconds: float | None = None) -> DeliveryReport:
    """Batches until nothing is due or ``seconds`` passed, committing after each batch
    (the job's and the CLI's boundary)."""
    config = current_app.config
    batch = int(batch or config.get("KMP_NOTIFY_BATCH") or 500)
    seconds = float(seconds if seconds is not None else config.get("KMP_NOTIFY_RUN_SECONDS", 50))
    deadline = time.monotonic() + seconds
    total = DeliveryReport()
    while True:
        report = deliver_batch(batch)
        db.session.commit()
        total.add(report)
        if report.handled < batch or time.monotonic() >= deadline:
            return total
