"""``flask --app wsgi kmp ...``: init, create-admin, seed-demo, scheduler, ledger-check,
audit-verify, backup, restore."""

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
    from kmp.registry import get_registry

    get_registry(app).add_init_step(hook)


def register_seed_hook(app: Flask, hook: Callable[[dict], None]) -> None:
    """Features add demo data; each hook gets the dict of demo users by role and is idempotent."""
    from kmp.registry import get_registry

    get_registry(app).add_seed_step(hook)


def install_defaults() -> None:
    from kmp.ledger.chart import install_chart

    install_chart()
    from kmp.registry import get_registry

    for step in get_registry().init_steps:
        step()


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
    click.echo(
        "Board logins (admin, pengurus, bendahara, pengawas) are asked to set up an "
        "authenticator app (TOTP) at their first login; set KMP_REQUIRE_TOTP=0 to skip "
        "the second factor on a local demo."
    )


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


@kmp_cli.command("audit-verify")
def audit_verify_command() -> None:
    """Check the audit trail's hash chain; exit non-zero naming the first broken record."""
    from kmp.audit import verify_chain

    result = verify_chain()
    if result.ok:
        click.echo(result.summary())
        return
    click.echo(result.summary(), err=True)
    sys.exit(1)


def _libpq_url(url) -> str:
    """A SQLAlchemy URL as a libpq connection string (for pg_dump / pg_restore)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def backup_database(path: str) -> str:
    """Write a consistent copy of the database to ``path``; returns a one-line description.

    SQLite: the online backup API (safe while the app runs). PostgreSQL: ``pg_dump`` in the
    custom format (restore with ``pg_restore``).
    """
    import os
    import sqlite3
    import subprocess

    url = db.engine.url
    target = os.path.abspath(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = target + ".partial"
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise click.ClickException("An in-memory SQLite database cannot be backed up.")
        source = sqlite3.connect(url.database)
        dest = sqlite3.connect(partial)
        try:
            with dest:
                source.backup(dest)
            check = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
            source.close()
        if check != "ok":
            os.remove(partial)
            raise click.ClickException(f"The copy failed its integrity check: {check}")
        os.replace(partial, target)
        return f"SQLite backup written to {target}"
    if url.get_backend_name() == "postgresql":
        result = subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                partial,
                _libpq_url(url),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            if os.path.exists(partial):
                os.remove(partial)
            raise click.ClickException(f"pg_dump failed: {result.stderr.strip()}")
        os.replace(partial, target)
        return f"PostgreSQL backup (pg_dump custom format) written to {target}"
    raise click.ClickException(f"No backup method for {url.get_backend_name()}.")


def restore_database(path: str) -> str:
    """Replace the current database with the backup at ``path`` (all or nothing)."""
    import os
    import sqlite3
    import subprocess

    url = db.engine.url
    if not os.path.isfile(path):
        raise click.ClickException(f"No backup file at {path}.")
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
        try:
            try:
                check = source.execute("PRAGMA integrity_check").fetchone()[0]
            except sqlite3.DatabaseError as error:
                raise click.ClickException(f"{path} is not a SQLite backup: {error}") from None
            if check != "ok":
                raise click.ClickException(f"{path} failed its integrity check: {check}")
            dest = sqlite3.connect(url.database)
            try:
                with dest:
                    source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()
        return f"SQLite database restored from {path}"
    if url.get_backend_name() == "postgresql":
        result = subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
                _libpq_url(url),
                path,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise click.ClickException(f"pg_restore failed: {result.stderr.strip()}")
        return f"PostgreSQL database restored from {path}"
    raise click.ClickException(f"No restore method for {url.get_backend_name()}.")


def _post_restore_checks() -> bool:
    from kmp.audit import verify_chain
    from kmp.ledger.queries import check_ledger

    ledger = check_ledger()
    chain = verify_chain()
    db.session.rollback()
    click.echo(ledger.summary())
    click.echo(chain.summary())
    return ledger.ok and chain.ok


@kmp_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_command(path: str) -> None:
    """Write a consistent backup of the database to PATH (SQLite backup API / pg_dump -Fc)."""
    click.echo(backup_database(path))


@kmp_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: str, yes: bool) -> None:
    """Replace the database with the backup at PATH, then run ledger-check and audit-verify."""
    if not yes:
        click.confirm(
            f"This REPLACES every record in {db.engine.url.render_as_string()} with {path}. "
            "Continue?",
            abort=True,
        )
    click.echo(restore_database(path))
    if not _post_restore_checks():
        sys.exit(1)


@kmp_cli.command("notify-deliver")
def notify_deliver_command() -> None:
    """Deliver the messages waiting in the outbox now (the scheduler does it every minute)."""
    from kmp.notify import deliver_all

    report = deliver_all(seconds=3600)  # commits after every batch
    click.echo(
        f"{report.sent} message(s) sent, {report.retried} to retry later, "
        f"{report.postponed} waiting for a provider, {report.skipped} opted out, "
        f"{report.failed} failed on every channel."
    )


@kmp_cli.command("scheduler")
@click.option("--list", "list_only", is_flag=True, help="Print the jobs and exit.")
def scheduler_command(list_only: bool) -> None:
    """Run the scheduler process (run exactly one per deployment, never inside web workers)."""
    from kmp.scheduler import build_scheduler

    app = current_app._get_current_object()
    from kmp.registry import get_registry

    jobs = get_registry(app).jobs
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
