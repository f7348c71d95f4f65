"""Payment gateway adapters, the payment state machine and the webhook."""

from flask import Flask


def init_app(app: Flask) -> None:  # noqa: ARG001 - wired as the payments feature lands
    pass
