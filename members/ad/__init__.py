"""The cooperative's articles (Anggaran Dasar) as versioned, validated configuration."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from kmp.cli import register_init_hook
    from kmp.registry import get_registry
    from members.ad import models  # noqa: F401 - register the tables
    from members.ad.services import ad_in_force_load_option, install_member_defaults

    register_init_hook(app, install_member_defaults)
    get_registry(app).add_user_load_option(ad_in_force_load_option)
