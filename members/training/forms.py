"""Forms of the training pages (every POST form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from kmp.forms import coerce_id
from kmp.ledger.books.forms import AMOUNT_HELP, _amount
from kmp.notify.forms import MultiCheckboxField

KIND_LABELS = {
    "blk": _l("Kursus BLK / BLK Komunitas"),
    "bnsp": _l("Skema kompetensi BNSP (SKKNI)"),
    "own": _l("Kursus koperasi sendiri"),
}
PAYER_LABELS = {
    "member": _l("Peserta sendiri"),
    "fund": _l("Dana pendidikan koperasi"),
    "sponsor": _l("Sponsor"),
}
OFFICE_LABELS = {
    "pengurus": _l("Pengurus"),
    "pengawas": _l("Pengawas"),
    "manager": _l("Pengelola (manajer)"),
    "loan_officer": _l("Petugas kredit"),
}
STATUS_LABELS = {
    "enrolled": _l("Terdaftar"),
    "waitlisted": _l("Daftar tunggu"),
    "completed": _l("Selesai (lulus)"),
    "not_completed": _l("Tidak selesai"),
    "cancelled": _l("Dibatalkan"),
}
CERTIFICATE_LABELS = {
    "pending": _l("Menunggu verifikasi"),
    "verified": _l("Terverifikasi"),
    "rejected": _l("Ditolak"),
}
SCAN_LABEL = _l("Pindaian sertifikat (PDF/JPG/PNG/WebP, boleh kosong)")


class ProgrammeForm(FlaskForm):
    title = StringField(_l("Judul"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Jenis"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    skkni_ref = StringField(
        _l("Acuan SKKNI (wajib untuk skema BNSP)"), validators=[Optional(), Length(max=120)]
    )
    scheme = StringField(
        _l("Skema sertifikat yang dihasilkan (boleh kosong)"),
        validators=[Optional(), Length(max=200)],
    )
    provider = StringField(
        _l("Penyelenggara (BLK, LSP, lembaga)"), validators=[DataRequired(), Length(max=200)]
    )
    place = StringField(_l("Tempat"), validators=[Optional(), Length(max=200)])
    is_online = BooleanField(_l("Daring (online)"))
    starts_on = DateField(_l("Tanggal mulai"), validators=[DataRequired()])
    ends_on = DateField(_l("Tanggal selesai"), validators=[DataRequired()])
    seats = IntegerField(
        _l("Jumlah kursi"), validators=[InputRequired(), NumberRange(min=1, max=10_000)]
    )
    cost = StringField(_l("Biaya per peserta (Rp)"), validators=[Length(max=40)])
    payer = SelectField(
        _l("Dibayar oleh"), choices=[SelectChoice(k, v) for k, v in PAYER_LABELS.items()]
    )
    sponsor = StringField(_l("Nama sponsor"), validators=[Optional(), Length(max=200)])
    target_groups = MultiCheckboxField(_l("Untuk kelompok (kosong: semua)"), choices=[])
    target_roles = MultiCheckboxField(
        _l("Untuk jabatan"), choices=[SelectChoice(k, v) for k, v in OFFICE_LABELS.items()]
    )
    description = TextAreaField(_l("Keterangan"), validators=[Optional(), Length(max=4000)])
    cost_idr: int = 0

    def validate_cost(self, field):
        self.cost_idr = 0 if not (field.data or "").strip() else _amount(field, required=True)


class AttendanceForm(FlaskForm):
    day = DateField(_l("Tanggal"), validators=[DataRequired()])


class CompletionForm(FlaskForm):
    result = SelectField(
        _l("Hasil"),
        choices=[
            SelectChoice("completed", _l("Selesai (lulus)")),
            SelectChoice("not_completed", _l("Tidak selesai")),
        ],
    )
    note = StringField(_l("Catatan (boleh kosong)"), validators=[Optional(), Length(max=300)])


class CertificateForm(FlaskForm):
    holder = StringField(
        _l("Nomor anggota atau email pemegang sertifikat"),
        validators=[Optional(), Length(max=254)],
    )
    scheme = StringField(_l("Skema sertifikasi"), validators=[DataRequired(), Length(max=200)])
    skkni_ref = StringField(
        _l("Acuan SKKNI (boleh kosong)"), validators=[Optional(), Length(max=120)]
    )
    issuer = StringField(_l("Penerbit (LSP)"), validators=[DataRequired(), Length(max=200)])
    number = StringField(_l("Nomor sertifikat"), validators=[DataRequired(), Length(max=100)])
    issued_on = DateField(_l("Tanggal terbit"), validators=[DataRequired()])
    expires_on = DateField(_l("Berlaku sampai (kosong: tanpa batas)"), validators=[Optional()])
    scan = FileField(SCAN_LABEL)


class DecisionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    note = TextAreaField(_l("Catatan (wajib bila menolak)"), validators=[Length(max=300)])


class FundPaymentForm(FlaskForm):
    programme = SelectField(_l("Program"), coerce=coerce_id, validate_choice=False)
    amount = StringField(_l("Jumlah (Rp)"), validators=[Length(max=40)], description=AMOUNT_HELP)
    paid_on = DateField(_l("Tanggal bayar"), validators=[DataRequired()])
    money_account = SelectField(_l("Dibayar dari"), coerce=int, validate_choice=False)
    counterparty = StringField(_l("Dibayar kepada"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Keterangan"), validators=[DataRequired(), Length(min=3, max=1000)]
    )
    reference = StringField(_l("Nomor faktur (boleh kosong)"), validators=[Length(max=60)])
    request_key = HiddenField()
    amount_idr: int | None = None

    def validate_amount(self, field):
        self.amount_idr = _amount(field, required=True)


class ReverseForm(FlaskForm):
    reason = StringField(_l("Alasan pembatalan"), validators=[DataRequired(), Length(max=300)])
