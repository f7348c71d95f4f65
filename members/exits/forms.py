"""Forms of the exit workflow: a board-opened exit, the decision, the refund payment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional


class BoardExitForm(FlaskForm):
    kind = SelectField(
        _l("Jenis"),
        choices=[SelectChoice("exit", _l("Keluar")), SelectChoice("death", _l("Meninggal dunia"))],
    )
    reason = TextAreaField(_l("Keterangan"), validators=[Optional(), Length(max=1000)])
    heir_name = StringField(
        _l("Nama ahli waris (bila meninggal)"), validators=[Optional(), Length(max=200)]
    )
    heir_relationship = StringField(
        _l("Hubungan ahli waris"), validators=[Optional(), Length(max=100)]
    )


class ExitDecisionForm(FlaskForm):
    action = SelectField(
        _l("Keputusan"),
        choices=[
            SelectChoice("approve", _l("Setujui keluar")),
            SelectChoice("cancel", _l("Batalkan / tolak pengajuan")),
        ],
    )
    reason = TextAreaField(
        _l("Alasan (wajib bila dibatalkan)"), validators=[Optional(), Length(max=1000)]
    )


class RefundPaymentForm(FlaskForm):
    method = SelectField(
        _l("Cara bayar"),
        choices=[SelectChoice("cash", _l("Tunai")), SelectChoice("bank", _l("Transfer bank"))],
    )
    reference = StringField(
        _l("Referensi (no. transfer, penerima)"), validators=[Optional(), Length(max=120)]
    )
