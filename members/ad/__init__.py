"""The cooperative's articles (Anggaran Dasar) as versioned, validated configuration."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from kmp.cli import register_init_hook
    from members.ad import models  # noqa: F401 - register the tables
    from members.ad.services import install_member_defaults

    register_init_hook(app, install_member_defaults)
