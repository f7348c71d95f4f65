"""``flask --app wsgi loans ...``: ``schedule`` (CSV for operators and auditors) and ``age``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import click
from flask.cli import AppGroup

loans_cli = AppGroup("loans", help="Pinjaman anggota: jadwal angsuran dan umur tunggakan.")


def _date(text: str | None, hint: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("tulis tanggal sebagai YYYY-MM-DD", param_hint=hint) from None


@loans_cli.command("schedule")
@click.option("--principal", type=click.IntRange(1, 10**13), required=True, help="Pokok (Rp).")
@click.option("--annual-rate", "rate", required=True, help="Bunga per tahun (%), mis. 18 atau 16.5")
@click.option("--months", type=click.IntRange(1, 600), required=True)
@click.option("--method", type=click.Choice(["flat", "annuity", "declining"]), required=True)
@click.option("--start", default=None, help="Tanggal pencairan YYYY-MM-DD (default: hari ini).")
def schedule_command(principal, rate, months, method, start) -> None:
    """Print the schedule as CSV (header ``no,due_date,principal_idr,...,balance_idr``)."""
    from kmp.timeutil import business_date
    from members.loans.schedule import build_schedule, schedule_csv

    try:
        bp = Decimal(rate) * 100
    except InvalidOperation:
        raise click.BadParameter("bunga harus angka", param_hint="--annual-rate") from None
    if bp != bp.to_integral_value() or not 0 <= bp <= 10000:
        raise click.BadParameter(
            "bunga 0-100 %, paling banyak dua desimal", param_hint="--annual-rate"
        )
    begin = _date(start, "--start") or business_date()
    click.echo(schedule_csv(build_schedule(principal, int(bp), months, method, begin)), nl=False)


@loans_cli.command("age")
@click.option("--on", "on_text", default=None, help="Tanggal YYYY-MM-DD (default: hari ini).")
def age_command(on_text) -> None:
    """Penalties, days past due, collectibility and the PPAP for a date; then reminders."""
    from kmp.extensions import db
    from members.loans.aging import age_loans, queue_loan_reminders

    result = age_loans(_date(on_text, "--on"))
    reminders = queue_loan_reminders(result.on_date)
    db.session.commit()
    click.echo(
        f"on={result.on_date.isoformat()} late={result.late_loans} paid={result.paid_loans} "
        f"outstanding_idr={result.outstanding_idr} ppap_idr={result.required_idr} "
        f"reminders={reminders}"
    )
    for code, (count, outstanding, required) in result.by_class.items():
        click.echo(f"{code},{count},{outstanding},{required}")
