"""Issue 10, must show 6 (part): a scheduler process killed with SIGKILL in the middle of the
wajib billing job leaves nothing half-done, and the run after the restart bills every member
exactly once (and queues each bill message once); running it again changes nothing."""

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
from kmp.scheduler import run_job
from members.models import WajibObligation
from tests.integration.members_support import fast_passwords  # noqa: F401
from tests.integration.savings_support import active_member

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = textwrap.dedent(
    """
    import sys, time
    from kmp import create_app
    from kmp.scheduler import run_job
    import members.billing as billing

    url, ready = sys.argv[1], sys.argv[2]
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    real = billing.queue_bill_notices

    def stuck(period):
        count = real(period)          # the obligations and messages are written (not committed)
        open(ready, "w").write(str(count))
        time.sleep(120)               # ... and the process is killed here
        return count

    billing.queue_bill_notices = stuck
    job = next(j for j in app.extensions["kmp_jobs"] if j.id == "members.bill_wajib")
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
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", CHILD, url, str(ready)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            if child.poll() is not None:
                out, err = child.communicate()
                pytest.fail(f"the job process ended early: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the job never reached the middle of its work")
            time.sleep(0.1)
        assert int(ready.read_text()) == len(members)  # it had queued the messages
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    # Nothing of the killed run is left half-done.
    assert _count(WajibObligation) == 0
    assert _count(Notification, Notification.kind == "wajib_bill") == 0

    # The restarted scheduler runs the job: every member billed once, one message each.
    job = next(j for j in app.extensions["kmp_jobs"] if j.id == "members.bill_wajib")
    assert run_job(app, job) is True
    assert _count(WajibObligation) == len(members)
    assert _count(Notification, Notification.kind == "wajib_bill") == len(members)

    # A second run (e.g. a second restart) does the work zero more times.
    assert run_job(app, job) is True
    assert _count(WajibObligation) == len(members)
    assert _count(Notification, Notification.kind == "wajib_bill") == len(members)
