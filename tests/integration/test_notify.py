"""The notifier outbox: nothing leaves before commit, dedupe, retries, fake adapter."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.notify import (
    MAX_ATTEMPTS,
    Channel,
    Notification,
    NotificationStatus,
    deliver_pending,
    fake_outbox,
    queue_notification,
)


@pytest.fixture(autouse=True)
def _empty_fake_outbox(app):
    fake_outbox(app).clear()


def test_queued_message_waits_for_delivery_and_picks_channel(app):
    email = queue_notification(kind="bill", address="budi@test.kmp.id", body="Tagihan", subject="S")
    wa = queue_notification(kind="bill", address="+6281234567890", body="Tagihan")
    db.session.commit()
    assert (email.channel, wa.channel) == (Channel.EMAIL, Channel.WHATSAPP)
    assert fake_outbox(app) == []
    assert deliver_pending() == (2, 0)
    db.session.commit()
    assert [m["address"] for m in fake_outbox(app)] == ["budi@test.kmp.id", "+6281234567890"]
    assert deliver_pending() == (0, 0)  # delivered once only


def test_rolled_back_action_sends_nothing(app):
    queue_notification(kind="receipt", address="budi@test.kmp.id", body="x")
    db.session.rollback()
    assert deliver_pending() == (0, 0)
    assert fake_outbox(app) == []


def test_dedupe_key_and_missing_address(app):
    assert queue_notification(kind="bill", address=None, body="x") is None
    first = queue_notification(kind="bill", address="a@test.kmp.id", body="x", dedupe_key="k1")
    again = queue_notification(kind="bill", address="a@test.kmp.id", body="x", dedupe_key="k1")
    db.session.commit()
    assert first is not None and again is None
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_failures_are_retried_then_marked_failed(app):
    app.config["KMP_NOTIFIER"] = "email"
    app.config["KMP_SMTP_HOST"] = ""
    try:
        message = queue_notification(kind="bill", address="+628111", body="x")
        db.session.commit()
        for _ in range(MAX_ATTEMPTS - 1):
            assert deliver_pending() == (0, 0)
        assert deliver_pending() == (0, 1)
        db.session.commit()
        db.session.refresh(message)
        assert message.status == NotificationStatus.FAILED
        assert "WhatsApp" in message.last_error
    finally:
        app.config["KMP_NOTIFIER"] = "fake"
