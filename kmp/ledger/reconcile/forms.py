"""Forms of the reconciliation pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class StatementImportForm(FlaskForm):
    account = SelectField(_l("Rekening bank"), coerce=int, validate_choice=False)
    layout = SelectField(_l("Format mutasi"), validate_choice=False)
    file = FileField(
        _l("Berkas mutasi (CSV atau XLSX)"), validators=[FileRequired(_l("Pilih berkas."))]
    )

    def set_choices(self, accounts, layouts) -> None:
        self.account.choices = [SelectChoice(a.id, f"{a.name} ({a.code})") for a in accounts]
        self.layout.choices = [SelectChoice(key, name) for key, name in layouts]


class SettlementImportForm(FlaskForm):
    account = SelectField(_l("Rekening bank penerima dana"), coerce=int, validate_choice=False)
    file = FileField(
        _l("Laporan settlement Midtrans (CSV atau XLSX)"),
        validators=[FileRequired(_l("Pilih berkas."))],
    )

    def set_choices(self, accounts) -> None:
        self.account.choices = [SelectChoice(a.id, f"{a.name} ({a.code})") for a in accounts]


class MatchForm(FlaskForm):
    note = TextAreaField(_l("Catatan pencocokan (boleh kosong)"), validators=[Length(max=300)])


COLUMN_HELP = _l("Nama judul kolom, atau nomor kolom (1 = kolom pertama)")


class MappingForm(FlaskForm):
    name = StringField(_l("Nama pemetaan"), validators=[DataRequired(), Length(3, 80)])
    header_row = IntegerField(
        _l("Baris judul (0 = tanpa judul)"), default=1, validators=[NumberRange(0, 60)]
    )
    delimiter = SelectField(
        _l("Pemisah kolom (CSV)"),
        choices=[
            SelectChoice("", _l("Otomatis")),
            SelectChoice(",", ","),
            SelectChoice(";", ";"),
            SelectChoice("tab", "Tab"),
            SelectChoice("|", "|"),
        ],
        validators=[Optional()],
    )
    date_column = StringField(_l("Kolom tanggal"), validators=[DataRequired(), Length(max=80)])
    description_column = StringField(
        _l("Kolom keterangan (gabung dengan +, mis. 4+5)"),
        validators=[DataRequired(), Length(max=80)],
    )
    reference_column = StringField(
        _l("Kolom referensi (boleh kosong)"), validators=[Length(max=80)]
    )
    amount_mode = SelectField(
        _l("Cara jumlah ditulis"),
        choices=[
            SelectChoice("debit_credit", _l("Dua kolom: debet dan kredit")),
            SelectChoice("indicator", _l("Satu kolom jumlah dan kolom tanda CR/DB")),
            SelectChoice("signed", _l("Satu kolom jumlah bertanda (minus = keluar)")),
        ],
    )
    debit_column = StringField(_l("Kolom debet (uang keluar)"), validators=[Length(max=80)])
    credit_column = StringField(_l("Kolom kredit (uang masuk)"), validators=[Length(max=80)])
    amount_column = StringField(_l("Kolom jumlah"), validators=[Length(max=80)])
    indicator_column = StringField(_l("Kolom tanda CR/DB"), validators=[Length(max=80)])
    credit_marks = StringField(
        _l("Tanda uang masuk (pisahkan dengan koma)"), default="CR,C,K", validators=[Length(max=80)]
    )
    balance_column = StringField(_l("Kolom saldo (boleh kosong)"), validators=[Length(max=80)])
    date_format = StringField(
        _l("Format tanggal (mis. %d/%m/%Y)"),
        default="%d/%m/%Y",
        validators=[DataRequired(), Length(max=40)],
    )
