"""The double-entry ledger: ``post_entry`` is the only writer of money."""

from flask import Flask


def init_app(app: Flask) -> None:
    from kmp.ledger import models  # noqa: F401 - register the tables


