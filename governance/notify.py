"""Placeholder notifier for meeting notices (there is no core notifier adapter yet).

Every message is recorded in ``governance_notifications`` (an outbox the board can read and a
test can inspect). If some feature later installs a real sender as
``app.extensions["kmp_notifier"]`` (a callable ``(address, subject, body) -> None``), it is
also called; without one nothing leaves the server. Replace this module by the core notifier
(mail / WhatsApp adapter with a fake, architecture principle 8) when it exists.
"""

from __future__ import annotations

import logging

from flask import current_app

from governance.models import Notification
from kmp.extensions import db

log = logging.getLogger("kmp.governance.notify")


def send_message(
    *,
    kind: str,
    subject: str,
    body: str,
    member_id: int | None = None,
    user_id: int | None = None,
    address: str | None = None,
    meeting_id: int | None = None,
) -> Notification:
    sender = current_app.extensions.get("kmp_notifier")
    channel = "outbox"
    if sender is not None and address:
        sender(address, subject, body)
        channel = "sent"
    message = Notification(
        kind=kind,
        channel=channel,
        meeting_id=meeting_id,
        member_id=member_id,
        user_id=user_id,
        address=address,
        subject=subject[:200],
        body=body,
    )
    db.session.add(message)
    log.info("notice %s recorded for member %s (%s)", kind, member_id, channel)
    return message
