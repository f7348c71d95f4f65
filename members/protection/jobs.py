"""Scheduled jobs of social protection (``flask kmp scheduler``, Asia/Jakarta); idempotent."""

from __future__ import annotations

from kmp.scheduler import Job


def bill_month_job() -> None:
    """The combined monthly bill (wajib + contributions), then auto-debits."""
    from kmp.timeutil import business_date
    from members.protection.billing import bill_month
    from members.protection.collection import run_auto_debits

    bill_month(business_date())
    run_auto_debits()


def daily_job() -> None:
    """Subsidies of newly settled contributions, auto-debits, lapse reminders to members and
    remittance reminders to the bendahara."""
    from members.protection.billing import sync_subsidies
    from members.protection.collection import run_auto_debits
    from members.protection.coverage import queue_lapse_reminders
    from members.protection.remittance import queue_remittance_reminders

    sync_subsidies()
    run_auto_debits()
    queue_lapse_reminders()
    queue_remittance_reminders()


JOBS = [
    Job(
        id="members.protection.bill_month",
        func=bill_month_job,
        trigger="cron",
        # After the wajib billing job (00:30 WIB on the 1st); bill_wajib again is a no-op.
        trigger_args={"day": 1, "hour": 0, "minute": 45},
        description="Tagihan bulanan gabungan: simpanan wajib + iuran BPJS",
    ),
    Job(
        id="members.protection.daily",
        func=daily_job,
        trigger="cron",
        trigger_args={"hour": 7, "minute": 15},
        description="BPJS: subsidi, debit otomatis, pengingat",
    ),
]
