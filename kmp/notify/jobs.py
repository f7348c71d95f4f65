"""The delivery job: every minute, batches of due messages until none is due (or the run's
time budget, ``KMP_NOTIFY_RUN_SECONDS``, is spent), one commit per batch."""

from __future__ import annotations

import logging

from kmp.notify.delivery import deliver_all
from kmp.scheduler import Job

log = logging.getLogger("kmp.notify")

JOB_ID = "notifications-deliver"


def deliver_job() -> None:
    """``run_job`` gives the app context and the lock; the batches commit as they go."""
    report = deliver_all()
    if report.handled:
        log.info(
            "notifications: %s sent, %s retried, %s postponed, %s failed, %s skipped",
            report.sent,
            report.retried,
            report.postponed,
            report.failed,
            report.skipped,
        )


JOBS = [
    Job(
        id=JOB_ID,
        func=deliver_job,
        trigger="interval",
        trigger_args={"minutes": 1},
        description="Kirim pesan yang menunggu di kotak keluar",
    )
]
