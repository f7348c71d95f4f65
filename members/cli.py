"""``flask --app wsgi members ...``: import a spreadsheet of members."""

from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup

from kmp.extensions import db

members_cli = AppGroup(
    "members", help="Membership: import members from a spreadsheet, bill simpanan wajib."
)


@members_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row, write nothing.")
@click.option("--by", "by_email", default=None, help="Email of the user recorded as importer.")
def import_command(path: str, dry_run: bool, by_email: str | None) -> None:
    """Import members (all-or-nothing) with their opening balances from a CSV file."""
    from sqlalchemy import select

    from kmp.auth import User
    from members.importer import import_members

    by_user = None
    if by_email:
        by_user = db.session.scalar(select(User).where(User.email == by_email.lower()))
        if by_user is None:
            raise click.ClickException(f"no user with email {by_email}")
    with open(path, "rb") as handle:
        data = handle.read()
    started = time.perf_counter()
    result = import_members(data, by_user=by_user, dry_run=dry_run)
    elapsed = time.perf_counter() - started
    if result.errors:
        db.session.rollback()
        click.echo(f"{len(result.errors)} kesalahan; tidak ada yang disimpan:", err=True)
        for error in result.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)
    if dry_run:
        db.session.rollback()
        click.echo(
            f"Pemeriksaan OK: {result.rows} baris benar, saldo awal Rp "
            f"{result.total_opening_idr:,} (tidak ada yang disimpan).".replace(",", ".")
        )
        return
    db.session.commit()
    click.echo(
        f"{result.imported} anggota diimpor, {result.entries} entri saldo awal "
        f"dibukukan dalam {elapsed:.1f} detik."
    )


@members_cli.command("bill-wajib")
@click.option("--month", "month_text", default=None, help="YYYY-MM (default: this Jakarta month).")
@click.option("--notify", is_flag=True, help="Also queue the bill messages and arrears reminders.")
def bill_wajib_command(month_text: str | None, notify: bool) -> None:
    """Create every active member's simpanan wajib bill for the month (idempotent)."""
    from kmp.timeutil import business_date, parse_month
    from members.billing import bill_wajib, queue_arrears_reminders, queue_bill_notices

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
        f"total Rp {result.amount_idr:,} ({time.perf_counter() - started:.1f} detik).".replace(
            ",", "."
        )
    )
