"""The board's officers and certification pages."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from members.ad import services as ad_services
from members.officers import queries as officers_queries
from members.officers import services as officers_services
from members.officers.forms import CertificateForm, EndTermForm, OfficerForm
from members.officers.models import Certificate, Officer
from members.register import queries as register_queries
from members.register.models import Member
from members.register.web import BOARD, MANAGERS, _apply_error

bp = Blueprint("officers", __name__)


def _find_holder(text: str):
    from kmp.auth import User

    text = (text or "").strip()
    if "@" in text:
        user = db.session.scalar(select(User).where(User.email == text.lower()))
        if user is not None:
            member = db.session.scalar(select(Member).where(Member.user_id == user.id))
            return member or user
    else:
        member = register_queries.member_by_no(text)
        if member is not None:
            return member
    raise DomainError(
        _("Tidak ada anggota dengan nomor itu atau login dengan email itu."), field="holder"
    )


def _officer_page(officer_form=None, certificate_form=None, status=200):
    ad = ad_services.current_ad()
    return render_template(
        "members/officers.html",
        officers=officers_queries.all_officers(),
        current_ids={o.id for o in officers_queries.current_officers()},
        watch=officers_queries.certification_watchlist(days=ad.certificate_warning_days),
        officer_form=officer_form or OfficerForm(prefix="officer"),
        certificate_form=certificate_form or CertificateForm(prefix="cert"),
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
            _find_holder(form.holder.data),
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


@bp.post("/pengurus/jabatan/sertifikat")
@role_required(*MANAGERS)
def certificate_add():
    form = CertificateForm(prefix="cert")
    if not form.validate_on_submit():
        return _officer_page(certificate_form=form, status=422)
    upload = form.file.data
    data = upload.read() if upload and getattr(upload, "filename", "") else None
    try:
        officers_services.add_certificate(
            _find_holder(form.holder.data),
            scheme=form.scheme.data,
            lsp_bnsp_number=form.lsp_bnsp_number.data,
            issued_on=form.issued_on.data,
            expires_on=form.expires_on.data,
            by_user=current_user,
            file_name=re.sub(r"[^A-Za-z0-9._-]+", "_", upload.filename)[:200] if data else None,
            file_type=upload.mimetype if data else None,
            file_data=data,
        )
    except DomainError as error:
        _apply_error(form, error)
        return _officer_page(certificate_form=form, status=422)
    db.session.commit()
    flash(_("Sertifikat dicatat."), "success")
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


@bp.get("/pengurus/sertifikat/<int:certificate_id>/berkas")
@role_required(*BOARD)
def certificate_file(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id) or abort(404)
    if not certificate.file_data:
        abort(404)
    response = Response(certificate.file_data, mimetype=certificate.file_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{certificate.file_name}"'
    return response
