"""Scheduled jobs: each feature exposes a ``JOBS`` list; one scheduler process runs them.

Every run is wrapped by ``run_job``: it opens an app context, takes a PostgreSQL advisory lock
named after the job (so a second scheduler host skips the run instead of doubling it), calls
the job, commits once, and rolls back on failure. Jobs themselves are idempotent, so a run
that is repeated after a crash does the work once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import text

from kmp.extensions import db

log = logging.getLogger("kmp.scheduler")


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    trigger: str  # "cron" or "interval"
    trigger_args: dict = field(default_factory=dict)
    description: str = ""


def register_jobs(app: Flask, *jobs: Job) -> None:
    app.extensions.setdefault("kmp_jobs", []).extend(jobs)


def advisory_key(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big", signed=True)


def run_job(app: Flask, job: Job) -> bool:
    """Run ``job`` once under its lock. Returns False when another process holds the lock."""
    with app.app_context():
        connection = None
        key = advisory_key(job.id)
        is_pg = db.engine.dialect.name == "postgresql"
        try:
            if is_pg:
                # The lock lives on its own connection so the job's commits do not release it.
                connection = db.engine.connect()
                got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
                if not got.scalar():
                    log.info("job %s skipped: another scheduler holds its lock", job.id)
                    connection.close()
                    return False
            log.info("job %s started", job.id)
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
            if connection is not None:
                if not connection.closed:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    connection.commit()
                    connection.close()


def build_scheduler(app: Flask, *, blocking: bool = True):
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(
        timezone="Asia/Jakarta",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for job in app.extensions.get("kmp_jobs", []):
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job),
            id=job.id,
            name=job.description or job.id,
            replace_existing=True,
            **job.trigger_args,
        )
    return scheduler


def init_app(app: Flask) -> None:
    app.extensions.setdefault("kmp_jobs", [])
