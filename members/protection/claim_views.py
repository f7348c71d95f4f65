"""The board's claim cases: record a member's (or heir's) claim and follow its steps."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.money import MoneyError, parse_rupiah_input
from members.protection import claims
from members.protection.board_views import BOARD, BOARD_READ
from members.protection.forms import ClaimForm, ClaimStepForm
from members.protection.states import CLAIM_TRANSITIONS, ClaimStatus
from members.protection.views import bp
from members.register import queries as register_queries

# =========================================================================== claims


def _claims_page(status: int = 200, form=None, error: str | None = None):
    return render_template(
        "members/protection/claims.html",
        rows=claims.claims(open_only=request.args.get("open") == "1"),
        form=form or ClaimForm(),
        can_edit=current_user.has_role(*BOARD),
        error=error,
    ), status


@bp.get("/pengurus/bpjs/klaim")
@role_required(*BOARD_READ)
def claim_list():
    return _claims_page()


@bp.post("/pengurus/bpjs/klaim")
@role_required(*BOARD)
def claim_new():
    form = ClaimForm()
    if not form.validate_on_submit():
        return _claims_page(422, form, _("Isian tidak valid."))
    member = register_queries.member_by_no((form.member_no.data or "").strip().upper())
    if member is None:
        return _claims_page(422, form, _("Nomor anggota tidak ditemukan."))
    try:
        claim = claims.report_claim(
            member,
            kind=form.kind.data,
            incident_date=form.incident_date.data,
            description=form.description.data,
            claimant_name=form.claimant_name.data,
            claimant_relationship=form.claimant_relationship.data,
            by_user=current_user,
        )
    except DomainError as refusal:
        db.session.rollback()
        return _claims_page(422, form, refusal.message)
    db.session.commit()
    return redirect(url_for("protection.claim_detail", claim_id=claim.id), 303)


def _claim_page(claim, *, status: int = 200, form=None, error: str | None = None):
    form = form or ClaimStepForm()
    form.target.choices = [(s.value, s.value) for s in CLAIM_TRANSITIONS[ClaimStatus(claim.status)]]
    return render_template(
        "members/protection/claim.html",
        claim=claim,
        form=form,
        can_edit=current_user.has_role(*BOARD),
        error=error,
    ), status


@bp.get("/pengurus/bpjs/klaim/<int:claim_id>")
@role_required(*BOARD_READ)
def claim_detail(claim_id: int):
    try:
        claim = claims.get_claim(claim_id)
    except DomainError:
        abort(404)
    return _claim_page(claim)


@bp.post("/pengurus/bpjs/klaim/<int:claim_id>/langkah")
@role_required(*BOARD)
def claim_step(claim_id: int):
    try:
        claim = claims.get_claim(claim_id)
    except DomainError:
        abort(404)
    form = ClaimStepForm()
    if not form.validate_on_submit():
        return _claim_page(claim, status=422, form=form, error=_("Isian tidak valid."))
    try:
        benefit = (
            parse_rupiah_input(form.benefit.data) if (form.benefit.data or "").strip() else None
        )
        if form.target.data:
            claims.advance_claim(
                claim,
                form.target.data,
                by_user=current_user,
                note=form.note.data,
                bpjs_reference=form.bpjs_reference.data,
                benefit_idr=benefit,
            )
        else:
            claims.add_claim_note(claim, form.note.data, by_user=current_user)
    except MoneyError:
        return _claim_page(
            claim,
            status=422,
            form=form,
            error=_("Tulis jumlah dalam Rupiah, mis. 50000 atau 50.000."),
        )
    except (DomainError, ValueError) as refusal:
        db.session.rollback()
        return _claim_page(
            claim,
            status=422,
            form=form,
            error=getattr(refusal, "message", None) or _("Langkah tidak dikenal."),
        )
    db.session.commit()
    flash(_("Klaim diperbarui."), "success")
    return redirect(url_for("protection.claim_detail", claim_id=claim.id), 303)
