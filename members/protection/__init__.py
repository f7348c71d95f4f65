"""Social protection through the cooperative: BPJS Ketenagakerjaan (JKK, JKM, JHT) and JKN
contributions collected with the monthly bill, held in trust and remitted (issue 19).

Modules: ``rates`` (the versioned rate table, quotes), ``enrolment`` (the member's request,
the bendahara's confirmation, changes from next month, BPJS numbers), ``billing`` (the
set-based monthly contributions and the social-fund subsidy), ``collection`` (the one monthly
bill and its channels), ``remittance`` (trust per month, the BPJS file, recording the
transfer), ``coverage`` ("terlindungi sampai", lapse reminders), ``claims`` (claim cases),
``reports``, ``adapter`` (the seam for a future BPJS API), ``cli`` (``flask bpjs ...``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp import signals
    from kmp.auth import Role
    from kmp.cli import register_init_hook
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav
    from members.protection import models  # noqa: F401 - register the tables
    from members.protection.cli import bpjs_cli
    from members.protection.collection import PURPOSE, on_bill_payment_settled
    from members.protection.enrolment import on_member_status_changed
    from members.protection.jobs import JOBS
    from members.protection.rates import FAMILY, KINDS
    from members.protection.views import init_views
    from members.savings.allocator import KindSpec, register_kind

    for kind in KINDS.values():
        # Money goes to the obligation's own account (the programme's trust liability); an
        # excess becomes sukarela; what a leaving member still owes is waived, not chased.
        register_kind(KindSpec(kind, FAMILY, excess="sukarela", waive_at_exit=True))
    init_views(app)
    register_jobs(app, *JOBS)
    register_init_hook(app, install_protection)
    signals.payment_settled.connect(on_bill_payment_settled, sender=PURPOSE, weak=False)
    signals.member_status_changed.connect(on_member_status_changed, weak=False)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(
        app,
        NavItem("protection.mine", _l("Perlindungan BPJS"), (Role.ANGGOTA,), 12),
        NavItem("protection.board", _l("BPJS: peserta & setoran"), board, 127),
    )
    app.cli.add_command(bpjs_cli)
    from kmp.registry import get_registry

    get_registry(app).add_todo(
        "bpjs_requests",
        _l("Pendaftaran BPJS menunggu konfirmasi"),
        "protection.requests",
        (Role.BENDAHARA,),
        enrolment_requests_count,
    )


def enrolment_requests_count() -> int:
    from sqlalchemy import func, select

    from kmp.extensions import db
    from members.protection.models import ProtectionEnrolment
    from members.protection.states import EnrolmentStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(ProtectionEnrolment)
            .where(ProtectionEnrolment.status == EnrolmentStatus.REQUESTED)
        )
        or 0
    )


def install_protection() -> None:
    """``kmp init``: a trust liability per programme and the default rate table (idempotent)."""
    from kmp.ledger.models import AccountType
    from kmp.ledger.services import open_account
    from members.protection.rates import LABELS, TRUST_ACCOUNTS, install_default_rates

    for programme, code in TRUST_ACCOUNTS.items():
        open_account(code, f"Dana BPJS titipan: {LABELS[programme]}", AccountType.LIABILITY)
    install_default_rates()


def seed_protection(users: dict) -> None:
    """Demo (a seed step of ``members.home``, after the register exists): the demo driver
    enrolled (JKK + JKM + JHT on Rp2.500.000, JKN class III with a spouse) and billed
    this month; a second driver's request waits for the bendahara."""
    from sqlalchemy import select

    from kmp.extensions import db
    from kmp.timeutil import business_date
    from members.protection import enrolment as enrolments
    from members.protection.billing import bill_month
    from members.register import queries as register_queries
    from members.register.models import Member
    from members.register.states import MemberStatus

    driver = register_queries.member_for_user(users.get("anggota"))
    other = db.session.scalar(select(Member).where(Member.nik == "3201011010930005"))
    spouse = enrolments.FamilyIn("Sri Wahyuni", "3174015505920012", "pasangan")
    for member, confirm, choice in (
        (driver, True, enrolments.Choice(True, True, 2_500_000, "3", (spouse,), True)),
        (other, False, enrolments.Choice(tk=True, income_idr=1_000_000, consent=True)),
    ):
        if member is None or member.status is not MemberStatus.ACTIVE:
            continue
        if enrolments.enrolment_of(member) is not None:
            continue
        enrolment = enrolments.request_enrolment(member, choice, by_user=member.user)
        if confirm:
            enrolments.confirm_enrolment(enrolment, by_user=users["bendahara"])
    bill_month(business_date())
