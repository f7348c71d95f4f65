"""Forms for officer terms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class OfficerForm(FlaskForm):
    holder = StringField(
        _l("Nomor anggota atau email pemegang jabatan"),
        validators=[DataRequired(), Length(max=254)],
    )
    body = SelectField(
        _l("Badan"),
        choices=[
            SelectChoice("pengurus", _l("Pengurus")),
            SelectChoice("pengawas", _l("Pengawas")),
        ],
    )
    function = SelectField(
        _l("Jabatan"),
        choices=[
            SelectChoice("ketua", _l("Ketua")),
            SelectChoice("sekretaris", _l("Sekretaris")),
            SelectChoice("bendahara", _l("Bendahara")),
            SelectChoice("anggota_pengurus", _l("Anggota pengurus")),
            SelectChoice("pengawas", _l("Pengawas")),
        ],
    )
    term_start = DateField(_l("Awal masa jabatan"), validators=[DataRequired()])
    term_end = DateField(_l("Akhir masa jabatan"), validators=[DataRequired()])


class EndTermForm(FlaskForm):
    ended_on = DateField(_l("Berakhir pada"), validators=[DataRequired()])
