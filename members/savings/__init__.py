"""Savings: simpanan pokok, wajib billing and arrears, sukarela, receipts, withdrawals."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp import signals
    from kmp.auth import Role
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav
    from members.savings import (  # noqa: F401 - tables, routes
        account_views,
        cli,
        models,
        payout_accounts,
        receipt_views,
    )
    from members.savings import services as savings
    from members.savings.jobs import JOBS
    from members.savings.views import init_savings_views

    init_savings_views(app)
    register_jobs(app, *JOBS)
    signals.payment_settled.connect(savings.on_savings_payment_settled, weak=False)
    signals.payment_reversed.connect(savings.on_savings_payment_reversed, weak=False)
    signals.payment_allocation_requested.connect(savings.allocate_payment, weak=False)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(
        app,
        NavItem("savings.mine", _l("Simpanan saya"), (Role.ANGGOTA,), 11),
        NavItem("savings.arrears", _l("Tagihan & tunggakan wajib"), board, 125),
        NavItem("savings.withdrawal_queue", _l("Penarikan sukarela"), board, 126),
    )
    from kmp.registry import get_registry
    from members.savings import queries

    todo = get_registry(app).add_todo
    todo(
        "withdrawals",
        _l("Penarikan sukarela menunggu persetujuan"),
        "savings.withdrawal_queue",
        (Role.BENDAHARA, Role.PENGURUS),
        queries.withdrawals_waiting_count,
    )
    todo(
        "arrears",
        _l("Anggota dengan tunggakan wajib"),
        "savings.arrears",
        (Role.BENDAHARA, Role.PENGURUS),
        queries.members_in_arrears_count,
    )
