"""Simpanan wajib billing (issue 5, Must-show 4): set-based, idempotent, oldest first."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.registry import get_registry
from kmp.timeutil import add_months, business_date
from members.ad.services import current_ad
from members.articles.services import update_ad
from members.register.services import new_request_token
from members.savings import billing
from members.savings.deposits import record_receipt
from members.savings.models import Obligation, ObligationPayment
from tests.integration.members_support import apply_member
from tests.integration.savings_support import active_member, bill_months


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


def _count(member_id=None) -> int:
    stmt = select(func.count()).select_from(Obligation)
    if member_id is not None:
        stmt = stmt.where(Obligation.member_id == member_id)
    return db.session.scalar(stmt)


def test_billing_same_month_twice_creates_no_duplicates(board):
    bendahara, pengurus = board
    a = active_member(1, bendahara, pengurus)
    c = active_member(3, bendahara, pengurus, group="kurir")
    applicant = apply_member(4)  # not active: never billed
    month = business_date().replace(day=1)
    first = billing.bill_wajib(month)
    db.session.commit()
    assert first.created == 2 and first.amount_idr == 50_000
    again = billing.bill_wajib(month + dt.timedelta(days=9))  # any day of the same month
    db.session.commit()
    assert again.created == 0 and again.amount_idr == 0
    assert _count() == 2 and _count(applicant.id) == 0
    rows = db.session.scalars(select(Obligation).order_by(Obligation.member_id)).all()
    assert [(r.member_id, r.period, r.amount_idr, r.is_open) for r in rows] == [
        (a.id, month, 25_000, True),
        (c.id, month, 25_000, True),
    ]


def test_billing_uses_the_ad_amount_and_skips_members_who_joined_later(board):
    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus, months_ago=0)
    ad = current_ad()
    groups = [
        g.__class__(**{**g.__dict__, "wajib_idr": 30_000}) if g.code == "pengemudi" else g
        for g in ad.groups
    ]
    update_ad(ad.__class__(**{**ad.__dict__, "groups": tuple(groups)}), pengurus, "naik")
    db.session.commit()
    past = add_months(member.joined_date.replace(day=1), -1)  # before the member joined
    assert billing.bill_wajib(past).created == 0
    result = billing.bill_wajib(business_date())
    db.session.commit()
    assert result.created == 1 and result.amount_idr == 30_000


def test_cli_bill_wajib(app, board):
    bendahara, pengurus = board
    active_member(1, bendahara, pengurus)
    runner = app.test_cli_runner()
    month = business_date().strftime("%Y-%m")
    out = runner.invoke(args=["members", "bill-wajib", "--month", month])
    assert out.exit_code == 0, out.output
    assert "1 anggota ditagih" in out.output
    out = runner.invoke(args=["members", "bill-wajib", "--month", month])
    assert "0 anggota ditagih" in out.output
    bad = runner.invoke(args=["members", "bill-wajib", "--month", "2026-13"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
    db.session.expire_all()
    assert _count() == 1


def test_three_months_paid_settle_the_three_oldest(board):
    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus)
    months = bill_months(5)
    assert billing.arrears_months([member.id]) == {member.id: 5}
    receipt = record_receipt(
        member,
        purpose="wajib",
        amount_idr=75_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    db.session.commit()
    rows = db.session.scalars(select(Obligation).order_by(Obligation.period)).all()
    assert [r.period for r in rows] == months
    assert [r.is_open for r in rows] == [False, False, False, True, True]
    assert billing.arrears_months([member.id]) == {member.id: 2}
    assert billing.arrears_idr(member.id) == 50_000
    sources = set(db.session.scalars(select(ObligationPayment.source)))
    assert sources == {f"receipt:{receipt.number}"}


def test_arrears_hooks_count_open_obligations(app, board):
    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus)
    bill_months(4)
    hook = billing.arrears_months
    assert hook([member.id], business_date()) == {member.id: 4}
    # months not yet reached on an earlier date do not count
    assert hook([member.id], add_months(business_date().replace(day=1), -2)) == {member.id: 2}
    assert billing.member_arrears_idr_hook(member) == 100_000
    from governance.common import arrears_months

    assert arrears_months([member.id], business_date()) == {member.id: 4}


def test_the_monthly_job_is_registered_in_jakarta_cron(app):
    jobs = {j.id: j for j in get_registry(app).jobs}
    job = jobs["members.bill_wajib"]
    assert job.trigger == "cron" and job.trigger_args["day"] == 1
    from kmp.scheduler import build_scheduler

    scheduler = build_scheduler(app, blocking=False)
    assert str(scheduler.get_job("members.bill_wajib").trigger.timezone) == "Asia/Jakarta"


def test_the_job_bills_this_month(app, board):
    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus)
    from kmp.scheduler import run_job

    job = get_registry(app).job("members.bill_wajib")
    db.session.commit()
    assert run_job(app, job)
    assert run_job(app, job)  # twice: still one bill
    db.session.expire_all()
    assert _count(member.id) == 1


def test_bill_notices_and_arrears_reminders_are_queued_once(app, board):
    from kmp.notify import Notification

    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus)
    other = active_member(2, bendahara, pengurus)
    months = bill_months(3)
    record_receipt(
        other,
        purpose="wajib",
        amount_idr=75_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    db.session.commit()
    assert billing.queue_bill_notices(months[-1]) == 1  # `other` already paid this month
    assert billing.queue_arrears_reminders(business_date()) == 1
    db.session.commit()
    # again: deduplicated
    assert billing.queue_bill_notices(months[-1]) == 0
    assert billing.queue_arrears_reminders(business_date()) == 0
    db.session.commit()
    rows = db.session.scalars(
        select(Notification).where(Notification.kind != "member_welcome").order_by(Notification.id)
    ).all()
    assert [(r.kind, r.member_id) for r in rows] == [
        ("wajib_bill", member.id),
        ("wajib_arrears", member.id),
    ]
    assert "Rp 25.000" in rows[0].body and rows[0].address == member.phone
    assert rows[0].channel.value == "whatsapp"
    assert "3 bulan" in rows[1].body
