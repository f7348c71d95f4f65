"""Issue 23, must show 3: the daily job sends the 90- and 30-day expiry warnings to the
holder and the board (outbox, once each) and the board's certificate list shows them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kmp.extensions import db
from kmp.notify.models import Notification
from kmp.registry import get_registry
from kmp.scheduler import run_job
from kmp.timeutil import business_date, set_clock
from members.training.jobs import send_expiry_warnings
from members.training.models import CertificateWarning
from tests.integration.governance_factories import make_member
from tests.integration.training_support import board_user, certify

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 08:00 WIB


@pytest.fixture
def clock():
    now = {"at": START}
    set_clock(lambda: now["at"])

    def move(days: int) -> dt.date:
        now["at"] = START + dt.timedelta(days=days)
        return business_date()

    yield move
    set_clock(None)


def expiry_messages() -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.kind == "certificate_expiry")
            .order_by(Notification.id)
        )
    )


def test_warnings_at_90_and_30_days_once_each(app, clock, make_user):
    board = make_user("pengurus", full_name="Siti Ketua", email="ketua@test.kmp.id")
    other = make_user("pengurus", "bendahara", email="bendahara@test.kmp.id")
    who = {"recorder": board, "checker": other}
    officer = make_member("pengemudi", name="Budi Pengurus")
    officer.email = "budi@test.kmp.id"
    soon = certify(officer, "pengurus", expires_in_days=85, **who)
    driver = make_member("pengemudi", name="Rina")
    course = certify(driver, scheme="Pertolongan Pertama", expires_in_days=20, **who)
    later = certify(make_member("kurir"), "pengawas", expires_in_days=200, **who)
    pending = certify(make_member("kurir"), "pengurus", expires_in_days=10, verify=False, **who)
    db.session.commit()

    job = get_registry(app).job("members.certificate_expiry")
    assert run_job(app, job)
    messages = expiry_messages()
    to_holders = [m for m in messages if m.dedupe_key.startswith("certificate_expiry:")]
    assert {(m.dedupe_key, m.address) for m in to_holders} == {
        (f"certificate_expiry:{soon.id}:90", officer.phone),
        (f"certificate_expiry:{course.id}:30", driver.phone),  # first seen inside 30 days
    }
    assert "85 hari lagi" in next(m for m in to_holders if m.member_id == officer.id).body
    digests = [m for m in messages if m.dedupe_key.startswith("certificate_expiry_board:")]
    assert {m.address for m in digests} == {"ketua@test.kmp.id", "bendahara@test.kmp.id"}
    assert all("Budi Pengurus" in m.body and "Rina" not in m.body for m in digests)
    rows = {(w.certificate_id, w.days) for w in db.session.scalars(select(CertificateWarning))}
    assert rows == {(soon.id, 90), (course.id, 30)}
    assert later.id not in {r[0] for r in rows} and pending.id not in {r[0] for r in rows}

    assert run_job(app, job)  # the same day again: nothing new
    assert len(expiry_messages()) == len(messages)
    clock(30)  # 55 days left: still only the 90-day warning
    assert send_expiry_warnings() == {"warned": 0, "messages": 0}

    clock(56)  # 29 days left: the 30-day warning
    assert run_job(app, job)
    thirty = [m for m in expiry_messages() if m.dedupe_key == f"certificate_expiry:{soon.id}:30"]
    assert len(thirty) == 1 and "29 hari lagi" in thirty[0].body
    warned = {(w.certificate_id, w.days) for w in db.session.scalars(select(CertificateWarning))}
    assert warned == {(soon.id, 90), (course.id, 30), (soon.id, 30)}
    assert board.id


def test_the_board_list_shows_the_warnings(clock, client, login_as):
    member = make_member("pengemudi", name="Dewi Pengawas")
    certificate = certify(member, "pengawas", expires_in_days=80)
    board_user("pengurus")
    db.session.commit()
    send_expiry_warnings()
    db.session.commit()
    login_as("pengawas")  # the supervisors read it too
    page = client.get("/pengurus/sertifikat").get_data(as_text=True)
    assert f'data-certificate="{certificate.id}"' in page
    assert 'data-testid="warning-90"' in page and "Dewi Pengawas" in page
    assert "80 hari lagi" in page
    clock(55)
    send_expiry_warnings()
    db.session.commit()
    page = client.get("/pengurus/sertifikat").get_data(as_text=True)
    assert 'data-testid="warning-30"' in page and 'data-testid="warning-90"' in page
