"""SHU forms (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from kmp.forms import RupiahField


class ComputeForm(FlaskForm):
    fiscal_year = IntegerField(
        _l("Tahun buku"),
        validators=[
            InputRequired(_l("Isi tahun buku.")),
            NumberRange(2000, 2999, _l("Tahun buku tidak masuk akal.")),
        ],
    )
    shu_idr = RupiahField(
        _l("SHU yang dibagi (Rp; kosongkan untuk memakai SHU hasil tutup buku)"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "placeholder": "10.000.000"},
    )
    reason = TextAreaField(
        _l("Alasan bila jumlahnya berbeda dari SHU hasil tutup buku"),
        validators=[Optional(), Length(max=1000)],
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Alasan"), validators=[DataRequired(_l("Tulis alasannya.")), Length(max=1000)]
    )


class ResolutionForm(FlaskForm):
    """The adopted resolution (keputusan rapat) a computed run rests on, from a list."""

    resolution_id = SelectField(
        _l("Keputusan rapat anggota yang menyetujui pembagian ini"),
        coerce=int,
        validators=[InputRequired(_l("Pilih keputusan rapat dari daftar."))],
    )

    def set_resolutions(self, resolutions) -> None:
        self.resolution_id.choices = [
            SelectChoice(r.id, f"#{r.id} {r.proposal.title} ({r.adopted_at:%d-%m-%Y})")
            for r in resolutions
        ]


class ConfirmForm(FlaskForm):
    """A bare confirmation (post the run, pay in cash, approve a transfer)."""


class MethodForm(FlaskForm):
    method = RadioField(
        _l("Cara menerima SHU"),
        choices=[
            SelectChoice("sukarela", _l("Masuk simpanan sukarela (langsung, tanpa biaya)")),
            SelectChoice("transfer", _l("Transfer ke rekening bank / e-wallet")),
            SelectChoice("cash", _l("Tunai di kantor koperasi")),
        ],
        validators=[InputRequired(_l("Pilih salah satu."))],
    )


class TransferForm(FlaskForm):
    bank = StringField(
        _l("Bank / e-wallet (kode Iris, mis. bca, bni, gopay)"),
        validators=[DataRequired(_l("Isi bank atau e-wallet.")), Length(max=40)],
    )
    account = StringField(
        _l("Nomor rekening / nomor HP e-wallet"),
        validators=[DataRequired(_l("Isi nomor rekening.")), Length(max=40)],
    )
    account_name = StringField(
        _l("Nama pemilik rekening"),
        validators=[DataRequired(_l("Isi nama pemilik rekening.")), Length(max=200)],
    )


class PatronageUploadForm(FlaskForm):
    file = FileField(_l("Berkas CSV"), validators=[FileRequired(_l("Pilih berkas CSV."))])
    source_ref = StringField(
        _l("Nama sumber data"),
        default="csv",
        validators=[DataRequired(_l("Isi nama sumber data.")), Length(max=80)],
    )
    dry_run = BooleanField(_l("Periksa saja, jangan simpan"))
