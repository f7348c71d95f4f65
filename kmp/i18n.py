"""``gettext`` for services: the user's language in a request, the recipient's inside
``kmp.notify.recipient_locale``, the cooperative's default in a job or a CLI command, and the
Indonesian msgid where there is no app at all (pure unit tests).

Services raise ``DomainError`` with messages that the views show as they are.
"""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import gettext as _babel_gettext


def gettext(text: str, **variables) -> str:
    if has_app_context() and "babel" in current_app.extensions:  # not a bare Flask app
        return _babel_gettext(text, **variables)
    return text % variables if variables else text


def as_text(value) -> str:
    """A lazy string (``lazy_gettext``) as text: translated in a request, else its msgid."""
    if has_app_context() or not hasattr(value, "_args"):
        return str(value)
    text, *_rest = value._args  # noqa: SLF001 - flask_babel.LazyString keeps its msgid here
    kwargs = getattr(value, "_kwargs", None) or {}
    return text % kwargs if kwargs else text
