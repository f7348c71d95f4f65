"""Two scheduler hosts against one database run each scheduled job once (issue 9).

The PostgreSQL test starts two real scheduler processes (``kmp.scheduler.build_scheduler``,
APScheduler background schedulers) on the test database with three jobs that fire at the same
instants in both: a quick one, a slow one (holds the advisory lock while the other host
fires) and a cron one. Each job writes a row per run; every slot must hold exactly one row,
and both hosts must have fired (and skipped) some runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from kmp.scheduler import Job, advisory_key, claim_gap_seconds, run_job

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import datetime as dt, json, logging, os, sys, time
from sqlalchemy import text
from kmp import create_app
from kmp.extensions import db
from kmp.scheduler import Job, build_scheduler, register_jobs

url, start, seconds = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2]), float(sys.argv[3])
app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
from kmp.registry import get_registry
get_registry(app).jobs.clear()  # only this test's jobs


def record(name, pause):
    def run():
        db.session.execute(
            text("INSERT INTO sched_test_runs (job_id, pid, at) "
                 "VALUES (:j, :p, clock_timestamp())"),
            {"j": name, "p": os.getpid()},
        )
        time.sleep(pause)
    return run


every = {"seconds": 2, "start_date": start}
register_jobs(
    app,
    Job("test-quick", record("test-quick", 0), "interval", every),
    Job("test-slow", record("test-slow", 0.8), "interval", every),
    Job("test-cron", record("test-cron", 0), "cron", {"second": "*/2"}),
)
counts = {"finished": 0, "skipped": 0}


class Count(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        if " skipped" in message:
            counts["skipped"] += 1
        elif message.endswith(" finished"):
            counts["finished"] += 1


logger = logging.getLogger("kmp.scheduler")
logger.addHandler(Count())
logger.setLevel(logging.INFO)
scheduler = build_scheduler(app, blocking=False)
scheduler.start()
time.sleep(max(0.0, (start - dt.datetime.now(dt.UTC)).total_seconds()) + seconds)
scheduler.shutdown(wait=True)
print(json.dumps(counts))
"""


def _job(trigger: str, **args) -> Job:
    return Job("x", lambda: None, trigger, args)


def test_claim_gap_is_half_the_period():
    assert claim_gap_seconds(_job("interval", seconds=60)) == 30
    assert claim_gap_seconds(_job("cron", minute="*/5")) == 150
    assert claim_gap_seconds(_job("cron", hour=2, minute=0)) == 43_200
    assert claim_gap_seconds(_job("cron", day=1, hour=3)) == 86_400  # capped at a day


def test_advisory_key_is_stable_and_distinct():
    assert advisory_key("ledger-close") == advisory_key("ledger-close")
    assert advisory_key("ledger-close") != advisory_key("payments-reconcile")
    assert -(2**63) <= advisory_key("x") < 2**63


def test_run_job_runs_by_hand_every_time(app):
    ran = []
    job = Job("by-hand", lambda: ran.append(1), "interval", {"seconds": 60})
    assert run_job(app, job)
    assert run_job(app, job)  # a hand-run takes the lock but claims no slot
    assert ran == [1, 1]


@pytest.mark.postgres
def test_a_held_lock_makes_the_other_host_skip(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks need PostgreSQL (KMP_TEST_DATABASE_URL)")
    ran = []
    job = Job("held", lambda: ran.append(1), "interval", {"seconds": 60})
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": advisory_key(job.id)})
        assert run_job(app, job) is False
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(job.id)})
        other.commit()
    assert run_job(app, job, claim_gap=30) is True
    assert run_job(app, job, claim_gap=30) is False  # the slot is taken
    assert ran == [1]


@pytest.mark.postgres
def test_two_schedulers_run_each_job_once(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("two scheduler hosts need PostgreSQL (KMP_TEST_DATABASE_URL)")
    db.session.execute(
        text(
            "CREATE TABLE IF NOT EXISTS sched_test_runs "
            "(job_id VARCHAR(40), pid INTEGER, at TIMESTAMPTZ)"
        )
    )
    db.session.execute(text("DELETE FROM sched_test_runs"))
    db.session.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    # the first slot on an even second, late enough for both processes to be up
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(seconds=6 + now.second % 2)
    seconds = 7.0  # slots at start, +2, +4, +6
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    hosts = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, start.isoformat(), str(seconds)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for host in hosts:
        out, err = host.communicate(timeout=90)
        assert host.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    try:
        rows = db.session.execute(
            text("SELECT job_id, pid, at FROM sched_test_runs ORDER BY job_id, at")
        ).all()
    finally:
        db.session.execute(text("DROP TABLE sched_test_runs"))
        db.session.commit()
    by_job: dict[str, list] = {}
    for job_id, pid, at in rows:
        by_job.setdefault(job_id, []).append((pid, at))
    assert set(by_job) == {"test-quick", "test-slow", "test-cron"}
    for job_id, runs in by_job.items():
        assert len(runs) >= 3, (job_id, runs)
        gaps = [(b[1] - a[1]).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
        assert min(gaps) > 1.0, f"{job_id} ran twice in one slot: {runs}"
    fired = sum(o["finished"] + o["skipped"] for o in outputs)
    assert sum(o["finished"] for o in outputs) == len(rows)
    assert all(o["skipped"] > 0 or o["finished"] > 0 for o in outputs)
    assert sum(o["skipped"] for o in outputs) >= len(rows) - 3  # the other host did fire
    assert fired >= 2 * len(rows) - 3
