"""Forms of the hybrid meeting pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange


class TellerForm(FlaskForm):
    login = StringField(
        _l("Email atau nomor HP akun penghitung"), validators=[DataRequired(), Length(max=254)]
    )


class MemberNoForm(FlaskForm):
    member_no = StringField(
        _l("Nomor anggota (pindai QR kartu atau ketik)"),
        validators=[DataRequired(), Length(max=60)],
    )


class SheetForm(FlaskForm):
    serial = IntegerField(
        _l("Nomor lembar"), validators=[DataRequired(), NumberRange(1, 1_000_000)]
    )
    group_code = SelectField(_l("Kelompok (warna lembar)"), validators=[DataRequired()])
    option = SelectField(_l("Pilihan yang ditandai"), validators=[DataRequired()])

    def fill(self, proposal, group_names: dict[str, str]) -> SheetForm:
        self.group_code.choices = [
            SelectChoice(code, group_names.get(code, code)) for code in proposal.group_weights or {}
        ]
        self.option.choices = [SelectChoice(o["key"], o["label"]) for o in proposal.options]
        return self
