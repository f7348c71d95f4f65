"""Forms of the social-protection pages (every one carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
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
from wtforms.validators import DataRequired, Length, Optional

FAMILY_SLOTS = 4
RELATION_CHOICES = [
    SelectChoice("", _l("— hubungan —")),
    SelectChoice("pasangan", _l("Suami / istri")),
    SelectChoice("anak", _l("Anak")),
    SelectChoice("orang_tua", _l("Orang tua")),
    SelectChoice("lainnya", _l("Lainnya (sesuai Kartu Keluarga)")),
]
JKN_CHOICES = [
    SelectChoice("", _l("Tidak ikut JKN")),
    SelectChoice("3", _l("Kelas III")),
    SelectChoice("2", _l("Kelas II")),
    SelectChoice("1", _l("Kelas I")),
]


class FamilyForm(Form):
    full_name = StringField(_l("Nama"), validators=[Optional(), Length(max=200)])
    nik = StringField(_l("NIK"), validators=[Optional(), Length(max=24)])
    relation = SelectField(_l("Hubungan"), choices=RELATION_CHOICES, validate_choice=False)


class EnrolmentForm(FlaskForm):
    tk = BooleanField(_l("BPJS Ketenagakerjaan: JKK (kecelakaan kerja) + JKM (kematian)"))
    jht = BooleanField(_l("Tambah JHT (Jaminan Hari Tua, tabungan hari tua)"))
    income = SelectField(
        _l("Penghasilan sebulan yang dilaporkan"), choices=[], validate_choice=False
    )
    jkn_class = SelectField(
        _l("JKN (BPJS Kesehatan) untuk Anda dan keluarga"),
        choices=JKN_CHOICES,
        validate_choice=False,
    )
    family = FieldList(FormField(FamilyForm), min_entries=FAMILY_SLOTS, max_entries=10)
    auto_debit = BooleanField(_l("Bayar otomatis dari simpanan sukarela bila saldonya cukup"))
    consent = BooleanField(_l("Saya setuju data saya dan keluarga dibagikan ke BPJS"))


class DecideForm(FlaskForm):
    start = SelectField(_l("Mulai ditagih"), choices=[], validate_choice=False)


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Alasan"), validators=[DataRequired(_l("Alasan wajib diisi.")), Length(max=1000)]
    )


class NumbersForm(FlaskForm):
    kpj = StringField(
        _l("Nomor KPJ (BPJS Ketenagakerjaan)"), validators=[Optional(), Length(max=30)]
    )
    jkn = StringField(_l("Nomor kartu JKN peserta"), validators=[Optional(), Length(max=30)])


class AckForm(FlaskForm):
    file = FileField(_l("Berkas tanda terima BPJS (CSV)"))


class RemitForm(FlaskForm):
    reference = StringField(
        _l("Nomor referensi transfer"),
        validators=[DataRequired(_l("Nomor referensi wajib diisi.")), Length(max=80)],
    )
    transferred_on = DateField(_l("Tanggal transfer"), validators=[Optional()])
    expected = HiddenField()


class CashForm(FlaskForm):
    amount = StringField(
        _l("Jumlah diterima (Rp)"),
        validators=[DataRequired(_l("Jumlah wajib diisi.")), Length(max=30)],
    )
    method = SelectField(
        _l("Cara bayar"),
        choices=[SelectChoice("cash", _l("Tunai")), SelectChoice("bank", _l("Transfer bank"))],
    )
    reference = StringField(
        _l("Referensi (boleh kosong)"), validators=[Optional(), Length(max=120)]
    )
    token = HiddenField(validators=[DataRequired(), Length(max=64)])


class RateForm(FlaskForm):
    programme = SelectField(
        _l("Program"),
        choices=[
            SelectChoice("jkk", "JKK"),
            SelectChoice("jkm", "JKM"),
            SelectChoice("jht", "JHT"),
            SelectChoice("jkn", "JKN"),
        ],
    )
    jkn_class = SelectField(
        _l("Kelas JKN"),
        choices=[
            SelectChoice("", "—"),
            SelectChoice("1", "I"),
            SelectChoice("2", "II"),
            SelectChoice("3", "III"),
        ],
        validate_choice=False,
    )
    percent = StringField(
        _l("Persen penghasilan (JKK, JHT), mis. 1 atau 0,24"),
        validators=[Optional(), Length(max=10)],
    )
    amount = StringField(
        _l("Iuran per orang (Rp) (JKM, JKN)"), validators=[Optional(), Length(max=30)]
    )
    participant = StringField(
        _l("Dibayar peserta (Rp), bila sebagian dibayar pemerintah"),
        validators=[Optional(), Length(max=30)],
    )
    effective_from = StringField(
        _l("Berlaku mulai (TTTT-BB)"),
        validators=[DataRequired(_l("Bulan berlaku wajib diisi.")), Length(max=7)],
    )
    note = StringField(_l("Dasar / catatan"), validators=[Optional(), Length(max=300)])


class BracketsForm(FlaskForm):
    amounts = TextAreaField(
        _l("Daftar penghasilan (satu per baris atau dipisah koma)"),
        validators=[DataRequired(_l("Isi daftar penghasilan.")), Length(max=5000)],
    )
    effective_from = StringField(
        _l("Berlaku mulai (TTTT-BB)"),
        validators=[DataRequired(_l("Bulan berlaku wajib diisi.")), Length(max=7)],
    )
    note = StringField(_l("Dasar / catatan"), validators=[Optional(), Length(max=300)])


class SubsidyForm(FlaskForm):
    programme = SelectField(
        _l("Program"),
        choices=[
            SelectChoice("jkk", "JKK"),
            SelectChoice("jkm", "JKM"),
            SelectChoice("jht", "JHT"),
            SelectChoice("jkn", "JKN"),
        ],
    )
    group_code = SelectField(_l("Kelompok"), choices=[], validate_choice=False)
    percent = StringField(
        _l("Bagian yang dibayar dana sosial (persen iuran)"),
        validators=[DataRequired(_l("Isi persennya (0 untuk menghentikan).")), Length(max=10)],
    )
    cap = StringField(
        _l("Paling banyak per orang per bulan (Rp, boleh kosong)"),
        validators=[Optional(), Length(max=30)],
    )
    effective_from = StringField(
        _l("Berlaku mulai (TTTT-BB)"),
        validators=[DataRequired(_l("Bulan berlaku wajib diisi.")), Length(max=7)],
    )
    basis = StringField(
        _l("Dasar (pasal AD / keputusan rapat anggota)"),
        validators=[DataRequired(_l("Dasar subsidi wajib diisi.")), Length(max=300)],
    )


class ClaimForm(FlaskForm):
    member_no = StringField(
        _l("Nomor anggota"),
        validators=[DataRequired(_l("Nomor anggota wajib diisi.")), Length(max=40)],
    )
    kind = SelectField(
        _l("Jenis klaim"),
        choices=[
            SelectChoice("work_accident", _l("Kecelakaan kerja (JKK)")),
            SelectChoice("death", _l("Kematian (JKM / JKK), oleh ahli waris")),
            SelectChoice("jht", _l("Pencairan JHT")),
        ],
    )
    incident_date = DateField(
        _l("Tanggal kejadian"), validators=[DataRequired(_l("Tanggal kejadian wajib diisi."))]
    )
    claimant_name = StringField(
        _l("Nama pengaju / ahli waris"), validators=[Optional(), Length(max=200)]
    )
    claimant_relationship = StringField(
        _l("Hubungan dengan peserta"), validators=[Optional(), Length(max=100)]
    )
    description = TextAreaField(
        _l("Kejadian"),
        validators=[DataRequired(_l("Ceritakan singkat kejadiannya.")), Length(max=4000)],
    )


class ClaimStepForm(FlaskForm):
    target = SelectField(_l("Langkah berikutnya"), choices=[], validate_choice=False)
    note = TextAreaField(_l("Catatan"), validators=[Optional(), Length(max=2000)])
    bpjs_reference = StringField(
        _l("Nomor pengajuan BPJS"), validators=[Optional(), Length(max=80)]
    )
    benefit = StringField(_l("Manfaat dibayar BPJS (Rp)"), validators=[Optional(), Length(max=30)])


class MonthForm(FlaskForm):
    month = StringField(
        _l("Bulan (TTTT-BB)"), validators=[DataRequired(_l("Bulan wajib diisi.")), Length(max=7)]
    )
