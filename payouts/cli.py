"""``flask --app wsgi payouts ...``: patronage import and SHU distribution by hand."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import AppGroup

from kmp.extensions import db
from kmp.i18n import gettext
from kmp.money import format_rupiah

payouts_cli = AppGroup("payouts", help="SHU: patronage import and distribution runs.")


def _rp(value: int) -> str:
    return format_rupiah(value)


@payouts_cli.command("import-patronage")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row, write nothing.")
@click.option(
    "--source-ref",
    default="csv",
    show_default=True,
    help="Name of the data source; the same external_id from the same source counts once.",
)
def import_patronage_command(path: str, dry_run: bool, source_ref: str) -> None:
    """Import patronage records (all-or-nothing) from a CSV file."""
    from payouts.importer import import_patronage_csv

    with open(path, "rb") as handle:
        data = handle.read()
    result = import_patronage_csv(data, source_ref=source_ref, dry_run=dry_run)
    if result.errors:
        db.session.rollback()
        click.echo(f"{len(result.errors)} kesalahan; tidak ada yang disimpan:", err=True)
        for error in result.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)
    if dry_run:
        db.session.rollback()
        click.echo(f"Pemeriksaan OK: {result.rows} baris benar (tidak ada yang disimpan).")
        return
    db.session.commit()
    click.echo(
        f"{result.inserted} catatan jasa usaha disimpan, {result.duplicates} sudah ada "
        "sebelumnya (tidak dihitung dua kali)."
    )


def _write_csv(path: str, rows) -> None:
    from payouts.services import CSV_HEADERS

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADERS)
        writer.writerows(rows)


def _print_funds(summary: dict) -> None:
    reserve_key = summary.get("reserve_key", "cadangan")
    members_key = summary.get("members_key", "jasa_anggota")
    for key, amount in summary.get("funds", {}).items():
        label = "cadangan" if key == reserve_key else key
        if key == members_key:
            label = "jasa anggota (dibagi ke anggota)"
        click.echo(f"  {label}: {_rp(int(amount))}")
    for group, pool, amount in summary.get("redirected", []):
        click.echo(
            f"  (pos {pool} kelompok {group} tanpa dasar pembagian -> cadangan: {_rp(amount)})"
        )


@payouts_cli.command("distribute")
@click.option("--year", "year", type=int, required=True, help="Fiscal year (YYYY).")
@click.option("--shu-idr", "shu_idr", type=int, default=None, help="Entered SHU (whole Rupiah).")
@click.option("--reason", default=None, help="Why the SHU is entered by hand (with --shu-idr).")
@click.option("--dry-run", is_flag=True, help="Compute and write the CSV; store nothing.")
@click.option("--csv", "csv_path", default=None, help="Write the member lines to this CSV file.")
def distribute_command(
    year: int, shu_idr: int | None, reason: str | None, dry_run: bool, csv_path: str | None
) -> None:
    """Compute, and when approved by the members post, the SHU distribution of YEAR."""
    from kmp.errors import DomainError
    from payouts.models import RunStatus
    from payouts.posting import post_run
    from payouts.services import (
        compute_allocation,
        compute_run,
        create_run,
        iter_run_lines,
        live_run,
    )
    from payouts.transfers import pay_sukarela

    try:
        if shu_idr is not None and not (reason or "").strip():
            raise DomainError(gettext("--shu-idr perlu --reason (alasan SHU diisi manual)."))
        if dry_run:
            comp = compute_allocation(year, shu_idr=shu_idr, reason=reason)
            if csv_path:
                _write_csv(csv_path, comp.csv_rows())
            db.session.rollback()
            click.echo(
                f"Simulasi SHU {year}: {_rp(comp.shu_idr)} untuk "
                f"{sum(g.member_count for g in comp.result.groups)} anggota "
                "(tidak ada yang disimpan atau dibukukan)."
            )
            _print_funds(comp.summary())
            return
        run = live_run(year)
        if run is None:
            run = create_run(year)
        status = RunStatus(run.status)
        if status in (RunStatus.DRAFT, RunStatus.COMPUTED) and (
            status is RunStatus.DRAFT or shu_idr is not None
        ):
            comp = compute_allocation(year, shu_idr=shu_idr, reason=reason)
            with click.progressbar(
                length=max(sum(g.member_count for g in comp.result.groups), 1),
                label="Menyimpan baris anggota",
                file=sys.stderr,
            ) as bar:
                done = [0]

                def step(count: int) -> None:
                    bar.update(count - done[0])
                    done[0] = count

                compute_run(run, computation=comp, progress=step)
            db.session.commit()
            status = RunStatus(run.status)
        if csv_path:
            _write_csv(csv_path, iter_run_lines(run))
        click.echo(f"SHU {year}: {_rp(run.shu_idr or 0)}, {run.member_count} anggota.")
        _print_funds(run.summary or {})
        if status is RunStatus.COMPUTED:
            click.echo(
                f"Menunggu persetujuan rapat anggota: buat usulan 'Pembagian SHU' dengan "
                f"rujukan {run.reference}."
            )
            return
        if status is RunStatus.APPROVED:
            with click.progressbar(
                length=max(run.member_count, 1), label="Membukukan SHU", file=sys.stderr
            ) as bar:
                done = [0]

                def step_post(count: int) -> None:
                    bar.update(count - done[0])
                    done[0] = count

                post_run(run, progress=step_post)
                paid = pay_sukarela(run)
            db.session.commit()
            click.echo(
                f"Dibukukan: SHU {year} masuk ke utang SHU anggota; {paid} anggota "
                "menerima SHU di simpanan sukarela."
            )
            return
        click.echo(
            f"Pembagian SHU {year} sudah {status.label.lower()}: tidak ada yang dibukukan lagi."
        )
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
