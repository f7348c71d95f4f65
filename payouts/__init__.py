"""The `payouts` feature: patronage records, SHU distribution runs, payouts, slips and reports.

Public services for other features: ``payouts.patronage.ingest_patronage(rows, source=...,
source_ref=...)`` with ``PatronageRow`` (the partner API feeds patronage through it).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the feature's blueprints, CLI commands, signal handlers and jobs."""
    from kmp import signals
    from kmp.scheduler import register_jobs
    from payouts import models, patronage  # noqa: F401 - register the tables
    from payouts.approval import on_resolution_adopted, on_resolution_rejected
    from payouts.cli import payouts_cli
    from payouts.jobs import JOBS
    from payouts.views import init_views

    app.cli.add_command(payouts_cli)
    signals.resolution_adopted.connect(on_resolution_adopted, weak=False)
    signals.resolution_rejected.connect(on_resolution_rejected, weak=False)
    signals.proposal_references_requested.connect(proposal_references, weak=False)
    register_jobs(app, *JOBS)
    __import__("payouts.api").api.init_api(app)  # POST /api/v1/patronage (issue 8)
    init_views(app)
    __import__("payouts.ratbook").ratbook.init_app(app)  # the RAT book (issue 20)
    from kmp.cli import register_seed_hook
    from payouts.seed import seed_payouts

    register_seed_hook(app, seed_payouts)  # after the members' year and its closed books
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.registry import get_registry

    todo = get_registry(app).add_todo
    todo(
        "shu_transfers",
        _l("Transfer SHU menunggu persetujuan kedua"),
        "payouts.runs",
        (Role.BENDAHARA, Role.PENGURUS),
        transfers_waiting_count,
    )


def transfers_waiting_count() -> int:
    from sqlalchemy import func, select

    from kmp.extensions import db
    from payouts.models import PayoutTransfer, TransferStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(PayoutTransfer)
            .where(PayoutTransfer.status == TransferStatus.REQUESTED)
        )
        or 0
    )


def proposal_references(sender, kind=None, **extra) -> list[tuple[str, str]]:  # noqa: ARG001
    """The distribution runs an SHU proposal may decide on: computed, not yet decided."""
    from sqlalchemy import select

    from kmp.extensions import db
    from kmp.i18n import gettext
    from kmp.money import format_rupiah
    from payouts.models import DistributionRun, RunStatus

    if kind != "shu_allocation":
        return []
    runs = db.session.scalars(
        select(DistributionRun)
        .where(DistributionRun.status == RunStatus.COMPUTED)
        .order_by(DistributionRun.fiscal_year.desc())
    ).all()
    return [
        (
            run.reference,
            gettext(
                "Pembagian SHU tahun buku %(year)s (SHU %(shu)s)",
                year=run.fiscal_year,
                shu=format_rupiah(run.shu_idr or 0),
            ),
        )
        for run in runs
    ]
