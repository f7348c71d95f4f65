"""Forms of the RAT book pages (Flask-WTF: CSRF on every form)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional


class RatTextForm(FlaskForm):
    body = TextAreaField(
        _l("Isi laporan (pisahkan paragraf dengan baris kosong)"),
        validators=[Optional(), Length(max=50_000, message=_l("Laporan terlalu panjang."))],
        render_kw={"rows": 18},
    )


class CoopProfileForm(FlaskForm):
    name = StringField(
        _l("Nama koperasi"),
        validators=[DataRequired(_l("Isi nama koperasi.")), Length(3, 200)],
    )
    legal_number = StringField(
        _l("Nomor badan hukum (SK AHU)"), validators=[Optional(), Length(max=100)]
    )
    legal_date = DateField(
        _l("Tanggal badan hukum"),
        validators=[Optional()],
    )
    nik_koperasi = StringField(
        _l("Nomor Induk Koperasi (NIK)"), validators=[Optional(), Length(max=30)]
    )
    nib = StringField(_l("NIB (13 angka)"), validators=[Optional(), Length(max=13)])
    npwp = StringField(_l("NPWP koperasi"), validators=[Optional(), Length(max=16)])
    address = TextAreaField(_l("Alamat kantor"), validators=[Optional(), Length(max=1000)])
    village = StringField(_l("Desa/kelurahan"), validators=[Optional(), Length(max=100)])
    district = StringField(_l("Kecamatan"), validators=[Optional(), Length(max=100)])
    regency = StringField(_l("Kabupaten/kota"), validators=[Optional(), Length(max=100)])
    province = StringField(_l("Provinsi"), validators=[Optional(), Length(max=100)])
    phone = StringField(_l("Telepon"), validators=[Optional(), Length(max=30)])
    email = StringField(
        _l("Email"),
        validators=[Optional(), Email(_l("Alamat email tidak sah.")), Length(max=254)],
    )
    business_field = StringField(_l("Bidang usaha"), validators=[Optional(), Length(max=200)])
    employees = IntegerField(
        _l("Jumlah karyawan"),
        validators=[Optional(), NumberRange(0, 100_000, _l("Jumlah karyawan tidak masuk akal."))],
    )

    FIELDS = (
        "name",
        "legal_number",
        "legal_date",
        "nik_koperasi",
        "nib",
        "npwp",
        "address",
        "village",
        "district",
        "regency",
        "province",
        "phone",
        "email",
        "business_field",
        "employees",
    )

    def values(self) -> dict:
        return {key: getattr(self, key).data for key in self.FIELDS}
