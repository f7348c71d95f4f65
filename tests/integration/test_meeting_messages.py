"""Issue 21, must show 4: meeting notices, vote opening, reminders and results through the
one outbox (set-based, idempotent), and the counts the meeting page shows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from governance import meetings, notices, services
from governance.models import Meeting
from kmp.auth import Role
from kmp.extensions import db
from kmp.notify import Notification, NotificationStatus, deliver_all
from kmp.timeutil import now_utc, set_clock
from members.register.states import MemberStatus
from tests.integration.governance_factories import ensure_ad, make_member, make_proposal


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


def _messages(kind: str, campaign: str) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.kind == kind, Notification.campaign == campaign)
            .order_by(Notification.member_id)
        )
    )


def _rat(starts_at: dt.datetime, by_user=None) -> Meeting:
    meeting = meetings.create_meeting(
        kind="rat",
        title="RAT tahun buku 2025",
        agenda="Laporan pengurus\nPembagian SHU",
        starts_at=starts_at,
        mode="hybrid",
        location="Aula koperasi",
        fiscal_year=2025,
        by_user=by_user,
    )
    db.session.commit()
    return meeting


def test_scheduled_rat_notice_one_per_census_member(make_user):
    census = [make_member("pengemudi") for _ in range(3)] + [make_member("kurir")]
    make_member("pengemudi", pokok_paid=False)  # active, left out of the census
    make_member("pengemudi", status=MemberStatus.EXITED)
    db.session.commit()
    days = services.current_ad().notice_period_days
    start = now_utc()
    meeting = _rat(start + dt.timedelta(days=days + 5), make_user(Role.PENGURUS))

    # Too early: the AD's notice day has not come.
    assert notices.run_message_schedule(start) == {"notices": [], "reminders": [], "failed": []}
    assert _messages("meeting_notice", f"meeting:{meeting.id}") == []

    notice_day = start + dt.timedelta(days=4, minutes=1)  # the period + a day's margin
    done = notices.run_message_schedule(notice_day)
    db.session.commit()
    assert done["notices"] == [meeting.id]
    sent = _messages("meeting_notice", f"meeting:{meeting.id}")
    assert [n.member_id for n in sent] == sorted(m.id for m in census)
    first = next(n for n in sent if n.member_id == census[0].id)
    assert first.address == census[0].phone
    assert first.body.startswith(f"Yth. {census[0].full_name},")
    assert "Pembagian SHU" in first.body and f"/rapat/{meeting.id}" in first.body
    db.session.expire_all()
    meeting = db.session.get(Meeting, meeting.id)
    assert meeting.notice_sent_at == notice_day and not meeting.notice_late

    # Idempotent: the job again, or the board's button, queue nothing more.
    assert notices.run_message_schedule(notice_day + dt.timedelta(hours=1))["notices"] == []
    with pytest.raises(Exception, match="sudah dikirim"):
        meetings.send_notice(meeting)
    db.session.rollback()
    assert len(_messages("meeting_notice", f"meeting:{meeting.id}")) == 4


def test_vote_reminder_only_to_non_voters_and_result_to_all(make_user):
    voters = [make_member("pengemudi") for _ in range(4)]
    db.session.commit()
    pengurus = make_user(Role.PENGURUS)
    proposal = make_proposal(pengurus, minutes=60 * 48)
    campaign = f"ballot:{proposal.id}"
    opened = _messages("vote_open", campaign)
    assert [n.member_id for n in opened] == sorted(m.id for m in voters)

    services.cast_vote(proposal, voters[0], "yes")
    services.cast_vote(proposal, voters[2], "no")
    db.session.commit()

    # Not yet within the reminder window (24 hours before the close).
    assert notices.run_message_schedule()["reminders"] == []
    later = now_utc() + dt.timedelta(hours=30)
    set_clock(lambda: later)
    assert notices.run_message_schedule(later)["reminders"] == [proposal.id]
    db.session.commit()
    reminded = {n.member_id for n in _messages("vote_reminder", campaign)}
    assert reminded == {voters[1].id, voters[3].id}
    assert notices.run_message_schedule(later)["reminders"] == []  # once per ballot
    assert len(_messages("vote_reminder", campaign)) == 2

    services.close_proposal(proposal, by_user=pengurus)
    db.session.commit()
    results = _messages("vote_result", campaign)
    assert {n.member_id for n in results} == {m.id for m in voters}
    assert all("Diterima" in n.body or "Tidak diterima" in n.body for n in results)
    # No message says who voted how: the result text is the same for everyone but the name.
    bodies = {n.body.split(",", 1)[1] for n in results}
    assert len(bodies) == 1


def test_meeting_page_shows_sent_delivered_failed(client, login_as):
    members = [make_member("pengemudi") for _ in range(3)]
    db.session.commit()
    meeting = _rat(now_utc() + dt.timedelta(days=20))
    meetings.send_notice(meeting)
    db.session.commit()
    report = deliver_all()
    assert report.sent == 3
    rows = _messages("meeting_notice", f"meeting:{meeting.id}")
    rows[0].status = NotificationStatus.DELIVERED
    rows[1].status = NotificationStatus.FAILED
    db.session.commit()
    assert {m.id for m in members} == {r.member_id for r in rows}
    login_as(Role.PENGURUS)
    page = client.get(f"/rapat/{meeting.id}").get_data(as_text=True)
    row = page.split('data-testid="counts-notice"', 1)[1].split("</tr>", 1)[0]
    assert row.count("<td>") == 5
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    assert cells[1:] == ["0", "1", "1", "1"]  # queued, sent, delivered, failed
    total = db.session.scalar(select(func.count()).select_from(Notification))
    assert total == 3
