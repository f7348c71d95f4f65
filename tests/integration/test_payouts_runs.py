"""SHU distribution runs: compute, approval through governance, posting (crash-safe), payout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from kmp.auth import Role
from kmp.errors import DomainError, Forbidden, IllegalTransition
from kmp.extensions import db as _db
from kmp.ledger.chart import RESERVE, SHU_FUNDS, member_account_code
from kmp.ledger.models import JournalEntry
from kmp.ledger.queries import balance_of, check_ledger
from kmp.ledger.services import get_account
from kmp.registry import get_registry
from payouts import approval, posting, services, transfers
from payouts.models import DistributionLine, DistributionRun, LineStatus, RunStatus
from tests.integration.payouts_support import (
    book_surplus,
    fiscal_year,
    shu_ballot,
    shu_member,
)

S = 10_000_000


def _bal(code: str) -> int:
    account = get_account(code)
    return balance_of(account) * account.normal_sign


@pytest.fixture
def world(make_user):
    pengurus = make_user(Role.PENGURUS)
    members = []
    for i in range(3):
        user = make_user(Role.ANGGOTA)
        members.append(
            shu_member("pengemudi", wajib=25_000 * (i + 1), trips=10 * (i + 1), user=user)
        )
    for _i in range(2):
        user = make_user(Role.ANGGOTA)
        members.append(shu_member("kurir", wajib=0, trips=5, user=user))
    book_surplus(S)
    _db.session.commit()
    return pengurus, members


def _computed_run(by_user=None):
    run = services.create_run(fiscal_year(), by_user)
    services.compute_run(run, by_user=by_user)
    _db.session.commit()
    return run


def test_compute_stores_lines_that_add_up(world):
    run = _computed_run()
    assert run.status is RunStatus.COMPUTED
    assert run.shu_idr == S and run.shu_source == "ledger"
    assert run.member_count == 5
    funds = run.summary["funds"]
    assert sum(funds.values()) == S
    lines = _db.session.scalars(select(DistributionLine)).all()
    assert sum(line.total_idr for line in lines) == funds["jasa_anggota"] == run.members_total_idr
    assert run.ad_version_id is not None
    # groups without members (pengguna, platform) went to the reserve and are reported
    assert {g for g, _, _ in run.summary["redirected"]} == {"pengguna", "platform"}
    # the member with more capital and trips in a group gets more
    drivers = sorted((x for x in lines if x.group_code == "pengemudi"), key=lambda x: x.member_no)
    assert drivers[0].total_idr < drivers[1].total_idr < drivers[2].total_idr
    assert [x.patronage for x in drivers] == [10, 20, 30]


def test_one_live_run_per_year_by_database_constraint(world):
    run = _computed_run()
    with pytest.raises(DomainError):
        services.create_run(fiscal_year())
    # the database itself refuses a second live run
    _db.session.add(DistributionRun(fiscal_year=fiscal_year(), status=RunStatus.DRAFT))
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        _db.session.flush()
    _db.session.rollback()
    services.cancel_run(_db.session.get(DistributionRun, run.id), "salah hitung")
    _db.session.commit()
    assert services.create_run(fiscal_year()).status is RunStatus.DRAFT


def test_entered_shu_needs_reason_and_negative_distributes_nothing(world):
    run = services.create_run(fiscal_year())
    with pytest.raises(DomainError, match="alasan"):
        services.compute_run(run, shu_idr=5_000_000)
    with pytest.raises(DomainError, match="tidak ada sisa hasil usaha"):
        services.compute_run(run, shu_idr=-5, reason="audit")
    assert run.status is RunStatus.DRAFT
    services.compute_run(run, shu_idr=5_000_001, reason="angka audit")
    assert run.shu_source == "entered" and run.shu_idr == 5_000_001
    assert sum(run.summary["funds"].values()) == 5_000_001


def test_cannot_approve_without_adopted_resolution(world):
    pengurus, members = world
    run = _computed_run()
    with pytest.raises(Forbidden):
        approval.approve_run(run, None)
    with pytest.raises(IllegalTransition):
        posting.post_run(run)
    # a rejected ballot leaves the run computed
    shu_ballot(run, members, option="no", by_user=pengurus)
    _db.session.commit()
    _db.session.expire_all()
    run = _db.session.get(DistributionRun, run.id)
    assert run.status is RunStatus.COMPUTED and run.resolution_id is None
    # an adopted proposal referencing another run does not approve this one
    other = SimpleNamespace(reference=f"distribution_run:{run.id + 100}", fiscal_year=1999)
    _, adopted_elsewhere = shu_ballot(other, members, option="yes", by_user=pengurus)
    _db.session.commit()
    _db.session.expire_all()
    run = _db.session.get(DistributionRun, run.id)
    assert run.status is RunStatus.COMPUTED
    with pytest.raises(Forbidden):
        approval.approve_run(run, adopted_elsewhere)
    # an adopted one referencing this run does
    shu_ballot(run, members, option="yes", by_user=pengurus)
    _db.session.commit()
    _db.session.expire_all()
    run = _db.session.get(DistributionRun, run.id)
    assert run.status is RunStatus.APPROVED and run.resolution_id is not None


def _approved_run(world):
    pengurus, members = world
    run = _computed_run()
    shu_ballot(run, members, option="yes", by_user=pengurus)
    _db.session.commit()
    _db.session.expire_all()
    return _db.session.get(DistributionRun, run.id)


def test_post_once_and_pay_sukarela(world):
    _, members = world
    run = _approved_run(world)
    posting.post_run(run)
    _db.session.commit()
    assert run.status is RunStatus.POSTED
    funds = run.summary["funds"]
    assert _bal(RESERVE) == funds["cadangan"]
    assert _bal(SHU_FUNDS["dana_sosial"]) == funds["dana_sosial"]
    line = transfers.member_line(run, members[0].id)
    assert _bal(member_account_code("shu", members[0].member_no)) == line.total_idr
    with pytest.raises(IllegalTransition):
        posting.post_run(run)
    count = transfers.pay_sukarela(run)
    _db.session.commit()
    assert count == 5
    assert run.status is RunStatus.PAID
    assert _bal(member_account_code("shu", members[0].member_no)) == 0
    assert _bal(member_account_code("sukarela", members[0].member_no)) == line.total_idr
    assert check_ledger().ok


def test_crash_midway_leaves_nothing_and_rerun_completes(world, monkeypatch):
    run = _approved_run(world)
    monkeypatch.setattr(posting, "POST_CHUNK", 2)
    entries_before = _db.session.scalar(select(func.count()).select_from(JournalEntry))

    def crash(chunk_no):
        if chunk_no == 2:
            raise RuntimeError("listrik padam")

    monkeypatch.setattr(posting, "after_post_chunk", crash)
    with pytest.raises(RuntimeError):
        posting.post_run(run)
    _db.session.rollback()
    _db.session.expire_all()
    run = _db.session.get(DistributionRun, run.id)
    assert run.status is RunStatus.APPROVED
    assert _db.session.scalar(select(func.count()).select_from(JournalEntry)) == entries_before
    assert _bal(RESERVE) == 0
    monkeypatch.setattr(posting, "after_post_chunk", None)
    posting.post_run(run)
    _db.session.commit()
    total = sum(_bal(member_account_code("shu", m.member_no)) for m in world[1])
    assert total == run.members_total_idr
    assert _bal(RESERVE) == run.summary["funds"]["cadangan"]
    assert check_ledger().ok


def test_scheduled_job_posts_on_distribution_date(world, app):
    import datetime as dt

    from kmp.scheduler import run_job
    from kmp.timeutil import set_clock

    run = _approved_run(world)
    job = get_registry(app).job("payouts-post-shu")
    date = run.distribution_date
    set_clock(
        lambda: (
            dt.datetime(date.year, date.month, date.day, 0, 0, tzinfo=dt.UTC) - dt.timedelta(days=1)
        )
    )
    try:
        run_job(app, job)
        _db.session.expire_all()
        assert _db.session.get(DistributionRun, run.id).status is RunStatus.APPROVED
        set_clock(lambda: dt.datetime(date.year, date.month, date.day, 1, 0, tzinfo=dt.UTC))
        run_job(app, job)
        _db.session.expire_all()
        assert _db.session.get(DistributionRun, run.id).status is RunStatus.PAID
        run_job(app, job)  # nothing due any more
    finally:
        set_clock(None)
    lines = _db.session.scalars(select(DistributionLine)).all()
    assert all(x.status is LineStatus.PAID for x in lines)
    assert check_ledger().ok


def test_no_recompute_while_members_vote(world):
    import datetime as dt

    from governance import services as gov
    from kmp.timeutil import now_utc

    pengurus, _ = world
    run = _computed_run()
    now = now_utc()
    proposal = gov.create_proposal(
        kind="shu_allocation",
        title="Pembagian SHU",
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(minutes=60),
        reference=run.reference,
        by_user=pengurus,
    )
    gov.open_proposal(proposal, by_user=pengurus)
    _db.session.commit()
    with pytest.raises(IllegalTransition, match="sedang berjalan"):
        services.compute_run(run, shu_idr=1_000_000, reason="audit")
    _db.session.rollback()
    assert _db.session.get(DistributionRun, run.id).shu_idr == S
