"""WTForms' own validation messages in the page's language.

WTForms ships no Indonesian catalog, so "This field is required." leaked into the Indonesian
pages. Every form's ``Meta.get_translations`` (patched once on ``FlaskForm.Meta``) now answers
from KMP's own catalogs through Flask-Babel: the Indonesian catalog translates WTForms'
English messages (listed below so ``make messages`` keeps them), English shows them as they
are. (A missing or bad CSRF token never reaches a form: ``CSRFProtect`` answers 400 first.)"""

from __future__ import annotations

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

#: The WTForms and Flask-WTF messages KMP's forms can show (extracted into the catalogs).
MESSAGES = (
    _l("This field is required."),
    _l("Not a valid choice."),
    _l("Invalid email address."),
    _l("Invalid input."),
    _l("Field must be equal to %(other_name)s."),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Date must be at least %(min)s."),
    _l("Date must be at most %(max)s."),
    _l("Date must be between %(min)s and %(max)s."),
    _l("Invalid URL."),
    _l("Invalid value, must be one of: %(values)s."),
    _l("Invalid Choice: could not coerce."),
    _l("Invalid choice(s): one or more data inputs could not be coerced."),
    _l("Not a valid datetime value."),
    _l("Not a valid date value."),
    _l("Not a valid time value."),
    _l("Not a valid integer value."),
    _l("Not a valid decimal value."),
    _l("Not a valid float value."),
)


class _Translations:
    """Unformatted lookups (WTForms fills in %(min)d and friends itself)."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


TRANSLATIONS = _Translations()


def _get_translations(self, form):  # noqa: ARG001 - WTForms' Meta signature
    return TRANSLATIONS


def install() -> None:
    """Every FlaskForm (all KMP forms) takes its messages from KMP's catalogs."""
    FlaskForm.Meta.get_translations = _get_translations
