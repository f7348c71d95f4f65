"""Forms of the bookkeeping pages (POST forms carry a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from kmp.money import MoneyError, parse_rupiah_input

JOURNAL_ROWS = 6
AMOUNT_HELP = _l("Contoh: 10.000.000, 10000000 atau 10 jt")


def _amount(field, *, required: bool) -> int | None:
    text = (field.data or "").strip()
    if not text:
        if required:
            raise ValidationError(_l("Jumlah wajib diisi."))
        return None
    try:
        value = parse_rupiah_input(text)
    except MoneyError:
        raise ValidationError(
            _l("Jumlah tidak dapat dibaca. Contoh: 10.000.000, 10000000 atau 10 jt.")
        ) from None
    if value <= 0:
        raise ValidationError(_l("Jumlah harus lebih dari Rp 0."))
    return value


class CashEntryForm(FlaskForm):
    amount = StringField(_l("Jumlah (Rp)"), validators=[Length(max=40)])
    entry_date = DateField(_l("Tanggal"), validators=[DataRequired(_l("Tanggal wajib diisi."))])
    category = SelectField(_l("Kategori"), coerce=int, validate_choice=False)
    money_account = SelectField(_l("Dibayar dari / diterima di"), coerce=int, validate_choice=False)
    counterparty = StringField(
        _l("Pihak lawan (penerima / pembayar)"),
        validators=[DataRequired(_l("Pihak lawan wajib diisi.")), Length(max=200)],
    )
    description = TextAreaField(
        _l("Keterangan"),
        validators=[DataRequired(_l("Keterangan wajib diisi.")), Length(min=3, max=1000)],
    )
    reference = StringField(_l("Nomor bukti / faktur (boleh kosong)"), validators=[Length(max=60)])
    receipt = FileField(_l("Foto atau PDF bukti (JPEG, PNG, WebP, PDF)"))
    request_key = HiddenField()
    amount_idr: int | None = None

    def validate_amount(self, field):
        self.amount_idr = _amount(field, required=True)

    def set_choices(self, categories, money) -> None:
        self.category.choices = [SelectChoice(0, _l("— pilih kategori —"))] + [
            SelectChoice(a.id, f"{a.name} ({a.code})") for a in categories
        ]
        self.money_account.choices = [SelectChoice(a.id, f"{a.name} ({a.code})") for a in money]


class DecisionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    note = TextAreaField(_l("Catatan (wajib bila menolak)"), validators=[Length(max=500)])

    def validate_action(self, field):
        if field.data not in ("approve", "reject", "withdraw"):
            raise ValidationError(_l("Tindakan tidak dikenal."))


class JournalLineForm(Form):
    account = SelectField(_l("Akun"), coerce=int, validate_choice=False, default=0)
    debit = StringField(_l("Debit (Rp)"), validators=[Length(max=40)])
    credit = StringField(_l("Kredit (Rp)"), validators=[Length(max=40)])
    memo = StringField(_l("Catatan baris"), validators=[Length(max=200)])
    debit_idr: int = 0
    credit_idr: int = 0

    def validate_debit(self, field):
        self.debit_idr = _amount(field, required=False) or 0

    def validate_credit(self, field):
        self.credit_idr = _amount(field, required=False) or 0


class JournalForm(FlaskForm):
    kind = SelectField(
        _l("Jenis jurnal"),
        choices=[
            SelectChoice("general", _l("Jurnal umum")),
            SelectChoice("adjusting", _l("Jurnal penyesuaian")),
        ],
    )
    entry_date = DateField(_l("Tanggal"), validators=[DataRequired(_l("Tanggal wajib diisi."))])
    description = TextAreaField(
        _l("Alasan / keterangan jurnal"),
        validators=[DataRequired(_l("Alasan wajib diisi.")), Length(min=5, max=1000)],
    )
    lines = FieldList(FormField(JournalLineForm), min_entries=JOURNAL_ROWS, max_entries=40)
    request_key = HiddenField()

    def set_accounts(self, accounts) -> None:
        choices = [SelectChoice(0, _l("— pilih akun —"))] + [
            SelectChoice(a.id, f"{a.code} · {a.name}") for a in accounts
        ]
        for line in self.lines:
            line.form.account.choices = choices


class AccountForm(FlaskForm):
    name = StringField(
        _l("Nama akun"), validators=[DataRequired(_l("Nama akun wajib diisi.")), Length(3, 200)]
    )
    group = SelectField(_l("Kelompok"), validate_choice=False)
    code = StringField(
        _l("Kode (boleh kosong: dibuat dari nama)"), validators=[Optional(), Length(max=60)]
    )


class RenameAccountForm(FlaskForm):
    name = StringField(
        _l("Nama baru"), validators=[DataRequired(_l("Nama akun wajib diisi.")), Length(3, 200)]
    )
