"""Scheduled jobs of the loan business (``flask kmp scheduler``, Asia/Jakarta); idempotent."""

from __future__ import annotations

from kmp.scheduler import Job


def daily_job() -> None:
    """Sukarela auto-debits, then aging (penalties, days past due, classes, PPAP), then
    reminders before due dates and on arrears."""
    from members.loans.aging import age_loans, queue_loan_reminders
    from members.loans.repayment import run_loan_auto_debits

    run_loan_auto_debits()
    age_loans()
    queue_loan_reminders()


JOBS = [
    Job(
        id="members.loans.daily",
        func=daily_job,
        trigger="cron",
        trigger_args={"hour": 6, "minute": 30},
        description="Pinjaman: debit otomatis, umur tunggakan, kolektibilitas, PPAP, pengingat",
    ),
]
