"""The ``flask --app wsgi members`` command group (sub-features add their commands)."""

from __future__ import annotations

from flask.cli import AppGroup

members_cli = AppGroup(
    "members", help="Membership: import members from a spreadsheet, bill simpanan wajib."
)
