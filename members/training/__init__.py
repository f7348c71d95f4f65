"""Training and certification: the catalogue of programmes (BLK/BLKK courses, BNSP
competence schemes, the cooperative's own courses), enrolment with a waitlist, attendance and
completion, certificates of members and officers (the ONE certificate table, verified by a
second pengurus), the AD's competence rule (``competence.ensure_competent``), expiry
warnings, the education fund (``fund``), reports and the BLK export (``reports``).

It sits below ``officers`` (which calls ``ensure_competent`` on every appointment) and asks
``members.officers`` who holds which office through ``kmp.signals.office_holders_requested``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp import signals
    from kmp.auth import BOARD_ROLES, Role
    from kmp.registry import get_registry
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav
    from members.training import board_views, models  # noqa: F401 - routes, tables
    from members.training.competence import answer_competence_check
    from members.training.jobs import JOBS
    from members.training.queries import pending_certificate_count
    from members.training.views import bp

    app.register_blueprint(bp)
    register_jobs(app, *JOBS)
    board = tuple(BOARD_ROLES)
    register_nav(
        app,
        NavItem("training.mine", _l("Pelatihan & sertifikat"), (Role.ANGGOTA,), 14),
        NavItem("training.programmes", _l("Pelatihan"), board, 142),
        NavItem("training.certificates", _l("Sertifikat"), board, 143),
        NavItem("training.fund_page", _l("Dana pendidikan"), board, 144),
    )
    get_registry(app).add_todo(
        "certificates_pending",
        _l("Sertifikat menunggu verifikasi"),
        "training.certificates",
        (Role.PENGURUS,),
        pending_certificate_count,
    )
    # Role-granting paths below members (board invitations) ask the competence rule here.
    signals.competence_check_requested.connect(answer_competence_check, weak=False)
