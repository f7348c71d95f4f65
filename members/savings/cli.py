"""``flask --app wsgi members bill-wajib``: the monthly wajib bills from the command line."""

from __future__ import annotations

import time

import click

from kmp.extensions import db
from kmp.money import format_rupiah
from members.register.cli import members_cli


@members_cli.command("bill-wajib")
@click.option("--month", "month_text", default=None, help="YYYY-MM (default: this Jakarta month).")
@click.option("--notify", is_flag=True, help="Also queue the bill messages and arrears reminders.")
def bill_wajib_command(month_text: str | None, notify: bool) -> None:
    """Create every active member's simpanan wajib bill for the month (idempotent)."""
    from kmp.timeutil import business_date, parse_month
    from members.savings.billing import bill_wajib, queue_arrears_reminders, queue_bill_notices

    try:
        month = parse_month(month_text) if month_text else business_date()
    except ValueError:
        raise click.BadParameter(
            "tulis bulan sebagai YYYY-MM, mis. 2026-03", param_hint="--month"
        ) from None
    started = time.perf_counter()
    result = bill_wajib(month)
    if notify:
        sent = queue_bill_notices(result.period) + queue_arrears_reminders(business_date())
        click.echo(f"{sent} pesan tagihan/pengingat diantrekan.")
    db.session.commit()
    click.echo(
        f"Tagihan simpanan wajib {result.period:%Y-%m}: {result.created} anggota ditagih, "
        f"total {format_rupiah(result.amount_idr)} ({time.perf_counter() - started:.1f} detik)."
    )
