"""Officers (pengurus, pengawas) and their terms and competence certificates."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp import signals
    from kmp.auth import Role
    from kmp.scheduler import Job, register_jobs
    from kmp.templating import NavItem, register_nav
    from members.officers import models  # noqa: F401 - register the tables
    from members.officers.queries import office_holders
    from members.officers.views import bp

    app.register_blueprint(bp)
    board = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
    register_nav(app, NavItem("officers.officers", _l("Pengurus & pengawas"), board, 140))
    # members.training asks who holds which office (officers per role, the report).
    signals.office_holders_requested.connect(office_holders, weak=False)
    register_jobs(
        app,
        Job(
            id="officer-roles",
            func=_sync_roles_job,
            trigger="cron",
            trigger_args={"hour": 0, "minute": 10},
            description="Beri/cabut peran login pengurus dan pengawas sesuai masa jabatan",
        ),
    )


def _sync_roles_job() -> None:
    from members.officers.services import sync_officer_roles

    sync_officer_roles()
