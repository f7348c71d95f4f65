"""The board's officers and certification pages (certificates are recorded and verified on
the training pages, ``members.training``)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from members.ad import services as ad_services
from members.officers import queries as officers_queries
from members.officers import services as officers_services
from members.officers.forms import EndTermForm, OfficerForm
from members.officers.models import Officer
from members.register.web import BOARD, MANAGERS, _apply_error
from members.training.competence import find_holder

bp = Blueprint("officers", __name__)


def _officer_page(officer_form=None, status=200):
    ad = ad_services.current_ad()
    return render_template(
        "members/officers.html",
        officers=officers_queries.all_officers(),
        current_ids={o.id for o in officers_queries.current_officers()},
        watch=officers_queries.certification_watchlist(days=ad.certificate_warning_days),
        officer_form=officer_form or OfficerForm(prefix="officer"),
        can_manage=current_user.has_role(*MANAGERS),
        ad=ad,
    ), status


@bp.get("/pengurus/jabatan")
@role_required(*BOARD)
def officers():
    return _officer_page()


@bp.post("/pengurus/jabatan")
@role_required(*MANAGERS)
def officer_add():
    form = OfficerForm(prefix="officer")
    if not form.validate_on_submit():
        return _officer_page(officer_form=form, status=422)
    try:
        officers_services.appoint_officer(
            find_holder(form.holder.data),
            body=form.body.data,
            function=form.function.data,
            term_start=form.term_start.data,
            term_end=form.term_end.data,
            by_user=current_user,
        )
    except DomainError as error:
        _apply_error(form, error)
        return _officer_page(officer_form=form, status=422)
    db.session.commit()
    flash(_("Jabatan dicatat."), "success")
    return redirect(url_for("officers.officers")), 303


@bp.post("/pengurus/jabatan/<int:officer_id>/akhiri")
@role_required(*MANAGERS)
def officer_end(officer_id: int):
    """End a term early: the login loses the office's roles from that day."""
    officer = db.session.get(Officer, officer_id) or abort(404)
    form = EndTermForm()
    if not form.validate_on_submit():
        flash(_("Isi tanggal berakhirnya masa jabatan."), "error")
        return redirect(url_for("officers.officers")), 303
    try:
        officers_services.end_officer_term(officer, form.ended_on.data, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("officers.officers")), 303
    db.session.commit()
    flash(_("Masa jabatan %(name)s diakhiri.", name=officer.holder_name), "success")
    return redirect(url_for("officers.officers")), 303


@bp.get("/pengurus/sertifikasi")
@role_required(*BOARD)
def certification():
    ad = ad_services.current_ad()
    return render_template(
        "members/certification.html",
        watch=officers_queries.certification_watchlist(days=ad.certificate_warning_days),
        ad=ad,
    )
