"""``_`` for services: gettext that also works outside a request.

``flask_babel.gettext`` asks the locale selector, which reads the request (session, cookie,
login); a service called from a job, the CLI or a test has none. Services import this one::

    from kmp.i18n import _

In a request the message is translated to the user's language; outside one (or inside
``kmp.notify.recipient_locale``'s ``force_locale``) it is gettext with the default locale,
i.e. the Indonesian msgid with its ``%(name)s`` values filled in.
"""

from __future__ import annotations

from flask import has_request_context


def _(message: str, **variables) -> str:
    from flask_babel import get_locale, gettext

    if has_request_context():
        return gettext(message, **variables)
    try:
        get_locale()  # inside force_locale(...) this answers without the request
    except RuntimeError:
        return message % variables if variables else message
    return gettext(message, **variables)
