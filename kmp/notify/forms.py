"""The recipient's message settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

CHANNEL_CHOICES = [
    SelectChoice("", _l("Otomatis (WhatsApp, atau email bila ada)")),
    SelectChoice("whatsapp", _l("WhatsApp")),
    SelectChoice("sms", _l("SMS")),
    SelectChoice("email", _l("Email")),
]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PreferencesForm(FlaskForm):
    channel = RadioField(_l("Kirim pesan lewat"), choices=CHANNEL_CHOICES, default="")
    receive = MultiCheckboxField(_l("Pesan yang ingin saya terima"), choices=[])
