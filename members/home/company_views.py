"""The platform company's own page, its public page for the board, and its staff logins."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import User, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from members.home.views import _steps_context, bp
from members.partners.forms import StaffForm
from members.register import queries as register_queries
from members.register import representatives
from members.register import services as register_services
from members.register.representatives import can_designate
from members.register.web import MANAGERS, R, _member_or_404
from members.savings import queries as savings_queries


@bp.get("/mitra")
@role_required(R.PARTNER)
def company():
    member = register_queries.company_for_user(current_user)
    if member is None:
        return render_template("members/not_member.html"), 404
    return redirect(url_for("members.company_page", member_id=member.id))


@bp.get("/mitra/<int:member_id>")
@role_required(R.PARTNER)
def company_page(member_id: int):
    member = _member_or_404(member_id)
    if not member.is_company or not register_queries.is_staff_of(current_user, member):
        abort(403)
    context = _steps_context(member)
    context.update(
        staff=register_queries.company_staff(member),
        balances=savings_queries.savings_balances(member),
        platform_members=register_queries.platform_member_count(member.platform),
        platforms=register_services.PLATFORMS,
        can_designate=can_designate(current_user, member),
    )
    return render_template("members/company.html", **context)


@bp.post("/mitra/<int:member_id>/perwakilan")
@role_required(R.PARTNER, *MANAGERS)
def designate_representative(member_id: int):
    """The board or the company's manager names the staff login that votes for it."""
    member = _member_or_404(member_id)
    board = current_user.has_role(*MANAGERS)
    if not member.is_company or not (board or register_queries.is_staff_of(current_user, member)):
        abort(403)
    back = url_for(
        "members.member_detail" if board else "members.company_page", member_id=member.id
    )
    staff_user = db.session.get(User, request.form.get("staff_user_id", type=int) or 0)
    try:
        if staff_user is None:
            raise DomainError(_("Pilih login staf perusahaan."), field="staff")
        row = representatives.designate_representative(member, staff_user, current_user)
    except DomainError as error:
        db.session.rollback()
        if error.status == 403:
            raise
        flash(error.message, "error")
        return redirect(back), 303
    db.session.commit()
    flash(_("%(name)s sekarang perwakilan perusahaan.", name=row.user.full_name), "success")
    return redirect(back), 303


@bp.post("/pengurus/anggota/<int:member_id>/staf")
@role_required(*MANAGERS)
def add_staff(member_id: int):
    member = _member_or_404(member_id)
    form = StaffForm(prefix="staff")
    if not form.validate_on_submit():
        flash(_("Lengkapi nama dan kata sandi staf."), "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    try:
        register_services.add_company_staff(
            member,
            full_name=form.full_name.data,
            password=form.password.data,
            by_user=current_user,
            email=form.email.data,
            phone=form.phone.data,
            title=form.title.data,
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    db.session.commit()
    flash(_("Login staf ditambahkan."), "success")
    return redirect(url_for("members.member_detail", member_id=member.id)), 303
