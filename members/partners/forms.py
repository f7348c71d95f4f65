"""Forms of the partner portal: staff logins."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    PasswordField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional


class StaffForm(FlaskForm):
    full_name = StringField(_l("Nama staf"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Nomor HP"), validators=[Optional(), Length(max=24)])
    title = StringField(_l("Jabatan"), validators=[Optional(), Length(max=100)])
    password = PasswordField(_l("Kata sandi awal"), validators=[DataRequired(), Length(max=200)])
