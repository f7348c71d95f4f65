"""Forms of the SIMULASI checkout page and the treasurer's review list (CSRF on each)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length

#: Buttons of the SIMULASI page: outcome -> label (the fake gateway's transaction_status).
SIMULATE_CHOICES = {
    "settlement": _l("Bayar"),
    "pending": _l("Pending"),
    "expire": _l("Kedaluwarsa"),
    "deny": _l("Tolak"),
}


class SimulateForm(FlaskForm):
    """The pressed button's ``name="outcome"`` value is the simulated status."""

    outcome = StringField(validators=[DataRequired(), AnyOf(list(SIMULATE_CHOICES))])


class ReviewForm(FlaskForm):
    note = TextAreaField(
        _l("Catatan tinjauan"),
        validators=[
            DataRequired(message=_l("Catatan tinjauan wajib diisi.")),
            Length(max=1000),
        ],
    )
