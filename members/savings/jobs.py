"""Scheduled jobs of the members feature (run by ``flask kmp scheduler``, Asia/Jakarta)."""

from __future__ import annotations

from kmp.scheduler import Job


def bill_wajib_job() -> None:
    """Bill simpanan wajib for the Jakarta month that has just started (idempotent)."""
    from members.savings.billing import bill_current_month

    bill_current_month()


JOBS = [
    Job(
        id="members.bill_wajib",
        func=bill_wajib_job,
        trigger="cron",
        # The scheduler runs in Asia/Jakarta: 00:30 WIB on the 1st of every month.
        trigger_args={"day": 1, "hour": 0, "minute": 30},
        description="Tagihan simpanan wajib bulanan",
    )
]
