"""Announcements: the board sends a templated message to one member group or to everyone,
after a preview with the number of recipients (through the one outbox, ``kmp.notify``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.auth import Role
    from kmp.templating import NavItem, register_nav
    from members.announcements import models  # noqa: F401 - the table
    from members.announcements.views import bp

    app.register_blueprint(bp)
    register_nav(
        app,
        NavItem(
            "announcements.announcements",
            _l("Pengumuman"),
            (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN),
            140,
        ),
    )
