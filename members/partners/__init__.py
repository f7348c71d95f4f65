"""Platform companies as members: staff, worker links by consent, check-off remittances,
API keys, the partner API and outbound webhooks."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from members.partners import models  # noqa: F401 - register the tables
    from members.partners.api import init_api

    init_api(app)  # the partner API under /api/v1 and the portal pages
