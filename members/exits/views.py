"""Exit pages: the member's request and the board's queue, decision and refund payment."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from members.exits import queries as exits_queries
from members.exits import services as exits_services
from members.exits.forms import BoardExitForm, ExitDecisionForm, RefundPaymentForm
from members.register.forms import ReasonForm
from members.register.models import ExitCase, ExitStatus
from members.register.web import (
    DECIDERS,
    PER_PAGE,
    R,
    _active_member_or_notice,
    _apply_error,
    _int_arg,
    _member_or_404,
)

bp = Blueprint("exits", __name__)


@bp.route("/anggota/keluar", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def request_my_exit():
    member, refusal = _active_member_or_notice()
    if refusal:
        return refusal
    form = ReasonForm()
    if form.validate_on_submit():
        if request.form.get("confirm") != "1":
            flash(_("Centang konfirmasi bila Anda yakin ingin keluar."), "error")
            return render_template(
                "members/exit_request.html",
                member=member,
                form=form,
                quote=exits_services.compute_refund(member),
            ), 422
        try:
            exits_services.request_exit(member, current_user, form.reason.data)
        except DomainError as error:
            _apply_error(form, error)
            return render_template(
                "members/exit_request.html",
                member=member,
                form=form,
                quote=exits_services.compute_refund(member),
            ), 422
        db.session.commit()
        flash(_("Pengajuan keluar terkirim. Pengurus akan memutuskannya."), "success")
        return redirect(url_for("members.dashboard"))
    return render_template(
        "members/exit_request.html",
        member=member,
        form=form,
        quote=exits_services.compute_refund(member),
    )


@bp.route("/pengurus/anggota/<int:member_id>/keluar", methods=["POST"])
@role_required(*DECIDERS)
def board_exit(member_id: int):
    member = _member_or_404(member_id)
    form = BoardExitForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        case = exits_services.request_exit(
            member,
            current_user,
            form.reason.data,
            kind=form.kind.data,
            heir_name=form.heir_name.data,
            heir_relationship=form.heir_relationship.data,
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    db.session.commit()
    return redirect(url_for("exits.exit_case", case_id=case.id)), 303


@bp.get("/pengurus/keluar")
@role_required(R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def exits():
    status = request.args.get("status")
    if status not in {s.value for s in ExitStatus}:
        status = None
    page = exits_queries.exit_cases(status, _int_arg("halaman"), PER_PAGE)
    return render_template(
        "members/exits.html", page=page, status=status, statuses=list(ExitStatus)
    )


def _exit_context(case: ExitCase) -> dict:
    member = case.member
    quote = exits_services.compute_refund(member) if case.status is ExitStatus.REQUESTED else None
    return {
        "case": case,
        "member": member,
        "quote": quote,
        "form": ExitDecisionForm(),
        "pay_form": RefundPaymentForm(),
        "can_decide": current_user.has_role(*DECIDERS),
        "can_pay": current_user.has_role(R.BENDAHARA),
    }


@bp.get("/pengurus/keluar/<int:case_id>")
@role_required(R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def exit_case(case_id: int):
    case = db.session.get(ExitCase, case_id) or abort(404)
    return render_template("members/exit_case.html", **_exit_context(case))


@bp.post("/pengurus/keluar/<int:case_id>")
@role_required(*DECIDERS)
def exit_decide(case_id: int):
    case = db.session.get(ExitCase, case_id) or abort(404)
    form = ExitDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if form.action.data == "approve":
            exits_services.approve_exit(case, current_user)
        else:
            exits_services.cancel_exit(case, current_user, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("exits.exit_case", case_id=case_id)), 303
    db.session.commit()
    flash(
        _("Pengajuan keluar disetujui; pengembalian simpanan menunggu dibayar.")
        if form.action.data == "approve"
        else _("Pengajuan keluar dibatalkan."),
        "success",
    )
    return redirect(url_for("exits.exit_case", case_id=case_id)), 303


@bp.post("/pengurus/keluar/<int:case_id>/bayar")
@role_required(R.BENDAHARA)
def exit_pay(case_id: int):
    case = db.session.get(ExitCase, case_id) or abort(404)
    form = RefundPaymentForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        exits_services.pay_exit_refund(case, current_user, form.method.data, form.reference.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("exits.exit_case", case_id=case_id)), 303
    db.session.commit()
    flash(_("Pembayaran pengembalian dicatat."), "success")
    return redirect(url_for("exits.exit_case", case_id=case_id)), 303
