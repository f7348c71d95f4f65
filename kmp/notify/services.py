"""Outbox services: queue messages, recipients' choices, provider status reports, counts.

Services flush and never commit: the caller's boundary (view, job, CLI) commits, so a message
queued by an action that rolls back is never sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping

from flask import current_app
from sqlalchemy import (
    Integer,
    Select,
    String,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from kmp.db import UTCDateTime
from kmp.extensions import db
from kmp.notify.models import (
    ALL_KINDS,
    STATUS_RANK,
    Channel,
    Notification,
    NotificationEvent,
    NotificationOptOut,
    NotificationPreference,
    NotificationStatus,
)
from kmp.notify.templates import kind_of
from kmp.timeutil import now_utc

S = NotificationStatus
BULK_BATCH = 5_000


def user_locale(user_id: int | None) -> str | None:
    """A login's ``locale`` by id, reading only that column (for ``recipient_locale``)."""
    if user_id is None:
        return None
    from kmp.auth import User

    return db.session.scalar(select(User.locale).where(User.id == user_id))


def recipient_locale(user=None):
    """A context in which gettext speaks the recipient's language (their login's ``locale``,
    else the cooperative's default), also outside a request (jobs, CLI). ``user`` is the
    login, or its locale code (``user_locale``)::

        with recipient_locale(member.user):
            queue_notification(..., body=_("Selamat ..."))
    """
    from flask_babel import force_locale

    languages = current_app.config.get("KMP_LANGUAGES", ("id", "en"))
    locale = user if isinstance(user, str) else getattr(user, "locale", None)
    if locale not in languages:
        locale = current_app.config.get("BABEL_DEFAULT_LOCALE", "id")
    return force_locale(locale)


def channel_for(address: str) -> Channel:
    """The channel planned for an address at queue time (delivery may choose another)."""
    return Channel.EMAIL if "@" in address else Channel.WHATSAPP


def _insert():
    return (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert


# --------------------------------------------------------------------------- queueing


def queue_notification(
    *,
    kind: str,
    address: str | None,
    body: str,
    subject: str = "",
    user_id: int | None = None,
    member_id: int | None = None,
    dedupe_key: str | None = None,
    campaign: str | None = None,
    params: Mapping | None = None,
    alt_address: str | None = None,
    urgent: bool | None = None,
) -> Notification | None:
    """Store a message for delivery after the caller's transaction commits.

    ``params`` fill the WhatsApp template of ``kind`` (``kmp.notify.templates``);
    ``alt_address`` is a second address for the fallback chain (the member's e-mail when
    ``address`` is their phone); ``urgent`` overrides the kind's own flag (sent in quiet hours).
    Returns None (and stores nothing) when there is no address, or when a message with the same
    ``dedupe_key`` was queued before (also by a concurrent transaction).
    """
    alt = (alt_address or "").strip() or None
    address = (address or "").strip() or alt
    if not address:
        return None
    values = {
        "kind": kind,
        "channel": channel_for(address),
        "address": address,
        "alt_address": alt if alt != address else None,
        "subject": subject[:200],
        "body": body,
        "params": dict(params) if params else None,
        "user_id": user_id,
        "member_id": member_id,
        "dedupe_key": dedupe_key,
        "campaign": campaign,
        "status": S.PENDING,
        "urgent": kind_of(kind).urgent if urgent is None else bool(urgent),
        "attempts": 0,
        "channel_attempts": 0,
        "channels_tried": "",
        "created_at": now_utc(),
    }
    if dedupe_key is None:
        message = Notification(**values)
        db.session.add(message)
        db.session.flush()
        return message
    stmt = (
        _insert()(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification)
    )
    # the inserted row comes back as the ORM object (one statement, no read-back)
    return db.session.scalars(stmt).first()


def _default_dedupe(kind: str, campaign: str, row: Mapping) -> str:
    if row.get("member_id") is not None:
        who = f"m{row['member_id']}"
    elif row.get("user_id") is not None:
        who = f"u{row['user_id']}"
    else:
        who = "a" + hashlib.sha256(str(row["address"]).encode()).hexdigest()[:24]
    return f"{kind}:{campaign}:{who}"[:120]


def _count_stamp(kind: str, campaign: str, stamp: dt.datetime) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.campaign == campaign,
                Notification.kind == kind,
                Notification.created_at == stamp,
            )
        )
        or 0
    )


