"""The `members` feature: AD configuration, applications, admission, the member register,
receipts, import, exit, officers and certificates, the partner company page.

Public services for other features (``members.services`` / ``members.queries``):

- ``current_ad() -> ADConfig`` (typed, validated; ``.version_id`` to record which version a
  computation used), ``update_ad(new, by_user, reason)``.
- ``queries.member_for_user(user)``, ``queries.eligible_members(ad, on_date)`` (census),
  ``queries.capital_basis(fiscal_year, basis)`` (jasa modal), ``services.pokok_status(member)``.
- ``services.savings_account_code(member, purpose)``, ``services.savings_credit_lines(...)``,
  ``services.credit_savings(...)``; ``services.has_valid_certificate(holder, on_date)``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the feature's blueprints, CLI commands, signal handlers and hooks."""
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.cli import register_init_hook, register_seed_hook
    from kmp.templating import NavItem, register_nav
    from kmp.views import register_home
    from members import api as partner_api
    from members import (  # noqa: F401 - register the tables
        handlers,
        models,
        partner_models,  # noqa: F401 - partner API tables
    )
    from members.cli import members_cli
    from members.seed import seed_members
    from members.services import install_member_defaults
    from members.views import init_views

    init_views(app)
    partner_api.init_api(app)  # partner API under /api/v1
    _init_savings(app)
    app.cli.add_command(members_cli)
    register_init_hook(app, install_member_defaults)
    register_seed_hook(app, seed_members)
    handlers.connect(app)

    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    deciders = (Role.PENGURUS, Role.BENDAHARA)
    register_nav(
        app,
        NavItem("members.dashboard", _l("Keanggotaan saya"), (Role.ANGGOTA,), 10),
        NavItem("members.company", _l("Perusahaan saya"), (Role.PARTNER,), 10),
        NavItem("members.register", _l("Daftar anggota"), board, 100),
        NavItem("members.queue", _l("Pendaftaran baru"), deciders, 110),
        NavItem("members.exits", _l("Anggota keluar"), (*deciders, Role.PENGAWAS), 120),
        NavItem("members.import_page", _l("Impor anggota"), (*deciders, Role.ADMIN), 130),
        NavItem("members.officers", _l("Pengurus & pengawas"), board, 140),
        NavItem("members.nik_corrections", _l("Koreksi NIK"), deciders, 150),
        NavItem("members.ad_view", _l("Anggaran Dasar (AD)"), board, 160),
    )
    register_home(app, Role.ANGGOTA, "members.dashboard")
    register_home(app, Role.PARTNER, "members.company")


def _init_savings(app: Flask) -> None:
    """Savings and payments (issue 5): pages, wajib billing job, board nav items."""
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.cli import register_seed_hook
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav
    from members.jobs import JOBS
    from members.savings_views import init_savings_views

    init_savings_views(app)
    register_jobs(app, *JOBS)
    register_seed_hook(app, _seed_wajib_bills)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(
        app,
        NavItem("savings.mine", _l("Simpanan saya"), (Role.ANGGOTA,), 11),
        NavItem("savings.arrears", _l("Tagihan & tunggakan wajib"), board, 125),
        NavItem("savings.withdrawal_queue", _l("Penarikan sukarela"), board, 126),
    )


def _seed_wajib_bills(users_by_role: dict) -> None:  # noqa: ARG001
    """Demo: this month's simpanan wajib bills, so the members see a "Bayar" button."""
    from kmp.timeutil import business_date
    from members.billing import bill_wajib

    bill_wajib(business_date())
