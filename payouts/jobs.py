"""Scheduled jobs of the payouts feature (run by the one scheduler process)."""

from __future__ import annotations

from kmp.scheduler import Job


def post_due_runs_job() -> None:
    from payouts.posting import post_due_runs

    post_due_runs()


JOBS = [
    Job(
        id="payouts-post-shu",
        func=post_due_runs_job,
        trigger="cron",
        trigger_args={"hour": 6, "minute": 0},
        description="Bukukan pembagian SHU yang sudah disetujui pada tanggal pembagiannya",
    )
]
