"""Scheduled jobs: each feature exposes a ``JOBS`` list; one scheduler process runs them.

Every run is wrapped by ``run_job``: it opens an app context, takes a PostgreSQL advisory lock
keyed by a stable hash of the job id (``pg_try_advisory_lock`` on a connection of its own, so
the job's commits do not release it), calls the job, commits once, and rolls back on failure.
A second scheduler host that fires the same job while the lock is held skips the run.

Clocks of two hosts are never exactly together, and a short job may be over before the other
host fires, so a scheduled run also claims its slot in ``scheduler_runs`` under the lock: the
claim succeeds only when the job last started more than half its period ago (the database's
clock decides, not the hosts'). Together: two scheduler hosts run each scheduled job once.
Calling ``run_job`` by hand (CLI, tests) takes the lock but not the slot. On SQLite (one
process by construction) both are no-ops. Jobs themselves stay idempotent, so a run repeated
after a crash does the work once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import UTCDateTime
from kmp.extensions import db

log = logging.getLogger("kmp.scheduler")


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    trigger: str  # "cron" or "interval"
    trigger_args: dict = field(default_factory=dict)
    description: str = ""


class SchedulerRun(db.Model):
    """When each scheduled job last started (PostgreSQL scheduler hosts claim slots here)."""

    __tablename__ = "scheduler_runs"

    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    host: Mapped[str] = mapped_column(String(100))


TIMEZONE = "Asia/Jakarta"


def job_trigger(job: Job):
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    args = dict(job.trigger_args)
    args.setdefault("timezone", TIMEZONE)
    if job.trigger == "cron":
        return CronTrigger(**args)
    if job.trigger == "interval":
        return IntervalTrigger(**args)
    raise ValueError(f"job {job.id}: unknown trigger {job.trigger!r}")


def claim_gap_seconds(job: Job) -> float:
    """Half the job's period (the time between two consecutive fire times), at most a day."""
    trigger = job_trigger(job)
    now = dt.datetime.now(dt.UTC)
    first = trigger.get_next_fire_time(None, now)
    second = (
        trigger.get_next_fire_time(first, first + dt.timedelta(microseconds=1)) if first else None
    )
    if first is None or second is None:
        return 0.0
    return min((second - first).total_seconds() / 2, 86_400.0)


_CLAIM = text(
    "INSERT INTO scheduler_runs (job_id, last_started_at, host) "
    "VALUES (:job, clock_timestamp(), :host) "
    "ON CONFLICT (job_id) DO UPDATE SET last_started_at = EXCLUDED.last_started_at, "
    "host = EXCLUDED.host "
    "WHERE scheduler_runs.last_started_at < clock_timestamp() - make_interval(secs => :gap) "
    "RETURNING job_id"
)


def register_jobs(app: Flask, *jobs: Job) -> None:
    from kmp.registry import get_registry

    get_registry(app).add_jobs(*jobs)


def advisory_key(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big", signed=True)


def run_job(app: Flask, job: Job, *, claim_gap: float | None = None) -> bool:
    """Run ``job`` once under its lock. Returns False when another process holds the lock or
    (``claim_gap`` seconds given: a scheduled run) the job already started within that gap."""
    with app.app_context():
        lock = None
        key = advisory_key(job.id)
        try:
            if db.engine.dialect.name == "postgresql":
                lock = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                got = lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                if not got:
                    log.info("job %s skipped: another scheduler holds its lock", job.id)
                    lock.close()
                    lock = None
                    return False
                if claim_gap is not None:
                    claimed = lock.execute(
                        _CLAIM, {"job": job.id, "host": _host(), "gap": claim_gap}
                    ).first()
                    if claimed is None:
                        log.info("job %s skipped: it already ran in this slot", job.id)
                        return False
            log.info("job %s started", job.id)
            from kmp.audit import acting_as

            with acting_as(f"job:{job.id}"):  # every write of the run names the job
                job.func()
                db.session.commit()
            log.info("job %s finished", job.id)
            return True
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", job.id)
            raise
        finally:
            db.session.remove()
            if lock is not None:
                try:
                    lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                finally:
                    lock.close()


def _host() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def build_scheduler(app: Flask, *, blocking: bool = True):
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone=TIMEZONE,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    from kmp.registry import get_registry

    for job in get_registry(app).jobs:
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job),
            kwargs={"claim_gap": claim_gap_seconds(job)},
            id=job.id,
            name=job.description or job.id,
            replace_existing=True,
            **job.trigger_args,
        )
    return scheduler


#: The development server's in-process scheduler (one per process; ``make run``).
_dev_scheduler = None


def init_app(app: Flask) -> None:  # noqa: ARG001 - jobs live in the registry
    return None


def maybe_start_dev_scheduler(app: Flask):
    """With ``KMP_DEV_SCHEDULER=1`` (set by ``make run`` on the ``flask run`` line only) the
    development server runs the scheduler in a background thread, so bills appear and ballots
    open and close by time. Once per process; never in tests, never in the reloader's watching
    parent (which serves nothing). Called by ``wsgi.py`` after every feature registered its
    jobs. Returns the scheduler or ``None``."""
    import os

    global _dev_scheduler
    if os.environ.get("KMP_DEV_SCHEDULER") != "1" or app.testing:
        return None
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return None
    if _dev_scheduler is None:
        _dev_scheduler = build_scheduler(app, blocking=False)
        _dev_scheduler.start()
        log.warning(
            "development scheduler started in the server process (%d jobs)",
            len(_dev_scheduler.get_jobs()),
        )
    return _dev_scheduler
