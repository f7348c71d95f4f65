"""The board's cash receipt form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class ReceiptForm(FlaskForm):
    purpose = SelectField(
        _l("Jenis simpanan"),
        choices=[
            SelectChoice("pokok", _l("Simpanan pokok")),
            SelectChoice("wajib", _l("Simpanan wajib")),
            SelectChoice("sukarela", _l("Simpanan sukarela")),
        ],
    )
    amount = StringField(
        _l("Jumlah (Rp)"), validators=[DataRequired(_l("Jumlah wajib diisi.")), Length(max=30)]
    )
    method = SelectField(
        _l("Cara bayar"),
        choices=[SelectChoice("cash", _l("Tunai")), SelectChoice("bank", _l("Transfer bank"))],
    )
    reference = StringField(
        _l("Referensi (no. transfer, catatan)"), validators=[Optional(), Length(max=120)]
    )
    received_on = DateField(_l("Tanggal terima"), validators=[Optional()])
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
