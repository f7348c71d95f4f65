"""The board's training pages: the catalogue, each programme's roster (attendance,
completion, certificates), certificates and their verification, the expiry watch list, the
education fund, reports and the BLK export.

Everyone on the board reads (the pengawas read-only); pengurus and bendahara organise
programmes, record attendance, completion, certificates and fund payments; a pengurus other
than the one who recorded a certificate verifies it; a second board member approves a fund
payment.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import BOARD_ROLES, Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.forms import ConfirmForm
from kmp.ledger.books.approval import STATE_LABELS
from kmp.ledger.web import new_request_key
from kmp.timeutil import business_date
from members.ad.services import current_ad
from members.register.web import _apply_error
from members.training import fund, queries, reports, services
from members.training.competence import find_holder
from members.training.forms import (
    SCAN_LABEL,
    AttendanceForm,
    CertificateForm,
    CompletionForm,
    DecisionForm,
    FundPaymentForm,
    ProgrammeForm,
    ReverseForm,
)
from members.training.jobs import warning_thresholds
from members.training.models import Certificate, Enrolment, FundPayment, Programme
from members.training.views import LABELS, _programme_or_404, bp

ORGANISERS = (Role.PENGURUS, Role.BENDAHARA)


def _can_organise() -> bool:
    return current_user.has_role(*ORGANISERS)


def _upload(field) -> tuple[bytes, str | None] | None:
    upload = field.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    return upload.read(), upload.filename


# =========================================================================== the catalogue


@bp.get("/pengurus/pelatihan")
@role_required(*BOARD_ROLES)
def programmes():
    return render_template(
        "members/training/programmes.html",
        programmes=queries.catalogue(),
        can_organise=_can_organise(),
        pending=queries.pending_certificate_count(),
        **LABELS,
    )


def _programme_form(form: ProgrammeForm) -> ProgrammeForm:
    form.target_groups.choices = [(g.code, g.name_id) for g in current_ad().active_groups]
    return form


def _programme_input(form: ProgrammeForm) -> services.ProgrammeInput:
    return services.ProgrammeInput(
        title=form.title.data,
        kind=form.kind.data,
        provider=form.provider.data,
        starts_on=form.starts_on.data,
        ends_on=form.ends_on.data,
        seats=form.seats.data,
        payer=form.payer.data,
        cost_idr=form.cost_idr,
        place=form.place.data,
        is_online=form.is_online.data,
        skkni_ref=form.skkni_ref.data,
        scheme=form.scheme.data,
        sponsor=form.sponsor.data,
        target_groups=list(form.target_groups.data or []),
        target_roles=list(form.target_roles.data or []),
        description=form.description.data,
    )


def _save_programme(form: ProgrammeForm, item: Programme | None):
    template = "members/training/programme_form.html"
    if not form.validate_on_submit():
        return render_template(template, form=form, programme=item), 422
    try:
        if item is None:
            item = services.create_programme(_programme_input(form), by_user=current_user)
        else:
            services.update_programme(item, _programme_input(form), by_user=current_user)
    except DomainError as error:
        _apply_error(form, error)
        return render_template(template, form=form, programme=item), 422
    db.session.commit()
    flash(_("Program disimpan."), "success")
    return redirect(url_for("training.programme_detail", programme_id=item.id)), 303


@bp.route("/pengurus/pelatihan/baru", methods=["GET", "POST"])
@role_required(*ORGANISERS)
def programme_new():
    form = _programme_form(ProgrammeForm())
    if request.method == "GET":
        return render_template("members/training/programme_form.html", form=form, programme=None)
    return _save_programme(form, None)


@bp.route("/pengurus/pelatihan/<int:programme_id>/ubah", methods=["GET", "POST"])
@role_required(*ORGANISERS)
def programme_edit(programme_id: int):
    item = _programme_or_404(programme_id)
    if request.method == "GET":
        form = _programme_form(ProgrammeForm(obj=item))
        form.cost.data = str(item.cost_idr)
        return render_template("members/training/programme_form.html", form=form, programme=item)
    return _save_programme(_programme_form(ProgrammeForm()), item)


@bp.get("/pengurus/pelatihan/<int:programme_id>")
@role_required(*BOARD_ROLES)
def programme_detail(programme_id: int):
    item = _programme_or_404(programme_id)
    today = business_date()
    day = min(max(today, item.starts_on), item.ends_on)
    try:
        day = dt.date.fromisoformat(request.args["hari"]) if "hari" in request.args else day
    except ValueError:
        abort(400)
    return render_template(
        "members/training/programme_detail.html",
        programme=item,
        rows=queries.roster(item, day),
        day=day,
        attendance_form=AttendanceForm(data={"day": day}),
        completion_form=CompletionForm(),
        confirm=ConfirmForm(),
        can_organise=_can_organise(),
        started=item.starts_on <= today,
        **LABELS,
    )


@bp.post("/pengurus/pelatihan/<int:programme_id>/pendaftaran")
@role_required(*ORGANISERS)
def programme_toggle(programme_id: int):
    item = _programme_or_404(programme_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.set_enrolment_open(item, not item.is_open)
    db.session.commit()
    flash(_("Pendaftaran dibuka.") if item.is_open else _("Pendaftaran ditutup."), "success")
    return redirect(url_for("training.programme_detail", programme_id=item.id)), 303


@bp.post("/pengurus/pelatihan/<int:programme_id>/hadir")
@role_required(*ORGANISERS)
def attendance(programme_id: int):
    item = _programme_or_404(programme_id)
    form = AttendanceForm()
    if not form.validate_on_submit():
        flash(_("Pilih tanggal kehadiran."), "error")
        return redirect(url_for("training.programme_detail", programme_id=item.id)), 303
    try:
        present = {int(v) for v in request.form.getlist("present")}
    except ValueError:
        abort(400)
    try:
        count = services.record_attendance(item, form.day.data, present, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(
            _(
                "Kehadiran %(d)s dicatat: %(n)s hadir.",
                d=form.day.data.strftime("%d-%m-%Y"),
                n=count,
            ),
            "success",
        )
    return redirect(
        url_for("training.programme_detail", programme_id=item.id, hari=form.day.data.isoformat())
    ), 303


def _enrolment_or_404(enrolment_id: int) -> Enrolment:
    return db.session.get(Enrolment, enrolment_id) or abort(404)


@bp.post("/pengurus/pelatihan/peserta/<int:enrolment_id>/hasil")
@role_required(*ORGANISERS)
def completion(enrolment_id: int):
    enrolment = _enrolment_or_404(enrolment_id)
    form = CompletionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.record_completion(
            enrolment,
            completed=form.result.data == "completed",
            by_user=current_user,
            note=form.note.data,
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Hasil %(n)s dicatat.", n=enrolment.member.display_name), "success")
    return redirect(url_for("training.programme_detail", programme_id=enrolment.programme_id)), 303


@bp.post("/pengurus/pelatihan/peserta/<int:enrolment_id>/batal")
@role_required(*ORGANISERS)
def remove_enrolment(enrolment_id: int):
    enrolment = _enrolment_or_404(enrolment_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.cancel_enrolment(enrolment, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Peserta dikeluarkan; kursinya diberikan ke daftar tunggu."), "success")
    return redirect(url_for("training.programme_detail", programme_id=enrolment.programme_id)), 303


# =========================================================================== certificates


def _certificate_input(form: CertificateForm) -> services.CertificateInput:
    return services.CertificateInput(
        scheme=form.scheme.data,
        issuer=form.issuer.data,
        number=form.number.data,
        issued_on=form.issued_on.data,
        expires_on=form.expires_on.data,
        skkni_ref=form.skkni_ref.data,
    )


def _certificate_page(form, enrolment=None, status=200):
    return render_template(
        "members/training/certificate_form.html",
        form=form,
        enrolment=enrolment,
        scan_label=SCAN_LABEL,
    ), status


@bp.route("/pengurus/pelatihan/peserta/<int:enrolment_id>/sertifikat", methods=["GET", "POST"])
@role_required(*ORGANISERS)
def enrolment_certificate(enrolment_id: int):
    """The organiser records the certificate a participant earned in the programme."""
    enrolment = _enrolment_or_404(enrolment_id)
    item = enrolment.programme
    if request.method == "GET":
        form = CertificateForm(
            data={
                "scheme": item.scheme or item.title,
                "skkni_ref": item.skkni_ref,
                "issuer": item.provider,
                "issued_on": min(item.ends_on, business_date()),
            }
        )
        return _certificate_page(form, enrolment)
    form = CertificateForm()
    if not form.validate_on_submit():
        return _certificate_page(form, enrolment, 422)
    try:
        services.record_certificate(
            enrolment.member,
            _certificate_input(form),
            by_user=current_user,
            enrolment=enrolment,
            scan_upload=_upload(form.scan),
        )
    except DomainError as error:
        _apply_error(form, error)
        return _certificate_page(form, enrolment, error.status if error.status < 500 else 422)
    db.session.commit()
    flash(_("Sertifikat dicatat; menunggu verifikasi pengurus lain."), "success")
    return redirect(url_for("training.programme_detail", programme_id=item.id)), 303


@bp.route("/pengurus/sertifikat/baru", methods=["GET", "POST"])
@role_required(*ORGANISERS)
def certificate_new():
    """A certificate brought by a member or an officer (not from a programme here)."""
    if request.method == "GET":
        return _certificate_page(CertificateForm())
    form = CertificateForm()
    if not form.validate_on_submit():
        return _certificate_page(form, status=422)
    try:
        certificate = services.record_certificate(
            find_holder(form.holder.data),
            _certificate_input(form),
            by_user=current_user,
            scan_upload=_upload(form.scan),
        )
    except DomainError as error:
        _apply_error(form, error)
        return _certificate_page(form, status=error.status if error.status < 500 else 422)
    db.session.commit()
    flash(_("Sertifikat dicatat; menunggu verifikasi pengurus lain."), "success")
    return redirect(url_for("training.certificate_detail", certificate_id=certificate.id)), 303


@bp.get("/pengurus/sertifikat")
@role_required(*BOARD_ROLES)
def certificates():
    ad = current_ad()
    days = max(warning_thresholds() or (ad.certificate_warning_days,))
    return render_template(
        "members/training/certificates.html",
        pending=queries.pending_certificates(),
        watch=queries.expiry_watch(days=days),
        thresholds=warning_thresholds(),
        recent=queries.recent_certificates(),
        can_organise=_can_organise(),
        **LABELS,
    )


def _certificate_or_404(certificate_id: int) -> Certificate:
    return db.session.get(Certificate, certificate_id) or abort(404)


@bp.get("/pengurus/sertifikat/<int:certificate_id>")
@role_required(*BOARD_ROLES)
def certificate_detail(certificate_id: int):
    certificate = _certificate_or_404(certificate_id)
    return render_template(
        "members/training/certificate_detail.html",
        certificate=certificate,
        form=DecisionForm(),
        can_verify=current_user.has_role(Role.PENGURUS)
        and current_user.id != certificate.created_by_id,
        **LABELS,
    )


@bp.post("/pengurus/sertifikat/<int:certificate_id>/putuskan")
@role_required(Role.PENGURUS)
def certificate_decide(certificate_id: int):
    certificate = _certificate_or_404(certificate_id)
    form = DecisionForm()
    if not form.validate_on_submit() or form.action.data not in ("verify", "reject"):
        abort(400)
    try:
        if form.action.data == "verify":
            services.verify_certificate(certificate, by_user=current_user, note=form.note.data)
        else:
            services.reject_certificate(certificate, by_user=current_user, note=form.note.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("training.certificate_detail", certificate_id=certificate_id)), 303
    db.session.commit()
    flash(
        _("Sertifikat diverifikasi.") if form.action.data == "verify" else _("Sertifikat ditolak."),
        "success",
    )
    return redirect(url_for("training.certificate_detail", certificate_id=certificate_id)), 303


# =========================================================================== the fund


def _fund_form(form: FundPaymentForm | None = None) -> FundPaymentForm:
    form = form or FundPaymentForm()
    form.programme.choices = [(p.id, p.title) for p in queries.catalogue()]
    form.money_account.choices = [(a.id, f"{a.name} ({a.code})") for a in fund.money_accounts()]
    if request.method == "GET":
        form.request_key.data = new_request_key()
        form.paid_on.data = business_date()
    return form


def _fund_page(form=None, status: int = 200):
    year = business_date().year
    return render_template(
        "members/training/fund.html",
        summary=fund.education_fund_summary(year),
        balance=fund.fund_balance_idr(),
        payments=fund.fund_payments(),
        form=_fund_form(form),
        decision=DecisionForm(),
        reverse_form=ReverseForm(),
        can_organise=_can_organise(),
        state_labels=STATE_LABELS,
        **LABELS,
    ), status


@bp.get("/pengurus/dana-pendidikan")
@role_required(*BOARD_ROLES)
def fund_page():
    return _fund_page()


@bp.post("/pengurus/dana-pendidikan")
@role_required(*ORGANISERS)
def fund_pay():
    form = _fund_form()
    if not form.validate_on_submit():
        return _fund_page(form, 422)
    item = db.session.get(Programme, form.programme.data)
    if item is None:
        form.programme.errors = [_("Pilih program yang dibayar.")]
        return _fund_page(form, 422)
    try:
        fund.record_fund_payment(
            item,
            amount_idr=form.amount_idr,
            paid_on=form.paid_on.data,
            money_account_id=form.money_account.data,
            counterparty=form.counterparty.data,
            description=form.description.data,
            reference=form.reference.data,
            by_user=current_user,
            request_key=form.request_key.data or None,
        )
    except DomainError as error:
        _apply_error(form, error)
        return _fund_page(form, 422)
    db.session.commit()
    flash(_("Pembayaran dicatat; menunggu persetujuan anggota pengurus kedua."), "success")
    return redirect(url_for("training.fund_page")), 303


def _payment_or_404(payment_id: int) -> FundPayment:
    return db.session.get(FundPayment, payment_id) or abort(404)


@bp.post("/pengurus/dana-pendidikan/<int:payment_id>/putuskan")
@role_required(*ORGANISERS)
def fund_decide(payment_id: int):
    payment = _payment_or_404(payment_id)
    form = DecisionForm()
    if not form.validate_on_submit() or form.action.data not in ("approve", "reject"):
        abort(400)
    try:
        if form.action.data == "approve":
            fund.approve_fund_payment(payment, by_user=current_user, note=form.note.data)
        else:
            fund.reject_fund_payment(payment, by_user=current_user, note=form.note.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("training.fund_page")), 303
    db.session.commit()
    flash(
        _("Pembayaran dibukukan dari dana pendidikan.")
        if form.action.data == "approve"
        else _("Pembayaran ditolak."),
        "success",
    )
    return redirect(url_for("training.fund_page")), 303


@bp.post("/pengurus/dana-pendidikan/<int:payment_id>/batalkan")
@role_required(*ORGANISERS)
def fund_reverse(payment_id: int):
    payment = _payment_or_404(payment_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        flash(_("Alasan pembatalan wajib diisi."), "error")
        return redirect(url_for("training.fund_page")), 303
    try:
        fund.reverse_fund_payment(payment, by_user=current_user, reason=form.reason.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("training.fund_page")), 303
    db.session.commit()
    flash(_("Pembayaran dibatalkan dengan entri pembalik."), "success")
    return redirect(url_for("training.fund_page")), 303


# =========================================================================== reports


def _year_arg() -> int:
    try:
        year = int(request.args.get("tahun") or business_date().year)
    except ValueError:
        abort(400)
    if not 2000 <= year <= 2100:
        abort(400)
    return year


@bp.get("/pengurus/pelatihan/laporan")
@role_required(*BOARD_ROLES)
def report():
    year = _year_arg()
    return render_template(
        "members/training/report.html",
        year=year,
        groups=reports.members_per_group(),
        office_rows=reports.officers_per_role(),
        programmes=reports.programmes_run(year),
        summary=fund.education_fund_summary(year),
        can_export=_can_organise(),
        **LABELS,
    )


@bp.get("/pengurus/pelatihan/ekspor-blk")
@role_required(*ORGANISERS)
def blk_export():
    """The BLK data exchange (NIK in full: pengurus and bendahara only)."""
    from kmp.exports import send_export

    year = _year_arg()
    return send_export(
        reports.blk_rows(year),
        reports.BLK_HEADERS,
        f"pelatihan-blk-{year}",
        request.args.get("format") or "csv",
        sheet_title="peserta",
    )
