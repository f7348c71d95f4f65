"""The `governance` feature package."""


def init_app(app):  # noqa: ARG001 - filled as the feature grows
    """Register the feature's blueprints, CLI commands, signal handlers and jobs."""
