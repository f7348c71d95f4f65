"""``flask --app wsgi payments ...``: operations on online payments."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from kmp.extensions import db

payments_cli = AppGroup("payments", help="Online payments (Midtrans).")


@payments_cli.command("reconcile")
@click.option("--limit", default=500, show_default=True, help="At most this many per kind.")
def reconcile_command(limit: int) -> None:
    """Re-check open, unknown and recently paid attempts with the gateway (idempotent)."""
    from kmp.payments.services import reconcile_payments

    try:
        report = reconcile_payments(limit=limit)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo(report.summary())
