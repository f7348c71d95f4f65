"""The member's home (dashboard, next steps, card, profile, own data) and the board's
member file."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.ledger.chart import member_account_code
from kmp.ledger.queries import balances_of_member
from members.ad import services as ad_services
from members.ad.config import ADConfig
from members.exits import queries as exits_queries
from members.exits import services as exits_services
from members.exits.forms import BoardExitForm
from members.home import services as home_services
from members.partners.forms import StaffForm
from members.register import admission as register_admission
from members.register import queries as register_queries
from members.register import services as register_services
from members.register.forms import DecisionForm, NikCorrectionForm, ProfileForm, ReasonForm
from members.register.models import ExitKind, ExitStatus, Member, NikCorrection, RequestStatus
from members.register.states import NUMBERED, PENDING, MemberStatus
from members.register.web import (
    BOARD,
    DECIDERS,
    R,
    _active_member_or_notice,
    _apply_error,
    _member_or_404,
    _my_member,
    _sees_identity,
    qr_svg,
)
from members.savings import queries as savings_queries
from members.training.competence import certificates_of
from members.training.forms import CERTIFICATE_LABELS

bp = Blueprint("members", __name__)


def _pokok_status(member: Member, ad: ADConfig, by_code: dict[str, int]):
    """``register_admission.pokok_status`` read from the member's account balances already loaded
    (``balances_of_member``); falls back to it when the pokok account is not among them."""
    if member.member_no and MemberStatus(member.status) in NUMBERED:
        code = member_account_code("pokok", member.member_no)
    else:
        code = register_admission.applicant_account_code(member)
    if code not in by_code:
        return register_admission.pokok_status(member, ad)
    group = ad.get_group(member.group_code)
    return register_admission.PokokStatus(
        group.pokok_idr if group else 0,
        by_code[code],
        group.pokok_instalments_allowed if group else True,
    )


def _steps_context(member: Member, *, by_code: dict[str, int] | None = None, exit_cases=None):
    ad = ad_services.current_ad()
    group = ad.get_group(member.group_code)
    if by_code is None:
        pokok = register_admission.pokok_status(member, ad)
    else:
        pokok = _pokok_status(member, ad, by_code)
    if exit_cases is None:
        exit_cases = exits_queries.member_exit_cases(member)
    return {
        "member": member,
        "group": group,
        "pokok": pokok,
        "receipts": savings_queries.member_receipts(member),
        "refunds": [c for c in exit_cases if c.kind is ExitKind.APPLICATION],
    }


@bp.get("/anggota/langkah")
@role_required(R.ANGGOTA, R.PARTNER)
def next_steps():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    return render_template("members/next_steps.html", **_steps_context(member))


@bp.get("/anggota")
@role_required(R.ANGGOTA)
def dashboard():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    # one read each of the member's balances and exit cases serves every part of the page
    by_code = balances_of_member(member.id)
    exit_cases = exits_queries.member_exit_cases(member)
    context = _steps_context(member, by_code=by_code, exit_cases=exit_cases)
    context["balances"] = savings_queries.savings_balances(member, by_code)
    context["exit_cases"] = exit_cases
    from members.protection.coverage import coverage_for  # BPJS cover (issue 19)

    context["bpjs_coverage"] = coverage_for(member.id)
    # exits_services.open_exit_case, from the cases just read
    context["open_exit"] = next(
        (
            c
            for c in exit_cases
            if c.kind != ExitKind.APPLICATION and c.status == ExitStatus.REQUESTED
        ),
        None,
    )
    return render_template("members/dashboard.html", **context)


@bp.get("/anggota/kartu")
@role_required(R.ANGGOTA, R.PARTNER)
def my_card():
    member, refusal = _active_member_or_notice()
    if refusal:
        return refusal
    return render_template(
        "members/card.html",
        member=member,
        qr=qr_svg(member.member_no),
        group=ad_services.current_ad().get_group(member.group_code),
    )


@bp.route("/anggota/profil", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def profile():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    editable = MemberStatus(member.status) not in (
        MemberStatus.EXITED,
        MemberStatus.DECEASED,
        MemberStatus.REJECTED,
        MemberStatus.WITHDRAWN,
    )
    form = ProfileForm(
        data={
            "phone": member.phone,
            "email": member.email,
            "address": member.address,
            "locale": current_user.locale,
        }
    )
    nik_form = NikCorrectionForm(prefix="nik")
    status = 200
    if request.method == "POST":
        if not editable:
            return render_template("members/not_active.html", member=member), 403
        if form.validate_on_submit():
            try:
                register_services.update_contact(
                    member,
                    phone=form.phone.data,
                    email=form.email.data,
                    address=form.address.data,
                    by_user=current_user,
                )
                current_user.locale = form.locale.data
            except DomainError as error:
                _apply_error(form, error)
                status = 422
            else:
                db.session.commit()
                flash(_("Data kontak sudah disimpan."), "success")
                return redirect(url_for("members.profile"))
        else:
            status = 422
    pending = db.session.scalar(
        select(NikCorrection).where(
            NikCorrection.member_id == member.id, NikCorrection.status == RequestStatus.PENDING
        )
    )
    return render_template(
        "members/profile.html",
        member=member,
        form=form,
        nik_form=nik_form,
        pending_nik=pending,
        editable=editable,
        certificates=certificates_of(member),
        certificate_states=CERTIFICATE_LABELS,
    ), status


@bp.post("/anggota/profil/koreksi-nik")
@role_required(R.ANGGOTA)
def request_nik_correction():
    member = _my_member()
    if member is None:
        abort(404)
    nik_form = NikCorrectionForm(prefix="nik")
    if nik_form.validate_on_submit():
        try:
            register_services.request_nik_correction(
                member, nik_form.new_nik.data, nik_form.reason.data
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("members.profile")), 303
        db.session.commit()
        flash(_("Permintaan koreksi NIK dikirim ke pengurus."), "success")
    else:
        flash(_("Isi NIK yang benar dan alasannya."), "error")
    return redirect(url_for("members.profile")), 303


@bp.get("/anggota/profil/data.json")
@role_required(R.ANGGOTA, R.PARTNER)
def my_data():
    member = _my_member()
    if member is None:
        abort(404)
    body = json.dumps(home_services.export_member_data(member), ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    name = member.member_no or f"pendaftar-{member.id}"
    response.headers["Content-Disposition"] = f'attachment; filename="data-saya-{name}.json"'
    return response


@bp.post("/anggota/batal")
@role_required(R.ANGGOTA, R.PARTNER)
def withdraw_my_application():
    member = _my_member()
    if member is None or MemberStatus(member.status) not in PENDING:
        abort(404)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        register_admission.withdraw_application(member, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.next_steps")), 303
    db.session.commit()
    flash(_("Pendaftaran Anda sudah dibatalkan."), "info")
    return redirect(url_for("members.next_steps")), 303


@bp.get("/pengurus/anggota/<int:member_id>")
@role_required(*BOARD)
def member_detail(member_id: int):
    member = _member_or_404(member_id)
    context = _steps_context(member)
    # The NIK is masked on board pages; who needs it (admin, pengurus, bendahara) reveals it
    # on purpose, and every reveal is in the audit trail.
    show_nik = request.args.get("tampilkan") == "nik" and _sees_identity()
    if show_nik:
        from kmp.audit import record_event

        record_event("member.nik_revealed", f"members:{member.id}", table_name="members")
        db.session.commit()
    context.update(
        show_nik=show_nik,
        balances=savings_queries.savings_balances(member),
        history=register_queries.member_history(member),
        exit_cases=exits_queries.member_exit_cases(member),
        staff=register_queries.company_staff(member) if member.is_company else [],
        unmasked=_sees_identity(),
        decision_form=DecisionForm(),
        exit_form=BoardExitForm(),
        staff_form=StaffForm(prefix="staff"),
        open_exit=exits_services.open_exit_case(member),
        can_decide=current_user.has_role(*DECIDERS),
        can_receive=current_user.has_role(R.BENDAHARA),
    )
    return render_template("members/detail.html", **context)


@bp.get("/pengurus/anggota/<int:member_id>/kartu")
@role_required(*BOARD)
def member_card(member_id: int):
    member = _member_or_404(member_id)
    if not member.member_no:
        abort(404)
    return render_template(
        "members/card.html",
        member=member,
        qr=qr_svg(member.member_no),
        group=ad_services.current_ad().get_group(member.group_code),
    )
