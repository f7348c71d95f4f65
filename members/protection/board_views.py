"""The board's social-protection pages: requests to confirm, participants and their BPJS
numbers, cash for the bill, remittances to BPJS, the rate table, reports, claim cases.

Who: the bendahara confirms enrolments, takes cash and records remittances; the pengurus
edit the rate table and subsidy rules; the whole board (and the pengawas) read everything.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.money import MoneyError, format_rupiah, parse_rupiah_input
from kmp.timeutil import add_months, business_date, month_key, parse_month
from members.protection import billing, collection, coverage, rates, remittance
from members.protection import enrolment as enrolments
from members.protection.forms import (
    AckForm,
    CashForm,
    DecideForm,
    NumbersForm,
    ReasonForm,
    RemitForm,
)
from members.protection.models import ProtectionEnrolment
from members.protection.states import EnrolmentStatus
from members.protection.views import bp

R = Role
BOARD_READ = (R.PENGURUS, R.BENDAHARA, R.PENGAWAS, R.ADMIN)
BOARD = (R.PENGURUS, R.BENDAHARA)
_PERCENT = re.compile(r"^\s*(\d{1,3})(?:[.,](\d{1,2}))?\s*%?\s*$")


def parse_percent_bp(text: str | None) -> int:
    """``'1'`` -> 100, ``'0,24'`` -> 24, ``'2 %'`` -> 200 (basis points)."""
    match = _PERCENT.match(text or "")
    if not match:
        raise DomainError(_("Tulis persen sebagai angka, mis. 1 atau 0,24."), field="percent")
    whole, frac = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(frac)


def _month_arg(name: str = "month") -> dt.date:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return business_date().replace(day=1)
    try:
        return parse_month(raw[:7])
    except ValueError:
        abort(400)


def _client_status(error: DomainError) -> int:
    return error.status if 400 <= error.status < 500 else 409


def _enrolment_or_404(enrolment_id: int) -> ProtectionEnrolment:
    row = db.session.get(ProtectionEnrolment, enrolment_id) if 0 < enrolment_id < 2**31 else None
    if row is None:
        abort(404)
    return row


# =========================================================================== overview


@bp.get("/pengurus/bpjs")
@role_required(*BOARD_READ)
def board():
    this_month = business_date().replace(day=1)
    counts = dict(
        db.session.execute(
            select(ProtectionEnrolment.status, db.func.count()).group_by(ProtectionEnrolment.status)
        ).all()
    )
    return render_template(
        "members/protection/board.html",
        counts={str(getattr(k, "value", k)): int(v) for k, v in counts.items()},
        lines=remittance.trust_summary(this_month)
        + remittance.trust_summary(add_months(this_month, -1)),
        month=this_month,
        can_bill=current_user.has_role(*BOARD),
    )


@bp.post("/pengurus/bpjs/tagih")
@role_required(*BOARD)
def bill_now():
    result = billing.bill_month(business_date())
    db.session.commit()
    c = result.contributions
    flash(
        _(
            "Tagihan %(m)s: wajib %(w)s anggota, iuran BPJS %(n)s baris (%(a)s).",
            m=month_key(result.period),
            w=result.wajib_created,
            n=c.total_created,
            a=format_rupiah(c.total_idr),
        )
        + (" " + " ".join(c.notes) if c.notes else ""),
        "success",
    )
    return redirect(url_for("protection.board"), 303)


# =========================================================================== enrolments


def _requests_page(status: int = 200, error_for: int | None = None, error: str | None = None):
    this_month = business_date().replace(day=1)
    form = DecideForm()
    form.start.choices = [
        (this_month.isoformat(), _("Mulai bulan ini (%(m)s)", m=month_key(this_month))),
        (
            add_months(this_month, 1).isoformat(),
            _("Mulai bulan depan (%(m)s)", m=month_key(add_months(this_month, 1))),
        ),
    ]
    rows = [(e, enrolments.latest_terms(e)) for e in enrolments.pending_requests()]
    return render_template(
        "members/protection/requests.html",
        rows=rows,
        decide_form=form,
        reason_form=ReasonForm(),
        can_decide=current_user.has_role(R.BENDAHARA),
        error_for=error_for,
        error=error,
    ), status


@bp.get("/pengurus/bpjs/pendaftaran")
@role_required(*BOARD_READ)
def requests():
    return _requests_page()


@bp.post("/pengurus/bpjs/pendaftaran/<int:enrolment_id>/konfirmasi")
@role_required(R.BENDAHARA)
def confirm(enrolment_id: int):
    row = _enrolment_or_404(enrolment_id)
    form = DecideForm()
    try:
        start = dt.date.fromisoformat((form.start.data or "")[:10]) if form.start.data else None
    except ValueError:
        return _requests_page(422, row.id, _("Bulan mulai tidak valid."))
    try:
        enrolments.confirm_enrolment(row, by_user=current_user, start_period=start)
    except DomainError as refusal:
        db.session.rollback()
        return _requests_page(_client_status(refusal), row.id, refusal.message)
    db.session.commit()
    flash(_("Kepesertaan %(n)s dikonfirmasi.", n=row.member.full_name), "success")
    return redirect(url_for("protection.requests"), 303)


@bp.post("/pengurus/bpjs/pendaftaran/<int:enrolment_id>/tolak")
@role_required(R.BENDAHARA)
def reject(enrolment_id: int):
    row = _enrolment_or_404(enrolment_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _requests_page(422, row.id, _("Alasan penolakan wajib diisi."))
    try:
        enrolments.reject_enrolment(row, by_user=current_user, reason=form.reason.data)
    except DomainError as refusal:
        db.session.rollback()
        return _requests_page(_client_status(refusal), row.id, refusal.message)
    db.session.commit()
    flash(_("Pendaftaran ditolak."), "success")
    return redirect(url_for("protection.requests"), 303)


@bp.get("/pengurus/bpjs/peserta")
@role_required(*BOARD_READ)
def participants():
    status = request.args.get("status") or "confirmed"
    if status not in {s.value for s in EnrolmentStatus}:
        status = "confirmed"
    rows = list(
        db.session.scalars(
            select(ProtectionEnrolment)
            .where(ProtectionEnrolment.status == status)
            .order_by(ProtectionEnrolment.id.desc())
            .limit(300)
        )
    )
    return render_template(
        "members/protection/participants.html",
        rows=[(e, enrolments.latest_terms(e)) for e in rows],
        status=status,
        ack_form=AckForm(),
        can_edit=current_user.has_role(R.BENDAHARA),
        result=None,
    )


def _participant_page(
    row: ProtectionEnrolment,
    *,
    status: int = 200,
    error: str | None = None,
    cash_form=None,
    numbers_form=None,
):
    from members.register.services import new_request_token

    cash_form = cash_form or CashForm()
    if not cash_form.token.data:
        cash_form.token.data = new_request_token()
    numbers_form = numbers_form or NumbersForm(kpj=row.kpj_number, jkn=row.jkn_number)
    return render_template(
        "members/protection/participant.html",
        row=row,
        member=row.member,
        terms=sorted(row.terms, key=lambda t: t.effective_from, reverse=True),
        coverage=coverage.coverage_for(row.member_id),
        bill=collection.member_bill(row.member),
        cash_form=cash_form,
        numbers_form=numbers_form,
        can_edit=current_user.has_role(R.BENDAHARA),
        error=error,
    ), status


@bp.get("/pengurus/bpjs/peserta/<int:enrolment_id>")
@role_required(*BOARD_READ)
def participant(enrolment_id: int):
    return _participant_page(_enrolment_or_404(enrolment_id))


@bp.post("/pengurus/bpjs/peserta/<int:enrolment_id>/nomor")
@role_required(R.BENDAHARA)
def set_numbers(enrolment_id: int):
    row = _enrolment_or_404(enrolment_id)
    form = NumbersForm()
    if not form.validate_on_submit():
        return _participant_page(row, status=422, error=_("Isian tidak valid."), numbers_form=form)
    family = {person.id: request.form.get(f"family-{person.id}", "")[:30] for person in row.family}
    try:
        enrolments.set_participant_numbers(
            row, kpj=form.kpj.data, jkn=form.jkn.data, family_jkn=family
        )
    except DomainError as refusal:
        db.session.rollback()
        return _participant_page(row, status=422, error=refusal.message, numbers_form=form)
    db.session.commit()
    flash(_("Nomor peserta tersimpan."), "success")
    return redirect(url_for("protection.participant", enrolment_id=row.id), 303)


@bp.post("/pengurus/bpjs/peserta/<int:enrolment_id>/tunai")
@role_required(R.BENDAHARA)
def take_cash(enrolment_id: int):
    row = _enrolment_or_404(enrolment_id)
    form = CashForm()
    if not form.validate_on_submit():
        return _participant_page(row, status=422, error=_("Isian tidak valid."), cash_form=form)
    try:
        amount = parse_rupiah_input(form.amount.data)
        receipt = collection.record_bill_receipt(
            row.member,
            amount_idr=amount,
            method=form.method.data,
            by_user=current_user,
            request_token=form.token.data,
            reference=form.reference.data,
        )
    except MoneyError:
        return _participant_page(
            row,
            status=422,
            error=_("Tulis jumlah dalam Rupiah, mis. 50000 atau 50.000."),
            cash_form=form,
        )
    except DomainError as refusal:
        db.session.rollback()
        return _participant_page(
            row, status=_client_status(refusal), error=refusal.message, cash_form=form
        )
    db.session.commit()
    flash(
        _("Kwitansi %(n)s: %(a)s diterima.", n=receipt.number, a=format_rupiah(receipt.amount_idr)),
        "success",
    )
    return redirect(url_for("protection.participant", enrolment_id=row.id), 303)


@bp.post("/pengurus/bpjs/peserta/<int:enrolment_id>/berhenti")
@role_required(R.BENDAHARA)
def stop(enrolment_id: int):
    row = _enrolment_or_404(enrolment_id)
    try:
        enrolments.stop_enrolment(row, by_user=current_user)
    except DomainError as refusal:
        db.session.rollback()
        return _participant_page(row, status=_client_status(refusal), error=refusal.message)
    db.session.commit()
    flash(_("Kepesertaan dihentikan mulai bulan depan."), "success")
    return redirect(url_for("protection.participant", enrolment_id=row.id), 303)


@bp.post("/pengurus/bpjs/tanda-terima")
@role_required(R.BENDAHARA)
def import_ack():
    form = AckForm()
    upload = request.files.get("file")
    error = None
    result = None
    if not form.validate_on_submit() or upload is None or not upload.filename:
        error = _("Pilih berkas CSV tanda terima dari BPJS.")
    else:
        try:
            text = upload.read(enrolments.MAX_ACK_BYTES + 1).decode("utf-8-sig")
            result = enrolments.import_acknowledgement(text)
        except UnicodeDecodeError:
            error = _("Berkas harus teks CSV (UTF-8).")
        except DomainError as refusal:
            db.session.rollback()
            error = refusal.message
    if error:
        db.session.rollback()
    else:
        db.session.commit()
    rows = list(
        db.session.scalars(
            select(ProtectionEnrolment)
            .where(ProtectionEnrolment.status == "confirmed")
            .order_by(ProtectionEnrolment.id.desc())
            .limit(300)
        )
    )
    return render_template(
        "members/protection/participants.html",
        rows=[(e, enrolments.latest_terms(e)) for e in rows],
        status="confirmed",
        ack_form=form,
        can_edit=True,
        result=result,
        error=error,
    ), (422 if error else 200)


# =========================================================================== remittances


def _remit_page(
    period: dt.date, *, status: int = 200, error_for: str | None = None, error: str | None = None
):
    return render_template(
        "members/protection/remittances.html",
        period=period,
        lines=remittance.trust_summary(period),
        history=remittance.remittances(),
        form=RemitForm(transferred_on=business_date()),
        can_record=current_user.has_role(R.BENDAHARA),
        error_for=error_for,
        error=error,
        prev_month=add_months(period, -1),
        next_month=add_months(period, 1) if period < business_date().replace(day=1) else None,
    ), status


@bp.get("/pengurus/bpjs/setoran")
@role_required(*BOARD_READ)
def remittances():
    return _remit_page(_month_arg())


def _programme_period(programme: str, month: str) -> dt.date:
    if programme not in rates.PROGRAMMES:
        abort(404)
    try:
        return remittance.check_programme_period(programme, parse_month(month[:7]))
    except (ValueError, DomainError):
        abort(404)


@bp.get("/pengurus/bpjs/setoran/<programme>/<month>/berkas.<fmt>")
@role_required(*BOARD)
def remittance_file(programme: str, month: str, fmt: str):
    period = _programme_period(programme, month)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    cells = remittance.file_cells(remittance.remittance_rows(programme, period))
    return send_export(
        cells,
        remittance.HEADERS,
        f"remitansi-{programme}-{month_key(period)}",
        fmt,
        sheet_title=f"{rates.SHORT[programme]} {month_key(period)}",
    )


@bp.post("/pengurus/bpjs/setoran/<programme>/<month>")
@role_required(R.BENDAHARA)
def record(programme: str, month: str):
    period = _programme_period(programme, month)
    form = RemitForm()
    if not form.validate_on_submit():
        return _remit_page(
            period,
            status=422,
            error_for=programme,
            error=_("Nomor referensi transfer wajib diisi."),
        )
    try:
        expected = int(form.expected.data) if form.expected.data else None
    except ValueError:
        expected = -1
    try:
        row = remittance.record_remittance(
            programme,
            period,
            transfer_reference=form.reference.data,
            transferred_on=form.transferred_on.data or business_date(),
            expected_total_idr=expected,
            by_user=current_user,
        )
    except DomainError as refusal:
        db.session.rollback()
        return _remit_page(
            period, status=_client_status(refusal), error_for=programme, error=refusal.message
        )
    db.session.commit()
    flash(
        _(
            "Setoran %(p)s %(m)s dicatat: %(a)s.",
            p=rates.SHORT[programme],
            m=month_key(period),
            a=format_rupiah(row.total_idr),
        ),
        "success",
    )
    return redirect(url_for("protection.remittances", month=month_key(period)), 303)


@bp.post("/pengurus/bpjs/setoran/subsidi")
@role_required(R.BENDAHARA)
def sync():
    result = billing.sync_subsidies()
    db.session.commit()
    flash(
        _(
            "Subsidi dana sosial dibukukan: %(a)s, dikembalikan: %(b)s.",
            a=format_rupiah(result.posted_idr),
            b=format_rupiah(result.returned_idr),
        ),
        "success",
    )
    return redirect(url_for("protection.remittances"), 303)
