"""Ledger forms: report filters (GET, no CSRF), reversal and period close (POST, CSRF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

FORMAT_CHOICES = ("csv", "xlsx")


class _GetForm(FlaskForm):
    """Filters read from the query string: nothing is written, so no CSRF token."""

    class Meta:
        csrf = False


class AsOfForm(_GetForm):
    per = DateField(_l("Per tanggal"), validators=[Optional()])


class PeriodForm(_GetForm):
    dari = DateField(_l("Dari tanggal"), validators=[Optional()])
    sampai = DateField(_l("Sampai tanggal"), validators=[Optional()])

    def validate_sampai(self, field):
        if field.data and self.dari.data and field.data < self.dari.data:
            raise ValidationError(_l("Tanggal akhir harus sesudah tanggal awal."))


class JournalFilterForm(PeriodForm):
    sumber = SelectField(_l("Jenis sumber"), validators=[Optional()], validate_choice=False)
    akun = StringField(_l("Kode akun"), validators=[Optional(), Length(max=120)])
    q = StringField(_l("Cari keterangan / nomor sumber"), validators=[Optional(), Length(max=100)])

    def set_source_kinds(self, kinds: list[str]) -> None:
        from kmp.labels import code_label

        self.sumber.choices = [SelectChoice("", _l("Semua"))] + [
            SelectChoice(kind, code_label(kind)) for kind in kinds
        ]


class MemberAccountsFilterForm(_GetForm):
    q = StringField(_l("Nomor anggota"), validators=[Optional(), Length(max=60)])


class ReverseForm(FlaskForm):
    reason = TextAreaField(
        _l("Alasan pembatalan"),
        validators=[
            DataRequired(message=_l("Alasan pembatalan wajib diisi.")),
            Length(min=5, max=500, message=_l("Alasan 5 sampai 500 karakter.")),
        ],
    )


class ClosePeriodForm(FlaskForm):
    fiscal_year = SelectField(_l("Tahun buku"), coerce=int, validators=[DataRequired()])
    note = StringField(
        _l("Catatan (mis. nomor berita acara RAT)"), validators=[Optional(), Length(max=300)]
    )

    def set_years(self, years: list[int]) -> None:
        self.fiscal_year.choices = [SelectChoice(y, str(y)) for y in years]
