"""``flask --app wsgi bpjs ...``: quote, bill, remittance."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import AppGroup

from kmp.errors import DomainError
from kmp.extensions import db

bpjs_cli = AppGroup("bpjs", help="Perlindungan sosial: iuran BPJS lewat koperasi.")


def _month(text: str | None):
    from kmp.timeutil import business_date, parse_month

    try:
        return parse_month(text) if text else business_date()
    except ValueError:
        raise click.BadParameter(
            "tulis bulan sebagai YYYY-MM, mis. 2026-03", param_hint="--month"
        ) from None


@bpjs_cli.command("quote")
@click.option("--income", type=int, default=None, help="Penghasilan sebulan yang dilaporkan (Rp).")
@click.option("--programs", default="jkk,jkm", show_default=True, help="jkk,jkm,jht,jkn")
@click.option("--jkn-class", type=click.Choice(["1", "2", "3"]), default="3", show_default=True)
@click.option(
    "--persons", type=click.IntRange(1, 20), default=1, show_default=True, help="JKN: jiwa."
)
@click.option("--month", "month_text", default=None, help="YYYY-MM (default: this Jakarta month).")
def quote_command(income, programs, jkn_class, persons, month_text) -> None:
    """One line per programme with the rates in force, then ``total_idr=``."""
    from members.protection.rates import parse_programmes, quote

    try:
        lines = quote(
            parse_programmes(programs),
            income_idr=income,
            jkn_class=jkn_class,
            persons=persons,
            month=_month(month_text),
        )
    except DomainError as error:
        raise click.ClickException(error.message) from error
    for line in lines:
        click.echo(f"{line.programme} amount_idr={line.amount_idr} ({line.rate.describe()})")
    click.echo(f"total_idr={sum(line.amount_idr for line in lines)}")


@bpjs_cli.command("bill")
@click.option("--month", "month_text", default=None, help="YYYY-MM (default: this Jakarta month).")
def bill_command(month_text) -> None:
    """The combined monthly bill (simpanan wajib + every contribution); idempotent."""
    from members.protection.billing import bill_month

    started = time.perf_counter()
    result = bill_month(_month(month_text))
    db.session.commit()
    c = result.contributions
    click.echo(
        f"{result.period:%Y-%m}: wajib {result.wajib_created} rows, contributions "
        f"{dict(sorted(c.created.items()))} total_idr={c.total_idr} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    for note in c.notes:
        click.echo(note)


@bpjs_cli.command("remittance")
@click.option("--month", "month_text", required=True, help="YYYY-MM")
@click.option(
    "--program", "programme", required=True, type=click.Choice(["jkk", "jkm", "jht", "jkn"])
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
def remittance_command(month_text, programme, out) -> None:
    """Write the month's collective remittance file (CSV, or XLSX by the file name) and print
    its total (``total_idr=``). Subsidies of settled contributions are posted first."""
    from members.protection.billing import sync_subsidies
    from members.protection.remittance import check_programme_period, write_remittance_file

    try:
        period = check_programme_period(programme, _month(month_text))
    except DomainError as error:
        raise click.ClickException(error.message) from error
    sync_subsidies()
    db.session.commit()
    path = Path(out)
    fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    with path.open("wb") as handle:
        total = write_remittance_file(programme, period, handle, fmt)
    click.echo(f"{path} {programme} {period:%Y-%m}")
    click.echo(f"total_idr={total}")
