"""Application forms (individual, company), decisions, profile and NIK corrections."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional


def _platform_choices(blank: str):
    from members.register.services import PLATFORMS

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


class DecisionForm(FlaskForm):
    action = SelectField(
        _l("Keputusan"),
        choices=[SelectChoice("approve", _l("Setujui")), SelectChoice("reject", _l("Tolak"))],
    )
    reason = TextAreaField(_l("Alasan penolakan"), validators=[Optional(), Length(max=1000)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Alasan"), validators=[Optional(), Length(max=1000)])


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
