"""``flask --app wsgi kmp ...``: init, create-admin, seed-demo, scheduler, ledger-check."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from kmp.extensions import db

kmp_cli = AppGroup("kmp", help="KMP operations.")


def register_init_hook(app: Flask, hook: Callable[[], None]) -> None:
    """Features add what ``kmp init`` installs (e.g. the default AD configuration)."""
    app.extensions.setdefault("kmp_init_hooks", []).append(hook)


def register_seed_hook(app: Flask, hook: Callable[[dict], None]) -> None:
    """Features add demo data; each hook gets the dict of demo users by role and is idempotent."""
    app.extensions.setdefault("kmp_seed_hooks", []).append(hook)


def install_defaults() -> None:
    from kmp.ledger.chart import install_chart

    install_chart()
    for hook in current_app.extensions.get("kmp_init_hooks", []):
        hook()


@kmp_cli.command("init")
@click.option("--no-migrate", is_flag=True, help="Do not run migrations (schema already there).")
def init_command(no_migrate: bool) -> None:
    """Upgrade the database and install the chart of accounts and the default AD configuration."""
    if not no_migrate:
        upgrade()
    install_defaults()
    db.session.commit()
    click.echo("KMP initialised: database at the latest migration, defaults installed.")


@kmp_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", "full_name", default="Administrator")
@click.password_option()
def create_admin_command(email: str, full_name: str, password: str) -> None:
    """Create an administrator login."""
    from kmp.auth import Role, create_user
    from kmp.errors import DomainError

    try:
        create_user(full_name=full_name, email=email, password=password, roles=(Role.ADMIN,))
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    click.echo(f"Administrator {email} created.")


@kmp_cli.command("seed-demo")
def seed_demo_command() -> None:
    """Install a realistic demo cooperative (idempotent) and print the demo logins."""
    from kmp.demo import seed_demo

    logins = seed_demo()
    db.session.commit()
    click.echo(f"Demo cooperative ready. Demo logins (password for all: {logins['password']}):")
    for role, login in logins["users"].items():
        click.echo(f"  {role:<10} {login}")


@kmp_cli.command("ledger-check")
def ledger_check_command() -> None:
    """Prove the books balance; exit non-zero naming every discrepancy."""
    from kmp.ledger.queries import check_ledger

    result = check_ledger()
    click.echo(result.summary())
    if not result.ok:
        for problem in result.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)


@kmp_cli.command("notify-deliver")
def notify_deliver_command() -> None:
    """Deliver the messages waiting in the outbox now (the scheduler does it every minute)."""
    from kmp.notify import deliver_pending

    sent, failed = deliver_pending(limit=10_000)
    db.session.commit()
    click.echo(f"{sent} message(s) sent, {failed} given up after repeated failures.")


@kmp_cli.command("scheduler")
@click.option("--list", "list_only", is_flag=True, help="Print the jobs and exit.")
def scheduler_command(list_only: bool) -> None:
    """Run the scheduler process (run exactly one per deployment, never inside web workers)."""
    from kmp.scheduler import build_scheduler

    app = current_app._get_current_object()
    jobs = app.extensions.get("kmp_jobs", [])
    for job in jobs:
        click.echo(f"  {job.id}: {job.trigger} {job.trigger_args} {job.description}")
    if list_only:
        return
    click.echo(f"Scheduler started with {len(jobs)} job(s). Ctrl+C to stop.")
    scheduler = build_scheduler(app, blocking=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Scheduler stopped.")


def init_app(app: Flask) -> None:
    app.cli.add_command(kmp_cli)
