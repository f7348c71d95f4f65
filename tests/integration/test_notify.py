"""The outbox: nothing leaves before commit, dedupe, set-based campaigns, the channel chain,
retries with backoff, throttling, rate limits, opt-outs, quiet hours, campaign counts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.notify import (
    JOB_ID,
    Channel,
    Notification,
    NotificationStatus,
    ProviderError,
    campaign_counts,
    deliver_all,
    deliver_pending,
    fake_outbox,
    get_provider,
    opt_out,
    queue_bulk,
    queue_notification,
    set_channel_preference,
    set_opt_outs,
)
from kmp.notify.delivery import backoff_seconds, in_quiet_hours
from kmp.notify.ratelimit import TokenBucket
from kmp.registry import get_registry

S = NotificationStatus
pytestmark = pytest.mark.usefixtures("fresh_notifier")


def _count(**where) -> int:
    stmt = select(func.count()).select_from(Notification)
    for key, value in where.items():
        stmt = stmt.where(getattr(Notification, key) == value)
    return db.session.scalar(stmt)


def test_queued_message_waits_for_delivery_and_picks_channel(app):
    email = queue_notification(kind="bill", address="budi@test.kmp.id", body="Tagihan", subject="S")
    wa = queue_notification(kind="bill", address="+6281234567890", body="Tagihan")
    db.session.commit()
    assert (email.channel, wa.channel) == (Channel.EMAIL, Channel.WHATSAPP)
    assert fake_outbox(app) == []
    assert deliver_pending() == (2, 0)
    db.session.commit()
    assert [m["address"] for m in fake_outbox(app)] == ["budi@test.kmp.id", "+6281234567890"]
    assert [m["channel"] for m in fake_outbox(app)] == ["email", "whatsapp"]
    assert deliver_pending() == (0, 0)  # delivered once only
    db.session.refresh(wa)
    assert wa.status == S.SENT and wa.sent_at is not None and wa.provider == "fake"
    assert wa.provider_message_id.startswith("fake-whatsapp-")


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


def test_the_job_keeps_its_id_and_drains_in_batches(app):
    assert get_registry(app).job(JOB_ID).id == "notifications-deliver"
    for i in range(7):
        queue_notification(kind="bill", address=f"+62812000000{i}", body="x")
    db.session.commit()
    report = deliver_all(batch=3)
    assert (report.sent, report.handled) == (7, 7)
    assert _count(status=S.SENT) == 7


# --------------------------------------------------------------------------- set-based campaigns


def test_queue_bulk_inserts_a_campaign_once(app):
    rows = [
        {"address": f"+6281300000{i:03d}", "member_id": i, "params": {"name": f"A{i}"}}
        for i in range(250)
    ]
    rows.append({"address": "", "member_id": 999})  # no address: left out
    assert (
        queue_bulk("meeting_notice", "meeting:1", rows, body="Undangan RAT", batch_size=100) == 250
    )
    assert queue_bulk("meeting_notice", "meeting:1", rows, body="Undangan RAT") == 0  # idempotent
    db.session.commit()
    assert campaign_counts("meeting:1")["queued"] == 250
    one = db.session.scalar(select(Notification).where(Notification.member_id == 7))
    assert one.dedupe_key == "meeting_notice:meeting:1:m7"
    assert one.params == {"name": "A7"} and one.channel == Channel.WHATSAPP


def test_queue_bulk_from_a_select_is_one_insert_select(app, make_user):
    from sqlalchemy import literal

    from kmp.auth import User

    make_user(email="satu@test.kmp.id")
    make_user(email="dua@test.kmp.id")
    source = select(
        User.email.label("address"),
        User.id.label("user_id"),
        (literal("Halo ") + User.full_name).label("body"),
    )
    assert queue_bulk("announcement", "announce:1", source) == 2
    assert queue_bulk("announcement", "announce:1", source) == 0
    db.session.commit()
    bodies = sorted(db.session.scalars(select(Notification.body)))
    assert all(b.startswith("Halo Pengguna Uji") for b in bodies)
    assert _count(campaign="announce:1", channel=Channel.EMAIL) == 2


# --------------------------------------------------------------------------- channel chain


def test_whatsapp_by_default_when_there_is_no_email_and_the_preference_wins(app, make_user):
    user = make_user(email="pref@test.kmp.id", phone="081234500001")
    queue_notification(kind="bill", address=user.email, body="a", user_id=user.id)
    queue_notification(kind="bill", address="+6281234500002", body="b")
    db.session.commit()
    deliver_pending()
    assert [m["channel"] for m in fake_outbox(app)] == ["email", "whatsapp"]
    set_channel_preference("sms", user_id=user.id)
    queue_notification(kind="bill", address=user.email, body="c", user_id=user.id)
    db.session.commit()
    deliver_pending()
    last = fake_outbox(app)[-1]
    assert (last["channel"], last["address"]) == ("sms", "+6281234500001")


def test_permanent_failure_falls_back_whatsapp_sms_email(app):
    phone = "+6281234500003"
    set_channel_preference("whatsapp", address=phone)  # (with an e-mail, e-mail comes first)
    get_provider("whatsapp").fail(phone, ProviderError("not on WhatsApp", permanent=True))
    get_provider("sms").fail(phone, ProviderError("number refused", permanent=True))
    message = queue_notification(
        kind="bill", address=phone, alt_address="alt@test.kmp.id", body="x"
    )
    db.session.commit()
    assert deliver_pending() == (1, 0)
    db.session.refresh(message)
    assert (message.channel, message.sent_to) == (Channel.EMAIL, "alt@test.kmp.id")
    assert message.tried == ["whatsapp", "sms"] and message.attempts == 3
    assert "sms: number refused" in message.last_error


def test_every_channel_failing_marks_the_message_failed(app):
    phone = "+6281234500004"
    for channel in ("whatsapp", "sms"):
        get_provider(channel).fail(phone, ProviderError("no", permanent=True))
    message = queue_notification(kind="bill", address=phone, body="x")
    db.session.commit()
    assert deliver_pending() == (0, 1)
    db.session.refresh(message)
    assert message.status == S.FAILED and message.failed_at is not None


def test_temporary_failures_back_off_exponentially_then_fall_back(app, clock):
    phone = "+6281234500005"
    get_provider("whatsapp").fail(phone, ProviderError("server busy"))
    message = queue_notification(kind="bill", address=phone, body="x")
    db.session.commit()
    waits = []
    for attempt in range(1, 5):
        assert deliver_pending() == (0, 0)
        db.session.refresh(message)
        waits.append((message.next_attempt_at - clock.now).total_seconds())
        assert message.channel_attempts == attempt and message.status == S.PENDING
        assert deliver_pending() == (0, 0)  # not due yet: nothing happens
        clock.advance(seconds=waits[-1] + 1)
    for attempt, wait in enumerate(waits, start=1):
        assert 60 * 2 ** (attempt - 1) <= wait <= 66 * 2 ** (attempt - 1)
    assert deliver_pending() == (1, 0)  # 5th WhatsApp failure: the channel is given up, SMS
    db.session.refresh(message)
    assert (message.channel, message.attempts, message.tried) == (Channel.SMS, 6, ["whatsapp"])


def test_backoff_is_capped(app):
    app.config["KMP_NOTIFY_RETRY_MAX_SECONDS"] = 600
    try:
        assert 600 <= backoff_seconds(20, app.config) <= 660
    finally:
        app.config["KMP_NOTIFY_RETRY_MAX_SECONDS"] = 21600


def test_throttling_waits_without_spending_an_attempt_and_pauses_the_provider(app, clock):
    first, second = "+6281234500006", "+6281234500007"
    get_provider("whatsapp").fail(
        first, ProviderError("rate limit hit", throttled=True, retry_after=30)
    )
    a = queue_notification(kind="bill", address=first, body="x")
    b = queue_notification(kind="bill", address=second, body="y")
    db.session.commit()
    assert deliver_pending() == (0, 0)
    db.session.refresh(a)
    db.session.refresh(b)
    assert a.attempts == 0 and a.next_attempt_at == clock.now + dt.timedelta(seconds=30)
    assert b.attempts == 0 and b.next_attempt_at == a.next_attempt_at  # provider paused
    assert fake_outbox(app) == []
    get_provider("whatsapp").clear_failures()
    clock.advance(seconds=31)
    assert deliver_pending() == (2, 0)


def test_rate_limit_spaces_a_campaign(app, fresh_notifier):
    from kmp.notify.delivery import notify_state

    app.config["KMP_WHATSAPP_RATE"] = 0
    provider = get_provider("whatsapp")
    provider.rate_per_second = 10
    notify_state().buckets.clear()
    try:
        queue_bulk(
            "announcement",
            "c:rate",
            [{"address": f"+62812990{i:04d}"} for i in range(25)],
            body="x",
        )
        db.session.commit()
        assert deliver_pending() == (25, 0)
    finally:
        provider.rate_per_second = 0
        notify_state().buckets.clear()
    assert sum(fresh_notifier) == pytest.approx(1.5, rel=0.01)  # 10 at once, then 10/s


def test_token_bucket_refills_with_time():
    now = [0.0]
    slept = []
    bucket = TokenBucket(2, clock=lambda: now[0], sleep=slept.append)
    bucket.acquire()
    bucket.acquire()
    bucket.acquire()  # the bucket (2) is empty: half a second
    assert slept == [pytest.approx(0.5)]
    now[0] = 10.0  # a long pause refills it
    bucket.acquire()
    assert len(slept) == 1


# --------------------------------------------------------------------------- opt-out, quiet hours


def test_opted_out_kinds_are_skipped_but_security_codes_always_go(app, make_user):
    user = make_user(phone="081234500008")
    set_opt_outs(["announcement", "password_reset"], user_id=user.id)  # codes cannot opt out
    opt_out("wajib_bill", address="+6281234500009")
    queue_notification(kind="announcement", address=user.email, user_id=user.id, body="a")
    queue_notification(kind="password_reset", address=user.email, user_id=user.id, body="b")
    queue_notification(kind="wajib_bill", address="+6281234500009", body="c")
    queue_notification(kind="meeting_notice", address="+6281234500009", body="d")
    db.session.commit()
    assert deliver_pending() == (2, 0)
    assert sorted(m["body"] for m in fake_outbox(app)) == ["b", "d"]
    assert _count(status=S.SKIPPED) == 2
    set_opt_outs(["*"], user_id=user.id)
    queue_notification(kind="vote_reminder", address=user.email, user_id=user.id, body="e")
    db.session.commit()
    deliver_pending()
    assert _count(status=S.SKIPPED) == 3


def test_quiet_hours_hold_non_urgent_messages(app, clock):
    app.config["KMP_NOTIFY_QUIET_HOURS"] = "21:00-07:00"
    try:
        clock.now = dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)  # 22:30 WIB
        assert in_quiet_hours(clock.now, app.config)
        queue_notification(kind="meeting_notice", address="+6281234500010", body="rapat")
        queue_notification(
            kind="login_code", address="+6281234500010", body="kode", params={"code": "1"}
        )
        db.session.commit()
        assert deliver_pending() == (1, 0)
        assert [m["kind"] for m in fake_outbox(app)] == ["login_code"]
        clock.now = dt.datetime(2026, 3, 3, 0, 5, tzinfo=dt.UTC)  # 07:05 WIB
        assert not in_quiet_hours(clock.now, app.config)
        assert deliver_pending() == (1, 0)
    finally:
        app.config["KMP_NOTIFY_QUIET_HOURS"] = "off"


def test_campaign_counts(app):
    rows = [{"address": f"+62812770{i:04d}", "member_id": i} for i in range(5)]
    queue_bulk("vote_open", "ballot:3", rows, body="Pemungutan suara dibuka")
    db.session.commit()
    get_provider("whatsapp").fail("+628127700000", ProviderError("x", permanent=True))
    get_provider("sms").fail("+628127700000", ProviderError("x", permanent=True))
    deliver_pending(limit=3)
    db.session.commit()
    assert campaign_counts("ballot:3") == {
        "queued": 2,
        "sent": 2,
        "delivered": 0,
        "read": 0,
        "failed": 1,
        "skipped": 0,
        "total": 5,
    }
    assert campaign_counts("nothing")["total"] == 0


# --------------------------------------------------------------------------- e-mail (SMTP)


class _FakeSMTP:
    sent: list = []
    refuse: bool = False

    def __init__(self, host, port, timeout):
        self.host, self.port = host, port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        pass

    def login(self, user, password):
        self.user = user

    def send_message(self, email):
        import smtplib

        if _FakeSMTP.refuse:
            raise smtplib.SMTPRecipientsRefused({email["To"]: (550, b"no such user")})
        _FakeSMTP.sent.append((self.host, self.port, email["To"], email["Subject"]))


def test_smtp_sends_with_starttls_and_a_refused_recipient_is_permanent(app, monkeypatch):
    import smtplib

    monkeypatch.setattr(smtplib, "SMTP", _FakeSMTP)
    monkeypatch.setitem(app.config, "KMP_NOTIFIER", "email")
    monkeypatch.setitem(app.config, "KMP_SMTP_HOST", "smtp.test.kmp.id")
    _FakeSMTP.sent, _FakeSMTP.refuse = [], False
    ok = queue_notification(kind="bill", address="budi@test.kmp.id", subject="Tagihan", body="x")
    db.session.commit()
    assert deliver_pending() == (1, 0)
    assert _FakeSMTP.sent == [("smtp.test.kmp.id", 587, "budi@test.kmp.id", "Tagihan")]
    db.session.refresh(ok)
    assert ok.provider == "smtp" and ok.provider_message_id
    _FakeSMTP.refuse = True
    refused = queue_notification(kind="bill", address="nobody@test.kmp.id", body="x")
    db.session.commit()
    assert deliver_pending() == (0, 1)
    db.session.refresh(refused)
    assert refused.status == S.FAILED and "SMTP refused" in refused.last_error


@pytest.mark.postgres
def test_two_deliverers_claim_different_messages(app):
    """``kmp notify-deliver`` beside the scheduler: a batch held by one is skipped by the other."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED needs PostgreSQL (KMP_TEST_DATABASE_URL)")
    from sqlalchemy import text

    for i in range(4):
        queue_notification(kind="bill", address=f"+62812880000{i}", body=str(i))
    db.session.commit()
    with db.engine.connect() as other:
        held = (
            other.execute(
                text(
                    "SELECT id FROM notifications WHERE status = 'pending' ORDER BY id LIMIT 2 "
                    "FOR UPDATE SKIP LOCKED"
                )
            )
            .scalars()
            .all()
        )
        assert deliver_pending() == (2, 0)  # only the two the other deliverer does not hold
        db.session.commit()
        sent = set(db.session.scalars(select(Notification.id).where(Notification.status == S.SENT)))
        assert sent.isdisjoint(held) and len(sent) == 2
        other.rollback()
    assert deliver_pending() == (2, 0)


