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
