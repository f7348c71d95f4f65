"""Forms of the closing pages: month close, budget."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class CloseMonthForm(FlaskForm):
    month = SelectField(_l("Tutup sampai dengan bulan"), validators=[DataRequired()])
    note = StringField(_l("Catatan"), validators=[Optional(), Length(max=300)])

    def set_months(self, months: list[tuple[str, str]]) -> None:
        self.month.choices = [SelectChoice(value, label) for value, label in months]


class BudgetImportForm(FlaskForm):
    file = FileField(_l("Berkas XLSX rencana"), validators=[FileRequired(_l("Pilih berkas."))])
