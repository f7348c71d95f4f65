"""The `governance` feature package: meetings (RAT, RALB, RA Kelompok, RA Paripurna),
proposals and two-tier weighted ballots, elections of officers, resolutions."""


def init_app(app):
    """Register the feature's blueprint, nav items, template filters and jobs."""
    from flask_babel import lazy_gettext

    from governance import meeting_views, models  # noqa: F401 - routes, tables
    from governance.hybrid import models as hybrid_models  # noqa: F401 - tables
    from governance.hybrid import views as hybrid_views  # noqa: F401 - routes
    from governance.jobs import JOBS
    from governance.logic import percent, reason_label
    from governance.views import BALLOT_ROLES, PARTICIPANT_ROLES, READ_ROLES, bp
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    app.jinja_env.filters["gov_pct"] = percent
    app.jinja_env.filters["gov_reason"] = reason_label
    register_nav(
        app,
        NavItem("governance.ballots", lazy_gettext("Pemungutan suara"), BALLOT_ROLES, 200),
        NavItem("governance.meetings", lazy_gettext("Rapat anggota"), PARTICIPANT_ROLES, 210),
        NavItem("governance.audit_trail", lazy_gettext("Jejak tata kelola"), READ_ROLES, 220),
    )
    register_jobs(app, *JOBS)
    from governance import queries
    from kmp.auth import Role
    from kmp.registry import get_registry

    todo = get_registry(app).add_todo
    todo(
        "meetings_notice",
        lazy_gettext("Rapat yang undangannya belum dikirim"),
        "governance.meetings",
        (Role.PENGURUS,),
        queries.meetings_to_notify_count,
    )
    todo(
        "ballots_running",
        lazy_gettext("Pemungutan suara terjadwal atau berjalan"),
        "governance.ballots",
        (Role.PENGURUS, Role.PENGAWAS),
        queries.ballots_running_count,
    )
