"""The board's announcement pages: write, preview (text and recipient count), send."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from kmp.audit import record_event
from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.notify import campaign_counts
from members.ad.services import current_ad
from members.announcements import services

bp = Blueprint("announcements", __name__)
READERS = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
SENDERS = (Role.PENGURUS, Role.BENDAHARA)


class AnnouncementForm(FlaskForm):
    group_code = SelectField(_l("Penerima"), validators=[Optional()])
    subject = StringField(_l("Judul"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(
        _l("Isi pesan"), validators=[DataRequired(), Length(max=services.MAX_BODY)]
    )
    token = HiddenField()

    def fill(self) -> AnnouncementForm:
        groups = current_ad().active_groups
        self.group_code.choices = [SelectChoice("", _l("Semua anggota aktif"))] + [
            SelectChoice(g.code, g.name_id) for g in groups
        ]
        return self


def _page(form, status=200, preview=None):
    rows = [(a, campaign_counts(a.campaign)) for a in services.recent_announcements()]
    return render_template(
        "members/announcements/index.html",
        form=form,
        preview=preview,
        rows=rows,
        can_send=current_user.has_role(*SENDERS),
    ), status


@bp.get("/pengurus/pengumuman")
@role_required(*READERS)
def announcements():
    return _page(AnnouncementForm().fill())


def _fail(form, error: DomainError):
    db.session.rollback()
    target = getattr(form, error.field or "", None) or form.body
    target.errors = [*target.errors, error.message]
    return _page(form, error.status)


@bp.post("/pengurus/pengumuman/pratinjau")
@role_required(*SENDERS)
def announcement_preview():
    form = AnnouncementForm().fill()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        preview = services.preview_announcement(
            form.subject.data, form.body.data, form.group_code.data
        )
    except DomainError as error:
        return _fail(form, error)
    form.token.data = preview.token
    return _page(form, preview=preview)


@bp.post("/pengurus/pengumuman/kirim")
@role_required(*SENDERS)
def announcement_send():
    form = AnnouncementForm().fill()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        sent = services.send_announcement(
            form.subject.data,
            form.body.data,
            form.group_code.data,
            form.token.data,
            current_user,
        )
        record_event("members.announcement_sent", f"announcements:{sent.id}", after=sent.subject)
        db.session.commit()
    except DomainError as error:
        return _fail(form, error)
    flash(_("Pengumuman diantrekan untuk %(n)s anggota.", n=sent.recipients), "success")
    return redirect(url_for("announcements.announcements"), 303)
