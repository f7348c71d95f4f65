"""Unit tests are pure: no app, no database."""

import pytest


@pytest.fixture(autouse=True)
def db():
    """Override the integration ``db`` fixture: unit tests touch no database."""
    return None
