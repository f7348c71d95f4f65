"""Governance forms (Flask-WTF, CSRF on every POST). Times are typed in Jakarta time."""

from __future__ import annotations

import datetime as dt

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from governance.models import MeetingKind, MeetingMode, Office, ProposalKind
from kmp.timeutil import JAKARTA


def _lazy_label(code) -> LazyString:
    """A code's label, translated when the form is rendered (not when this module loads)."""
    return LazyString(lambda: code.label)


DT_FORMAT = "%Y-%m-%dT%H:%M"


def to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A naive ``datetime-local`` value, read as Jakarta time -> an aware UTC instant."""
    if value is None:
        return None
    return value.replace(tzinfo=JAKARTA).astimezone(dt.UTC)


def to_local_input(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(JAKARTA).replace(tzinfo=None)


class MeetingForm(FlaskForm):
    kind = SelectField(
        _l("Jenis rapat"),
        choices=[SelectChoice(k.value, _lazy_label(k)) for k in MeetingKind],
        validators=[DataRequired()],
    )
    title = StringField(_l("Judul"), validators=[DataRequired(), Length(max=200)])
    agenda = TextAreaField(_l("Acara rapat"), validators=[Optional(), Length(max=5000)])
    starts_at = DateTimeLocalField(_l("Mulai (WIB)"), format=DT_FORMAT, validators=[DataRequired()])
    mode = SelectField(
        _l("Cara rapat"),
        choices=[SelectChoice(m.value, _lazy_label(m)) for m in MeetingMode],
        validators=[DataRequired()],
    )
    location = StringField(_l("Tempat"), validators=[Optional(), Length(max=300)])
    online_url = StringField(_l("Tautan rapat daring"), validators=[Optional(), Length(max=500)])
    fiscal_year = IntegerField(
        _l("Tahun buku (untuk RAT)"), validators=[Optional(), NumberRange(2000, 2100)]
    )
    group_code = SelectField(_l("Kelompok (untuk RA Kelompok)"), validate_choice=False)

    def validate_starts_at(self, field):
        """A meeting is called for a time still ahead (a date in 2020 was accepted)."""
        from wtforms.validators import ValidationError

        from kmp.timeutil import now_utc

        if field.data is not None:
            now = now_utc().astimezone(JAKARTA).replace(tzinfo=None)
            if field.data <= now:
                raise ValidationError(
                    _l("Waktu rapat sudah lewat: pilih tanggal dan jam yang akan datang.")
                )

    def set_groups(self, groups) -> None:
        self.group_code.choices = [SelectChoice("", _l("—"))] + [
            SelectChoice(g.code, g.name_id) for g in groups
        ]


class ProposalForm(FlaskForm):
    kind = SelectField(
        _l("Jenis usulan"),
        choices=[SelectChoice(k.value, _lazy_label(k)) for k in ProposalKind],
        validators=[DataRequired()],
    )
    title = StringField(_l("Judul"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Isi usulan"), validators=[Optional(), Length(max=20000)])
    meeting_id = SelectField(_l("Rapat"), validate_choice=False)
    opens_at = DateTimeLocalField(
        _l("Pemungutan dibuka (WIB)"), format=DT_FORMAT, validators=[DataRequired()]
    )
    closes_at = DateTimeLocalField(
        _l("Pemungutan ditutup (WIB)"), format=DT_FORMAT, validators=[DataRequired()]
    )
    secret = BooleanField(_l("Suara rahasia (bukan suara terbuka)"), default=True)
    allow_change = BooleanField(_l("Pemilih boleh mengubah suara sampai ditutup"))
    #: What the proposal decides on (an SHU allocation: the distribution run), chosen from a
    #: list (``set_references``), never typed as a code.
    reference = SelectField(
        _l("Pembagian SHU yang diputuskan"),
        validate_choice=False,
        validators=[Optional(), Length(max=80)],
    )
    seats = IntegerField(
        _l("Jumlah kursi (pemilihan)"), validators=[Optional(), NumberRange(1, 50)]
    )
    office = SelectField(
        _l("Badan yang dipilih"),
        choices=[
            SelectChoice("", "—"),
            SelectChoice(Office.PENGURUS.value, _l("Pengurus")),
            SelectChoice(Office.PENGAWAS.value, _l("Pengawas")),
        ],
        validators=[Optional()],
    )
    term_start = DateField(_l("Awal masa jabatan"), validators=[Optional()])
    term_end = DateField(_l("Akhir masa jabatan"), validators=[Optional()])
    nominations_close_at = DateTimeLocalField(
        _l("Pencalonan ditutup (WIB)"), format=DT_FORMAT, validators=[Optional()]
    )

    def set_references(self, references) -> None:
        self.reference.choices = [SelectChoice("", _l("— tidak ada —"))] + [
            SelectChoice(value, label) for value, label in references
        ]

    def set_meetings(self, meetings) -> None:
        self.meeting_id.choices = [SelectChoice("", _l("Tanpa rapat"))] + [
            SelectChoice(str(m.id), f"{m.title} ({m.kind.label})") for m in meetings
        ]


class CheckInForm(FlaskForm):
    member_no = StringField(
        _l("Nomor anggota (ketik atau pindai QR kartu anggota)"),
        validators=[DataRequired(), Length(max=60)],
    )


class MinutesForm(FlaskForm):
    text = TextAreaField(_l("Notulen"), validators=[Optional(), Length(max=100000)])


class AttachmentForm(FlaskForm):
    file = FileField(
        _l("Lampiran (PDF, PNG atau JPG, paling besar 4 MB)"), validators=[FileRequired()]
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Alasan"),
        validators=[DataRequired(message=_l("Alasan wajib diisi.")), Length(min=3, max=500)],
    )


class NominationForm(FlaskForm):
    member_no = StringField(_l("Nomor anggota calon"), validators=[DataRequired(), Length(max=60)])
    statement = TextAreaField(
        _l("Visi singkat (boleh kosong)"), validators=[Optional(), Length(max=2000)]
    )
