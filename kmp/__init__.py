"""KMP core: the application factory and the shared services every feature builds on."""

from kmp.app import create_app

__all__ = ["create_app"]