def queue_bulk(
    kind: str,
    campaign: str,
    rows: Iterable[Mapping] | Select,
    *,
    subject: str = "",
    body: str | None = None,
    urgent: bool | None = None,
    batch_size: int = BULK_BATCH,
) -> int:
    """Queue one message per recipient set-based; returns how many were queued.

    ``rows`` is either an iterable of mappings with ``address`` and optionally ``body``,
    ``subject``, ``user_id``, ``member_id``, ``alt_address``, ``params``, ``dedupe_key`` -- written
    by one multi-row ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` per ``batch_size`` rows
    -- or a ``Select`` with columns labelled the same way (no ``params``), written by a single
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (the census of a meeting, every member).
    ``body``/``subject`` are the defaults for rows without their own. Without a ``dedupe_key``
    a recipient gets one message per ``(kind, campaign)`` (``kind:campaign:m<member_id>``, else
    ``u<user_id>``, else a hash of the address): queueing a campaign twice queues it once.
    Rows without an address are left out. Flushes; the caller commits.
    """
    db.session.flush()
    stamp = now_utc()
    flag = kind_of(kind).urgent if urgent is None else bool(urgent)
    if isinstance(rows, Select):
        _queue_select(kind, campaign, rows, subject, body, flag, stamp)
        return _count_stamp(kind, campaign, stamp)
    table = Notification.__table__
    stmt = _insert()(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    batch: list[dict] = []
    for row in rows:
        address = (row.get("address") or "").strip()
        if not address:
            continue
        text = row.get("body") if row.get("body") is not None else body
        if text is None:
            raise ValueError("queue_bulk: a row without a body and no default body")
        alt = (row.get("alt_address") or "").strip() or None
        batch.append(
            {
                "kind": kind,
                "channel": str(channel_for(address)),
                "address": address,
                "alt_address": alt if alt != address else None,
                "subject": str(row.get("subject") or subject)[:200],
                "body": text,
                "params": dict(row["params"]) if row.get("params") else None,
                "user_id": row.get("user_id"),
                "member_id": row.get("member_id"),
                "dedupe_key": row.get("dedupe_key") or _default_dedupe(kind, campaign, row),
                "campaign": campaign,
                "status": S.PENDING.value,
                "urgent": flag,
                "attempts": 0,
                "channel_attempts": 0,
                "channels_tried": "",
                "created_at": stamp,
            }
        )
        if len(batch) >= batch_size:
            db.session.execute(stmt, batch)
            batch = []
    if batch:
        db.session.execute(stmt, batch)
    return _count_stamp(kind, campaign, stamp)


def _queue_select(kind, campaign, source: Select, subject, body, urgent, stamp) -> None:
    src = source.subquery("recipients")
    cols = src.c
    if "address" not in cols:
        raise ValueError("queue_bulk: the select needs a column labelled 'address'")
    if "body" not in cols and body is None:
        raise ValueError("queue_bulk: the select has no 'body' column and no default body")
    address = cols.address
    who = func.coalesce(
        literal("m") + cast(cols.member_id, String) if "member_id" in cols else None,
        literal("u") + cast(cols.user_id, String) if "user_id" in cols else None,
        literal("a") + address,
    )
    dedupe = func.substr(literal(f"{kind}:{campaign}:") + who, 1, 120)
    if "dedupe_key" in cols:
        dedupe = func.coalesce(cols.dedupe_key, dedupe)
    columns = {
        "kind": literal(kind),
        "channel": case((address.like("%@%"), literal("email")), else_=literal("whatsapp")),
        "address": address,
        "alt_address": cols.alt_address if "alt_address" in cols else literal(None, String),
        "subject": cols.subject if "subject" in cols else literal(subject[:200]),
        "body": cols.body if "body" in cols else literal(body),
        "user_id": cols.user_id if "user_id" in cols else literal(None, Integer),
        "member_id": cols.member_id if "member_id" in cols else literal(None, Integer),
        "dedupe_key": dedupe,
        "campaign": literal(campaign),
        "status": literal(S.PENDING.value),
        "urgent": literal(urgent),
        "attempts": literal(0, Integer),
        "channel_attempts": literal(0, Integer),
        "channels_tried": literal(""),
        "created_at": literal(stamp, UTCDateTime()),
    }
    select_rows = select(*columns.values()).where(address.is_not(None), address != "")
    stmt = (
        _insert()(Notification.__table__)
        .from_select(list(columns), select_rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    db.session.execute(stmt)


# --------------------------------------------------------------------------- recipients' choices


def _who(user_id: int | None, address: str | None):
    if user_id is None and not address:
        raise ValueError("a preference needs a user_id or an address")
    return user_id, (address or None) if user_id is None else None


def channel_preference(*, user_id: int | None = None, address: str | None = None):
    """The recipient's chosen channel (``None``: automatic)."""
    user_id, address = _who(user_id, address)
    column = (
        NotificationPreference.user_id == user_id
        if user_id is not None
        else NotificationPreference.address == address
    )
    return db.session.scalar(select(NotificationPreference.channel).where(column))


def set_channel_preference(
    channel: Channel | str | None, *, user_id: int | None = None, address: str | None = None
) -> None:
    """Choose the first channel for a login or an address (``None``: back to automatic)."""
    user_id, address = _who(user_id, address)
    column = (
        NotificationPreference.user_id == user_id
        if user_id is not None
        else NotificationPreference.address == address
    )
    db.session.execute(delete(NotificationPreference).where(column))
    if channel:
        db.session.add(
            NotificationPreference(
                user_id=user_id, address=address, channel=Channel(channel), updated_at=now_utc()
            )
        )
    db.session.flush()


def opted_out_kinds(*, user_id: int | None = None, address: str | None = None) -> set[str]:
    user_id, address = _who(user_id, address)
    column = (
        NotificationOptOut.user_id == user_id
        if user_id is not None
        else NotificationOptOut.address == address
    )
    return set(db.session.scalars(select(NotificationOptOut.kind).where(column)))


def set_opt_outs(
    kinds: Iterable[str],
    *,
    user_id: int | None = None,
    address: str | None = None,
    source: str = "web",
) -> set[str]:
    """Replace the kinds a recipient opted out of (``"*"``: every non-essential kind).
    Essential kinds cannot be opted out of and are dropped. Returns what is stored."""
    user_id, address = _who(user_id, address)
    wanted = {k for k in kinds if k == ALL_KINDS or not kind_of(k).essential}
    column = (
        NotificationOptOut.user_id == user_id
        if user_id is not None
        else NotificationOptOut.address == address
    )
    db.session.execute(
        delete(NotificationOptOut).where(column, NotificationOptOut.kind.not_in(wanted or {""}))
    )
    have = set(db.session.scalars(select(NotificationOptOut.kind).where(column)))
    for kind in sorted(wanted - have):
        db.session.add(
            NotificationOptOut(
                user_id=user_id,
                address=address,
                kind=kind[:40],
                source=source,
                created_at=now_utc(),
            )
        )
    db.session.flush()
    return wanted


def opt_out(
    kind: str = ALL_KINDS,
    *,
    user_id: int | None = None,
    address: str | None = None,
    source: str = "web",
) -> None:
    """Add one opt-out (idempotent)."""
    current = opted_out_kinds(user_id=user_id, address=address)
    set_opt_outs(current | {kind}, user_id=user_id, address=address, source=source)


# --------------------------------------------------------------------------- provider status


def _event_insert(provider: str, update) -> bool:
    """Record a status report once; False when the same report came before."""
    stmt = (
        _insert()(NotificationEvent)
        .values(
            provider=provider,
            provider_message_id=update.provider_message_id,
            status=update.status,
            occurred_at=update.occurred_at,
            received_at=now_utc(),
            applied=False,
            error=update.error,
            payload=update.raw,
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_message_id", "status"])
        .returning(NotificationEvent.id)
    )
    return db.session.execute(stmt).scalar()


def _earliest(current: dt.datetime | None, instant: dt.datetime) -> dt.datetime:
    return instant if current is None or instant < current else current


def apply_status_update(row: Notification, status: str, at: dt.datetime, error=None) -> bool:
    """Move ``row`` forward to what a provider reported; never backward (a late "delivered"
    after "read" only fills in the delivery time). A "failed" report of a message not yet
    delivered sends it on to the next channel of its chain. Returns whether the status changed.
    """
    if row.status in (S.FAILED, S.SKIPPED):
        return False
    if status == "failed":
        if STATUS_RANK.get(row.status, 0) >= STATUS_RANK[S.DELIVERED]:
            return False
        row.channels_tried = ",".join(dict.fromkeys([*row.tried, str(row.channel)]))
        row.channel_attempts = 0
        row.last_error = f"{row.channel}: {error or 'failed'}"[:500]
        row.status = S.PENDING  # the dispatcher tries the next channel, or fails it
        row.next_attempt_at = None
        row.status_at = _later(row.status_at, at)
        return True
    new = S(status)
    if new is S.SENT:
        row.sent_at = _earliest(row.sent_at, at)
    elif new is S.DELIVERED:
        row.delivered_at = _earliest(row.delivered_at, at)
    elif new is S.READ:
        row.read_at = _earliest(row.read_at, at)
        row.delivered_at = _earliest(row.delivered_at, at)  # read implies delivered
    if STATUS_RANK[new] <= STATUS_RANK.get(row.status, 0):
        return False
    row.status = new
    row.status_at = _later(row.status_at, at)
    return True


def _later(current: dt.datetime | None, instant: dt.datetime) -> dt.datetime:
    return instant if current is None or instant > current else current


def record_status_updates(provider: str, updates: Iterable) -> dict:
    """Apply a provider's status reports (idempotent: each (message, status) counts once; out
    of order safe). Returns counts: applied, duplicate, unknown. Flushes."""
    counts = {"applied": 0, "duplicate": 0, "unknown": 0, "ignored": 0}
    for update in updates:
        event_id = _event_insert(provider, update)
        if event_id is None:
            counts["duplicate"] += 1
            continue
        row = db.session.scalar(
            select(Notification)
            .where(
                Notification.provider == provider,
                Notification.provider_message_id == update.provider_message_id,
            )
            .with_for_update()
        )
        event = db.session.get(NotificationEvent, event_id)
        if row is None:
            counts["unknown"] += 1
            continue
        event.notification_id = row.id
        if apply_status_update(row, update.status, update.occurred_at, update.error):
            event.applied = True
            counts["applied"] += 1
        else:
            counts["ignored"] += 1
    db.session.flush()
    return counts


# --------------------------------------------------------------------------- the board's views

COUNT_KEYS = ("queued", "sent", "delivered", "read", "failed", "skipped")
_STATUS_KEY = {
    S.PENDING.value: "queued",
    S.SENT.value: "sent",
    S.DELIVERED.value: "delivered",
    S.READ.value: "read",
    S.FAILED.value: "failed",
    S.SKIPPED.value: "skipped",
}


def campaign_counts(campaign: str) -> dict:
    """Messages of a campaign by their current status: ``{"queued", "sent", "delivered",
    "read", "failed", "skipped", "total"}`` (each message counted once: ``sent`` means sent
    with no delivery report yet; reached = sent + delivered + read)."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for status, n in db.session.execute(
        select(Notification.status, func.count())
        .where(Notification.campaign == campaign)
        .group_by(Notification.status)
    ):
        counts[_STATUS_KEY[str(status)]] += int(n)
    counts["total"] = sum(counts[k] for k in COUNT_KEYS)
    return counts


def campaigns(*, page: int = 1, per_page: int = 50) -> tuple[list[dict], bool]:
    """Every campaign, newest first, with its counts; (rows, has_next)."""
    n = Notification
    status_sums = [
        func.sum(case((n.status == value, 1), else_=0)).label(key)
        for value, key in _STATUS_KEY.items()
    ]
    stmt = (
        select(
            n.campaign,
            func.count().label("total"),
            func.min(n.created_at).label("first_at"),
            func.max(n.created_at).label("last_at"),
            *status_sums,
        )
        .where(n.campaign.is_not(None))
        .group_by(n.campaign)
        .order_by(func.max(n.created_at).desc(), n.campaign)
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    rows = [dict(r._mapping) for r in db.session.execute(stmt)]
    for row in rows:
        for key in COUNT_KEYS:
            row[key] = int(row[key] or 0)
        for key in ("first_at", "last_at"):  # aggregates bypass the column type on SQLite
            value = row[key]
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            row[key] = value
    return rows[:per_page], len(rows) > per_page


def normalise_address(text: str) -> str:
    """A phone number as stored (``+62...``) or an e-mail in lower case; else the text."""
    from kmp.auth import normalise_phone

    text = (text or "").strip()
    if "@" in text:
        return text.lower()
    try:
        return normalise_phone(text)
    except ValueError:
        return text


def search_messages(
    *,
    address: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    campaign: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Notification], bool]:
    """Messages newest first, filtered by address (exact, any of its addresses), kind, status
    (``queued`` or a stored value) and campaign; (rows, has_next)."""
    n = Notification
    stmt = select(n)
    if address:
        wanted = normalise_address(address)
        stmt = stmt.where(or_(n.address == wanted, n.alt_address == wanted, n.sent_to == wanted))
    if kind:
        stmt = stmt.where(n.kind == kind)
    if status:
        value = S.PENDING.value if status == "queued" else status
        stmt = stmt.where(n.status == S(value))
    if campaign:
        stmt = stmt.where(n.campaign == campaign)
    stmt = stmt.order_by(n.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)
    rows = list(db.session.scalars(stmt))
    return rows[:per_page], len(rows) > per_page


def message_events(notification_id: int) -> list[NotificationEvent]:
    return list(
        db.session.scalars(
            select(NotificationEvent)
            .where(NotificationEvent.notification_id == notification_id)
            .order_by(NotificationEvent.occurred_at, NotificationEvent.id)
        )
    )
