"""Membership forms (Flask-WTF, CSRF on every form). Sub-forms of the AD editor are plain
``wtforms.Form`` so only the outer form carries the token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from members.ad import CAPITAL_BASES, EXITED_MEMBER_OPTIONS, MEMBER_KINDS, PATRONAGE_MEASURES


def _platform_choices(blank: str):
    from members.services import PLATFORMS

    return [SelectChoice("", blank)] + [SelectChoice(k, v) for k, v in PLATFORMS.items()]


class IndividualApplicationForm(FlaskForm):
    full_name = StringField(
        _l("Nama lengkap (sesuai KTP)"),
        validators=[DataRequired(_l("Nama lengkap wajib diisi.")), Length(max=200)],
    )
    nik = StringField(
        _l("NIK (16 angka di KTP)"),
        validators=[DataRequired(_l("NIK wajib diisi.")), Length(max=24)],
    )
    phone = StringField(
        _l("Nomor HP (WhatsApp)"),
        validators=[DataRequired(_l("Nomor HP wajib diisi.")), Length(max=24)],
    )
    email = StringField(_l("Email (boleh kosong)"), validators=[Optional(), Length(max=254)])
    address = TextAreaField(
        _l("Alamat"), validators=[DataRequired(_l("Alamat wajib diisi.")), Length(max=500)]
    )
    platform = SelectField(_l("Platform tempat Anda bekerja"), validate_choice=False)
    platform_worker_id = StringField(
        _l("ID mitra di platform (ID pengemudi/kurir)"), validators=[Optional(), Length(max=60)]
    )
    password = PasswordField(
        _l("Buat kata sandi"),
        validators=[DataRequired(_l("Kata sandi wajib diisi.")), Length(max=200)],
    )
    confirm = PasswordField(
        _l("Ulangi kata sandi"),
        validators=[
            DataRequired(_l("Ulangi kata sandi.")),
            EqualTo("password", message=_l("Kata sandi tidak sama.")),
        ],
    )
    consent = BooleanField(_l("Saya setuju data saya diproses koperasi sesuai pernyataan privasi."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.platform.choices = _platform_choices(str(_l("Pilih platform")))


class CompanyApplicationForm(FlaskForm):
    company_name = StringField(
        _l("Nama perusahaan"),
        validators=[DataRequired(_l("Nama perusahaan wajib diisi.")), Length(max=200)],
    )
    nib = StringField(
        _l("NIB (13 angka)"), validators=[DataRequired(_l("NIB wajib diisi.")), Length(max=24)]
    )
    npwp = StringField(
        _l("NPWP perusahaan"), validators=[DataRequired(_l("NPWP wajib diisi.")), Length(max=30)]
    )
    address = TextAreaField(
        _l("Alamat perusahaan"),
        validators=[DataRequired(_l("Alamat wajib diisi.")), Length(max=500)],
    )
    platform = SelectField(_l("Nama platform/aplikasi"), validate_choice=False)
    email = StringField(
        _l("Email perwakilan (untuk masuk)"), validators=[Optional(), Length(max=254)]
    )
    representative_name = StringField(
        _l("Nama perwakilan"),
        validators=[DataRequired(_l("Nama perwakilan wajib diisi.")), Length(max=200)],
    )
    representative_nik = StringField(
        _l("NIK perwakilan"),
        validators=[DataRequired(_l("NIK perwakilan wajib diisi.")), Length(max=24)],
    )
    representative_phone = StringField(
        _l("Nomor HP perwakilan"),
        validators=[DataRequired(_l("Nomor HP wajib diisi.")), Length(max=24)],
    )
    password = PasswordField(
        _l("Buat kata sandi"),
        validators=[DataRequired(_l("Kata sandi wajib diisi.")), Length(max=200)],
    )
    confirm = PasswordField(
        _l("Ulangi kata sandi"),
        validators=[
            DataRequired(_l("Ulangi kata sandi.")),
            EqualTo("password", message=_l("Kata sandi tidak sama.")),
        ],
    )
    consent = BooleanField(
        _l("Perusahaan setuju data ini diproses koperasi sesuai pernyataan privasi.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.platform.choices = _platform_choices(str(_l("Pilih platform")))


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


class DecisionForm(FlaskForm):
    action = SelectField(
        _l("Keputusan"),
        choices=[SelectChoice("approve", _l("Setujui")), SelectChoice("reject", _l("Tolak"))],
    )
    reason = TextAreaField(_l("Alasan penolakan"), validators=[Optional(), Length(max=1000)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Alasan"), validators=[Optional(), Length(max=1000)])


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


class ProfileForm(FlaskForm):
    phone = StringField(_l("Nomor HP"), validators=[Optional(), Length(max=24)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    address = TextAreaField(_l("Alamat"), validators=[Optional(), Length(max=500)])
    locale = SelectField(
        _l("Bahasa"),
        choices=[SelectChoice("id", "Bahasa Indonesia"), SelectChoice("en", "English")],
    )


class NikCorrectionForm(FlaskForm):
    new_nik = StringField(_l("NIK yang benar"), validators=[DataRequired(), Length(max=24)])
    reason = TextAreaField(_l("Alasan koreksi"), validators=[DataRequired(), Length(max=1000)])


class NikDecisionForm(FlaskForm):
    action = SelectField(
        _l("Keputusan"),
        choices=[SelectChoice("approve", _l("Setujui")), SelectChoice("reject", _l("Tolak"))],
    )
    note = TextAreaField(_l("Catatan"), validators=[Optional(), Length(max=1000)])


class ImportForm(FlaskForm):
    file = FileField(_l("Berkas CSV"), validators=[FileRequired(_l("Pilih berkas CSV."))])
    dry_run = BooleanField(_l("Periksa saja, jangan simpan"))


class StaffForm(FlaskForm):
    full_name = StringField(_l("Nama staf"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Nomor HP"), validators=[Optional(), Length(max=24)])
    title = StringField(_l("Jabatan"), validators=[Optional(), Length(max=100)])
    password = PasswordField(_l("Kata sandi awal"), validators=[DataRequired(), Length(max=200)])


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


class CertificateForm(FlaskForm):
    holder = StringField(
        _l("Nomor anggota atau email pemegang sertifikat"),
        validators=[DataRequired(), Length(max=254)],
    )
    scheme = StringField(_l("Skema sertifikasi"), validators=[DataRequired(), Length(max=200)])
    lsp_bnsp_number = StringField(
        _l("Nomor sertifikat (LSP/BNSP)"), validators=[DataRequired(), Length(max=100)]
    )
    issued_on = DateField(_l("Tanggal terbit"), validators=[DataRequired()])
    expires_on = DateField(_l("Berlaku sampai"), validators=[DataRequired()])
    file = FileField(_l("Berkas sertifikat (PDF/JPG/PNG, boleh kosong)"))


# --------------------------------------------------------------------------- AD editor


def _choices(values, labels=None):
    return [SelectChoice(v, (labels or {}).get(v, v)) for v in values]


class GroupSubForm(Form):
    code = StringField(_l("Kode"), validators=[Optional(), Length(max=20)])
    name_id = StringField(_l("Nama (Indonesia)"), validators=[Optional(), Length(max=100)])
    name_en = StringField(_l("Nama (Inggris)"), validators=[Optional(), Length(max=100)])
    kind = SelectField(
        _l("Jenis anggota"),
        choices=_choices(MEMBER_KINDS, {"individual": "perorangan", "company": "perusahaan"}),
    )
    is_active = BooleanField(_l("Aktif"))
    members_vote = BooleanField(_l("Anggota memilih"))
    is_extraordinary = BooleanField(_l("Anggota luar biasa"))
    requires_platform_id = BooleanField(_l("Wajib ID mitra platform"))
    pokok_idr = IntegerField(_l("Simpanan pokok (Rp)"), validators=[Optional()])
    wajib_idr = IntegerField(_l("Simpanan wajib per bulan (Rp)"), validators=[Optional()])
    pokok_instalments_allowed = BooleanField(_l("Pokok boleh dicicil"))
    vote_weight_bp = IntegerField(_l("Bobot suara (bp)"), validators=[Optional()])
    shu_weight_bp = IntegerField(_l("Bobot SHU (bp)"), validators=[Optional()])
    patronage_measure = SelectField(_l("Ukuran jasa usaha"), choices=_choices(PATRONAGE_MEASURES))
    member_no_prefix = StringField(
        _l("Awalan nomor anggota"), validators=[Optional(), Length(max=5)]
    )
    pengurus_seats = IntegerField(_l("Kursi pengurus"), validators=[Optional()])
    pengawas_seats = IntegerField(_l("Kursi pengawas"), validators=[Optional()])


class AllocationSubForm(Form):
    key = StringField(_l("Pos"), validators=[Optional(), Length(max=40)])
    bp = IntegerField(_l("bp"), validators=[Optional()])


class RatioSubForm(Form):
    numerator = IntegerField(_l("Pembilang"), validators=[InputRequired()])
    denominator = IntegerField(_l("Penyebut"), validators=[InputRequired()])
    strict = BooleanField(_l("Harus lebih dari (bukan 'paling sedikit')"))


class ADForm(FlaskForm):
    groups = FieldList(FormField(GroupSubForm), min_entries=1)
    shu_allocation = FieldList(FormField(AllocationSubForm), min_entries=1)
    jasa_modal_bp = IntegerField(
        _l("Jasa modal (bp dari jasa anggota)"), validators=[InputRequired()]
    )
    jasa_usaha_bp = IntegerField(
        _l("Jasa usaha (bp dari jasa anggota)"), validators=[InputRequired()]
    )
    capital_basis = SelectField(
        _l("Dasar jasa modal"),
        choices=_choices(
            CAPITAL_BASES,
            {"year_end": "saldo akhir tahun", "average_month_end": "rata-rata saldo akhir bulan"},
        ),
    )
    exited_members = SelectField(
        _l("Anggota yang keluar di tengah tahun"),
        choices=_choices(
            EXITED_MEMBER_OPTIONS,
            {"prorate": "dapat SHU sebanding bulan keanggotaan", "exclude": "tidak dapat SHU"},
        ),
    )
    quorum = FormField(RatioSubForm, label=_l("Kuorum"))
    quorum_per_group = BooleanField(_l("Kuorum juga berlaku per kelompok"))
    ordinary_threshold = FormField(RatioSubForm, label=_l("Ambang keputusan biasa"))
    special_threshold = FormField(
        RatioSubForm, label=_l("Ambang perubahan AD, penggabungan, pembubaran")
    )
    max_wajib_arrears_months = IntegerField(
        _l("Tunggakan wajib maksimum untuk hak suara (bulan)"), validators=[InputRequired()]
    )
    notice_period_days = IntegerField(
        _l("Pemberitahuan rapat (hari)"), validators=[InputRequired()]
    )
    rat_deadline_months = IntegerField(
        _l("Batas RAT (bulan setelah tutup buku)"), validators=[InputRequired()]
    )
    rat_warning_months = IntegerField(_l("Peringatan RAT (bulan)"), validators=[InputRequired()])
    distribution_date = StringField(
        _l("Tanggal pembagian SHU (BB-HH)"), validators=[DataRequired(), Length(max=5)]
    )
    require_certified_officers = BooleanField(_l("Pengurus/pengawas wajib bersertifikat"))
    certificate_warning_days = IntegerField(
        _l("Peringatan sertifikat (hari sebelum habis)"), validators=[InputRequired()]
    )
    officer_term_max_years = IntegerField(
        _l("Masa jabatan maksimum (tahun)"), validators=[InputRequired()]
    )
    reason = TextAreaField(
        _l("Alasan perubahan (mis. keputusan RAT tanggal ...)"),
        validators=[Optional(), Length(max=2000)],
    )
    base_version = HiddenField()
    confirm = HiddenField()