@pytest.mark.postgres
def test_outbox_queries_use_indexes(app):
    """The delivery batch, the campaign counts, the address search and the webhook's lookup by
    provider id are served by indexes (EXPLAIN with sequential scans discouraged)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN index checks need PostgreSQL (KMP_TEST_DATABASE_URL)")
    import re

    from kmp.notify import record_status_updates
    from kmp.notify.providers.whatsapp import StatusUpdate
    from kmp.notify.services import search_messages
    from tests.integration.test_explain_indexes import capturing

    rows = [{"address": f"+62812550{i:04d}", "member_id": i} for i in range(50)]
    queue_bulk("meeting_notice", "meeting:9", rows, body="RAT")
    db.session.commit()
    with capturing() as captured:
        deliver_pending(limit=10)
        campaign_counts("meeting:9")
        search_messages(address="+628125500001")
        record_status_updates(
            "fake",
            [StatusUpdate("fake-whatsapp-1", "delivered", dt.datetime.now(dt.UTC), None, {})],
        )
    db.session.rollback()
    tables = {
        "notifications",
        "notification_events",
        "notification_preferences",
        "notification_opt_outs",
    }
    scans = []
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in captured:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            scans += [
                (t, statement[:120]) for t in re.findall(r"Seq Scan on (\w+)", plan) if t in tables
            ]
        conn.rollback()
    assert len(captured) >= 6 and scans == []
