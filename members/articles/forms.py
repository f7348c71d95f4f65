"""The AD editor's form: groups, savings amounts, vote and SHU weights, allocation, ratios."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from members.ad.config import CAPITAL_BASES, EXITED_MEMBER_OPTIONS, MEMBER_KINDS, PATRONAGE_MEASURES


def _choices(values, labels=None):
    return [SelectChoice(v, (labels or {}).get(v, v)) for v in values]


class _PatronageLabel:
    """The measure's words, in the page's language when the form is rendered."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __str__(self) -> str:
        from kmp.labels import code_label

        return code_label(self.code)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


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
    patronage_measure = SelectField(
        _l("Ukuran jasa usaha"),
        choices=[SelectChoice(v, _PatronageLabel(v)) for v in PATRONAGE_MEASURES],
    )
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


#: The offices of the competence rule, as the AD editor names them.
COMPETENCE_LABELS = {
    "pengurus": _l("Pengurus"),
    "pengawas": _l("Pengawas"),
    "manager": _l("Pengelola (manajer)"),
    "loan_officer": _l("Petugas kredit"),
}


class CompetenceRuleSubForm(Form):
    role = HiddenField()
    schemes = StringField(
        _l("Skema sertifikat yang diakui (pisahkan dengan ;)"),
        validators=[Optional(), Length(max=2000)],
    )
    grace_days = IntegerField(
        _l("Masa tenggang setelah habis (hari)"), validators=[InputRequired()]
    )


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
            {
                "year_end": _l("saldo akhir tahun"),
                "average_month_end": _l("rata-rata saldo akhir bulan"),
            },
        ),
    )
    exited_members = SelectField(
        _l("Anggota yang keluar di tengah tahun"),
        choices=_choices(
            EXITED_MEMBER_OPTIONS,
            {
                "prorate": _l("dapat SHU sebanding bulan keanggotaan"),
                "exclude": _l("tidak dapat SHU"),
            },
        ),
    )
    leavers_get_jasa_modal = BooleanField(
        _l("Anggota yang keluar di tengah tahun mendapat jasa modal (sebanding bulan)")
    )
    leavers_get_jasa_usaha = BooleanField(
        _l("Anggota yang keluar di tengah tahun mendapat jasa usaha (transaksinya tahun itu)")
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
    pengawas_decide_without_bendahara = BooleanField(
        _l(
            "Pengawas boleh memutuskan penarikan/setoran bila satu-satunya bendahara adalah "
            "yang berkepentingan (bawaan: hanya pengurus lain)"
        )
    )
    loan_shu_setoff = BooleanField(
        _l("SHU yang masuk sukarela lebih dulu melunasi angsuran pinjaman yang menunggak")
    )
    loan_interest_is_patronage = BooleanField(
        _l("Bunga pinjaman yang dibayar anggota dihitung sebagai jasa usaha SHU")
    )
    certificate_warning_days = IntegerField(
        _l("Peringatan sertifikat (hari sebelum habis)"), validators=[InputRequired()]
    )
    officer_term_max_years = IntegerField(
        _l("Masa jabatan maksimum (tahun)"), validators=[InputRequired()]
    )
    backdate_days = IntegerField(
        _l("Tanggal bayar/remitansi paling lama mundur (hari)"), validators=[InputRequired()]
    )
    max_remittance_per_worker_month_idr = IntegerField(
        _l("Remitansi maksimum per pengemudi per bulan (Rp)"), validators=[InputRequired()]
    )
    competence_rules = FieldList(FormField(CompetenceRuleSubForm), min_entries=0)
    reason = TextAreaField(
        _l("Alasan perubahan (mis. keputusan RAT tanggal ...)"),
        validators=[Optional(), Length(max=2000)],
    )
    base_version = HiddenField()
    confirm = HiddenField()
