"""Core forms (login, second factor, language, password). Every form carries a CSRF token."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from kmp import wtforms_i18n

wtforms_i18n.install()  # every form's WTForms messages from KMP's catalogs (both languages)


class LoginForm(FlaskForm):
    login = StringField(_l("Email atau nomor HP"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(FlaskForm):
    lang = SelectField(
        _l("Bahasa"),
        choices=[SelectChoice("id", "Bahasa Indonesia"), SelectChoice("en", "English")],
    )
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Kata sandi lama"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[DataRequired(), EqualTo("new", message=_l("Kata sandi baru tidak sama."))],
    )


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Kode 6 angka dari aplikasi autentikator, atau kode pemulihan"),
        validators=[DataRequired(), Length(max=20)],
    )


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Kode 6 angka dari aplikasi autentikator"), validators=[DataRequired(), Length(max=10)]
    )


class ForgotPasswordForm(FlaskForm):
    login = StringField(_l("Email atau nomor HP"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[DataRequired(), EqualTo("new", message=_l("Kata sandi baru tidak sama."))],
    )


class ConfirmForm(FlaskForm):
    """A bare POST button (CSRF only)."""


class ResetCodeForm(FlaskForm):
    code = StringField(
        _l("Kode 6 angka dari WhatsApp/SMS"), validators=[DataRequired(), Length(max=12)]
    )
    new = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[DataRequired(), EqualTo("new", message=_l("Kata sandi baru tidak sama."))],
    )


# ------------------------------------------------------------------ defensive parsing helpers

#: Ids are 32-bit integer columns: anything above cannot exist (and would overflow SQLite's
#: or PostgreSQL's integer parameter with a 500).
MAX_ID = 2**31 - 1


def parse_id(value) -> int | None:
    """A form or query value as a row id, or ``None`` when it cannot be one (not plain ASCII
    digits, zero, or beyond ``MAX_ID``)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def coerce_id(value) -> int:
    """``SelectField(coerce=coerce_id)``: like ``int`` but a value that cannot be an id is a
    ``ValueError`` (the field's "not a valid choice"), never a database overflow."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    number = parse_id(value)
    if number is None:
        raise ValueError("not an id")
    return number


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def install_input_guard(app) -> None:
    """Before any view: a NUL character in the query string or a form field is refused with
    a 400 and a message (no text field ever needs one; PostgreSQL refuses them in text
    columns, so they would otherwise end as a 500 there and be stored on SQLite); in the
    path it names nothing that can exist: a 404."""
    from flask import abort, request

    from kmp.errors import DomainError
    from kmp.i18n import gettext

    def _has_nul(values) -> bool:
        return any("\x00" in value for value in values if isinstance(value, str))

    @app.before_request
    def _refuse_nul_characters():
        if "\x00" in request.path:
            abort(404)
        suspect = "%00" in request.query_string.decode("latin-1")
        if not suspect and request.mimetype in _FORM_TYPES:
            suspect = _has_nul(request.form.values()) or any(
                "\x00" in (f.filename or "") for f in request.files.values()
            )
        if suspect or _has_nul(request.args.values()):
            raise DomainError(
                gettext("Isian berisi karakter NUL yang tidak diizinkan."),
                code="invalid_characters",
                status=400,
            )


class RupiahField(StringField):
    """An amount in whole Rupiah as people type it: ``10.000.000``, ``10000000``, ``Rp 10.000``,
    ``10 jt``, ``1,5 juta``, ``750 rb`` (the one parser, ``kmp.money.parse_rupiah_input``).
    ``data`` is an ``int`` (``None`` when left empty); anything else is a field error."""

    def process_formdata(self, valuelist):
        from kmp.money import MoneyError, parse_rupiah_input

        self.raw_text = valuelist[0] if valuelist else ""
        text = (self.raw_text or "").strip()
        if not text:
            self.data = None
            return
        try:
            self.data = parse_rupiah_input(text)
        except MoneyError:
            self.data = None
            raise ValueError(
                _l("Tulis jumlah dalam Rupiah, mis. 10.000.000, 10000000 atau 10 jt.")
            ) from None
        if self.data < 0:
            self.data = None
            raise ValueError(_l("Jumlah tidak boleh negatif."))

    def _value(self):
        raw = getattr(self, "raw_text", None)
        if raw is not None:
            return raw
        if isinstance(self.data, int):
            from kmp.money import format_number

            return format_number(self.data)
        return ""
