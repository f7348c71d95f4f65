"""``gettext`` for services: translated inside a request, the Indonesian msgid elsewhere.

Services raise ``DomainError`` with messages that the views show as they are. In a request the
message speaks the user's language; from the CLI, a job or a test without a request the
Indonesian source text is used (Flask-Babel's locale selector needs a request).
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext as _babel_gettext


def gettext(text: str, **variables) -> str:
    if has_request_context():
        return _babel_gettext(text, **variables)
    return text % variables if variables else text


def as_text(value) -> str:
    """A lazy string (``lazy_gettext``) as text: translated in a request, else its msgid."""
    if has_request_context() or not hasattr(value, "_args"):
        return str(value)
    text, *_rest = value._args  # noqa: SLF001 - flask_babel.LazyString keeps its msgid here
    kwargs = getattr(value, "_kwargs", None) or {}
    return text % kwargs if kwargs else text
