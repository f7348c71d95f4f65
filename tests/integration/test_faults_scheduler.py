"""Issue 10, must show 6 (part): a scheduler process killed with SIGKILL in the middle of the
wajib billing job, or in the middle of posting an SHU distribution, leaves nothing half-done,
and the run after the restart does the work exactly once (every member billed once with one
message each; the SHU run posted and paid once, the books balanced); running it again changes
nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.notify import Notification
from kmp.registry import get_registry
from kmp.scheduler import run_job
from members.savings.models import Obligation
from tests.integration.savings_support import active_member

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = textwrap.dedent(
    """
    import sys, time
    from kmp import create_app
    from kmp.registry import get_registry
    from kmp.scheduler import run_job
    import members.savings.billing as billing

    url, ready = sys.argv[1], sys.argv[2]
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    real = billing.queue_bill_notices

    def stuck(period):
        count = real(period)          # the obligations and messages are written (not committed)
        open(ready, "w").write(str(count))
        time.sleep(120)               # ... and the process is killed here
        return count

    billing.queue_bill_notices = stuck
    job = get_registry(app).job("members.bill_wajib")
    run_job(app, job)
    """
)


def _count(model, *where) -> int:
    db.session.expire_all()
    value = db.session.scalar(select(func.count()).select_from(model).where(*where))
    db.session.rollback()
    return value


@pytest.mark.slow
def test_scheduler_killed_mid_billing_completes_exactly_once(app, make_user, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    bendahara, pengurus = make_user("bendahara"), make_user("pengurus")
    members = [active_member(n, bendahara, pengurus) for n in (1, 2, 3)]
    db.session.commit()
    db.session.remove()

    ready = tmp_path / "ready"
    _spawn_and_kill(CHILD, ready, url)
    assert int(ready.read_text()) == len(members)  # it had queued the messages

    # Nothing of the killed run is left half-done.
    assert _count(Obligation) == 0
    assert _count(Notification, Notification.kind == "wajib_bill") == 0

    # The restarted scheduler runs the job: every member billed once, one message each.
    job = get_registry(app).job("members.bill_wajib")
    assert run_job(app, job) is True
    assert _count(Obligation) == len(members)
    assert _count(Notification, Notification.kind == "wajib_bill") == len(members)

    # A second run (e.g. a second restart) does the work zero more times.
    assert run_job(app, job) is True
    assert _count(Obligation) == len(members)
    assert _count(Notification, Notification.kind == "wajib_bill") == len(members)


SHU_CHILD = textwrap.dedent(
    """
    import datetime as dt, sys, time
    from kmp import create_app
    from kmp.registry import get_registry
    from kmp.scheduler import run_job
    from kmp.timeutil import set_clock
    import payouts.posting as posting

    url, ready, day = sys.argv[1], sys.argv[2], dt.date.fromisoformat(sys.argv[3])
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    set_clock(lambda: dt.datetime(day.year, day.month, day.day, 1, 0, tzinfo=dt.UTC))

    def stuck(chunk_no):
        open(ready, "w").write(str(chunk_no))  # member postings written (not committed)
        time.sleep(120)                         # ... and the process is killed here

    posting.after_post_chunk = stuck
    job = get_registry(app).job("payouts-post-shu")
    run_job(app, job)
    """
)


def _spawn_and_kill(script: str, ready, *args: str) -> None:
    """Run ``script`` in a new interpreter, wait until it writes ``ready``, SIGKILL it."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script, args[0], str(ready), *args[1:]],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            if child.poll() is not None:
                _out, err = child.communicate()
                pytest.fail(f"the job process ended early: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the job never reached the middle of its work")
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_scheduler_killed_mid_shu_posting_completes_exactly_once(app, make_user, tmp_path):
    from kmp.auth import Role
    from kmp.ledger.chart import RESERVE, member_account_code
    from kmp.ledger.models import JournalEntry
    from kmp.ledger.queries import balance_of, check_ledger
    from kmp.ledger.services import get_account
    from payouts import services
    from payouts.models import DistributionLine, DistributionRun, LineStatus, RunStatus
    from tests.integration.payouts_support import (
        book_surplus,
        fiscal_year,
        shu_ballot,
        shu_member,
    )

    def balance(code: str) -> int:
        account = get_account(code)
        return balance_of(account) * account.normal_sign

    pengurus = make_user(Role.PENGURUS)
    members = [
        shu_member("pengemudi", wajib=25_000 * (i + 1), trips=10 * (i + 1), user=make_user())
        for i in range(3)
    ]
    book_surplus(9_000_000)
    db.session.commit()
    run = services.create_run(fiscal_year())
    services.compute_run(run)
    db.session.commit()
    shu_ballot(run, members, option="yes", by_user=pengurus)
    db.session.commit()
    run_id, day = run.id, run.distribution_date
    numbers = [m.member_no for m in members]
    entries_before = _count(JournalEntry)
    db.session.remove()

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    _spawn_and_kill(SHU_CHILD, tmp_path / "ready", url, day.isoformat())

    # Nothing of the killed posting is left: the run is still approved, no entry was kept.
    assert _count(JournalEntry) == entries_before
    assert db.session.get(DistributionRun, run_id).status is RunStatus.APPROVED
    db.session.rollback()

    # The restarted scheduler posts and pays it once; another run changes nothing.
    import datetime as dt

    from kmp.registry import get_registry
    from kmp.scheduler import run_job
    from kmp.timeutil import set_clock

    job = get_registry(app).job("payouts-post-shu")
    set_clock(lambda: dt.datetime(day.year, day.month, day.day, 1, 0, tzinfo=dt.UTC))
    try:
        assert run_job(app, job) is True
        entries_after = _count(JournalEntry)
        assert run_job(app, job) is True
        assert _count(JournalEntry) == entries_after
    finally:
        set_clock(None)
    db.session.expire_all()
    run = db.session.get(DistributionRun, run_id)
    assert run.status is RunStatus.PAID
    assert _count(DistributionLine, DistributionLine.status != LineStatus.PAID) == 0
    assert balance(RESERVE) == run.summary["funds"]["cadangan"]
    assert sum(balance(member_account_code("shu", no)) for no in numbers) == 0
    assert check_ledger().ok
