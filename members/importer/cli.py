"""``flask --app wsgi members import FILE``: the spreadsheet import from the command line."""

from __future__ import annotations

import sys
import time

import click

from kmp.extensions import db
from kmp.money import format_rupiah
from members.register.cli import members_cli


@members_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row, write nothing.")
@click.option("--by", "by_email", default=None, help="Email of the user recorded as importer.")
def import_command(path: str, dry_run: bool, by_email: str | None) -> None:
    """Import members (all-or-nothing) with their opening balances from a CSV file."""
    from sqlalchemy import select

    from kmp.auth import User
    from members.importer.services import import_members

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
    for pending in result.pending:
        click.echo(f"  {pending}")
    if dry_run:
        db.session.rollback()
        click.echo(
            f"Pemeriksaan OK: {result.rows} baris benar, saldo awal "
            f"{format_rupiah(result.total_opening_idr)} (tidak ada yang disimpan)."
        )
        return
    db.session.commit()
    click.echo(
        f"{result.imported} anggota diimpor ({len(result.pending)} menunggu pelunasan simpanan "
        f"pokok), {result.entries} entri saldo awal dibukukan dalam {elapsed:.1f} detik."
    )
