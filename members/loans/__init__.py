"""Member financing (issue 18): loans to members only (a closed-loop USP), funded by the
cooperative's capital and members' savings.

Modules: ``schedule`` (exact whole-Rupiah schedules: flat, annuity, declining; the effective
annual rate; the rounding rule), ``services`` (the product table, applications with their
quote, maker-checker decisions), ``disbursement`` (exactly once, the schedule as
obligations), ``repayment`` (every channel through the one allocator, payoff quotes),
``aging`` (set-based days past due, collectibility, penalties, PPAP, reminders), ``actions``
(restructuring and write-off with maker-checker, recoveries), ``reports`` (portfolio, arrears
list, XLSX), ``cli`` (``flask loans schedule|age``), ``views`` / ``board_views``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp import signals
    from kmp.auth import Role
    from kmp.cli import register_init_hook, register_seed_hook
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav
    from members.loans import (
        models,  # noqa: F401 - register the tables
        policy,
    )
    from members.loans.cli import loans_cli
    from members.loans.jobs import JOBS
    from members.loans.repayment import on_loan_payment_settled
    from members.loans.views import init_views
    from members.savings.allocator import KindSpec, register_kind

    # Penalty, interest and principal of an instalment: each credited to its obligation's own
    # account (income, the member's receivable). An excess becomes sukarela. The exit sets
    # off the outstanding principal before it is due; what it cannot cover stays owed.
    register_kind(KindSpec(policy.PENALTY, policy.FAMILY, excess="sukarela"))
    register_kind(KindSpec(policy.INTEREST, policy.FAMILY, excess="sukarela"))
    register_kind(KindSpec(policy.PRINCIPAL, policy.FAMILY, excess="sukarela", due_at_exit=True))
    init_views(app)
    register_jobs(app, *JOBS)
    register_init_hook(app, policy.install_loan_chart)
    register_seed_hook(app, seed_loans)
    signals.payment_settled.connect(on_loan_payment_settled, sender=policy.FAMILY, weak=False)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(
        app,
        NavItem("loans.mine", _l("Pinjaman"), (Role.ANGGOTA,), 13),
        NavItem("loans.board", _l("Pinjaman anggota"), board, 128),
    )
    app.cli.add_command(loans_cli)


def seed_loans(users: dict) -> None:
    """Demo: two approved products (made by the pengurus, approved by the bendahara)."""
    from sqlalchemy import select

    from kmp.extensions import db
    from members.loans.models import LoanProduct
    from members.loans.services import approve_product, create_product

    maker, checker = users.get("pengurus"), users.get("bendahara")
    if maker is None or checker is None:
        return
    for code, values in DEMO_PRODUCTS.items():
        if db.session.scalar(select(LoanProduct.id).where(LoanProduct.code == code)):
            continue
        approve_product(create_product(code, values, by_user=maker), by_user=checker)


DEMO_PRODUCTS = {
    "darurat": {
        "name": "Pinjaman darurat (motor, HP)",
        "min_principal_idr": 500_000,
        "max_principal_idr": 5_000_000,
        "min_months": 3,
        "max_months": 12,
        "annual_rate_bp": 1800,
        "method": "annuity",
        "admin_fee_idr": 10_000,
        "provisi_bp": 100,
        "penalty_day_bp": 10,
        "penalty_cap_bp": 1000,
        "savings_multiple": 5,
        "min_active_months": 0,
        "max_arrears_idr": 100_000,
        "guarantors": 0,
        "rebate_pct": 100,
        "single_approval_max_idr": 3_000_000,
    },
    "usaha": {
        "name": "Pinjaman usaha",
        "min_principal_idr": 1_000_000,
        "max_principal_idr": 20_000_000,
        "min_months": 6,
        "max_months": 24,
        "annual_rate_bp": 1200,
        "method": "flat",
        "admin_fee_idr": 25_000,
        "provisi_bp": 100,
        "penalty_day_bp": 10,
        "penalty_cap_bp": 1000,
        "savings_multiple": 3,
        "min_active_months": 3,
        "max_arrears_idr": 0,
        "guarantors": 1,
        "rebate_pct": 50,
        "single_approval_max_idr": 5_000_000,
    },
}
