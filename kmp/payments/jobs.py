"""Scheduled payment work: reconciliation every 10 minutes (run by ``flask kmp scheduler``)."""

from __future__ import annotations

from kmp.payments.services import reconcile_payments
from kmp.scheduler import Job


def reconcile_job() -> None:
    """``run_job`` provides the app context, the lock and the single commit."""
    reconcile_payments()


JOBS = [
    Job(
        id="payments-reconcile",
        func=reconcile_job,
        trigger="interval",
        trigger_args={"minutes": 10},
        description="Cek ulang status pembayaran Midtrans yang belum pasti atau baru lunas",
    )
]
