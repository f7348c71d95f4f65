"""The member's loan pages: my loans, applying with the schedule preview, a loan's schedule
with what is paid, the payoff quote, paying online, withdrawing an application, sukarela
auto-debit. (The board's pages: ``board_views``.)

Views parse input, call one service, commit, render or redirect. A refused form is shown
again with the message (422) and nothing is written.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import business_date
from members.loans import policy, repayment, services
from members.loans.forms import ApplicationInput, parse_application
from members.loans.schedule import METHOD_LABELS, bp_text, percent_text
from members.loans.states import LABELS, LoanStatus
from members.register import queries as register_queries
from members.register.models import Member

bp = Blueprint("loans", __name__)
R = Role


def _my_member() -> Member:
    member = register_queries.member_for_user(current_user)
    if member is None:
        abort(404)
    return member


def _my_loan(member: Member, loan_id: int):
    loan = services.get_loan(loan_id)
    if loan.member_id != member.id:
        abort(404)
    return loan


def common() -> dict:
    return {
        "labels": LABELS,
        "class_labels": policy.CLASS_LABELS,
        "method_labels": METHOD_LABELS,
        "bp_text": bp_text,
        "percent_text": percent_text,
    }


@bp.get("/anggota/pinjaman")
@role_required(R.ANGGOTA)
def mine():
    member = _my_member()
    loans = services.member_loans(member)
    positions = {
        loan.id: repayment.position(loan)
        for loan in loans
        if LoanStatus(loan.status) is LoanStatus.ACTIVE
    }
    return render_template(
        "members/loans/mine.html",
        member=member,
        loans=loans,
        positions=positions,
        products=services.offered_products(),
        **common(),
    )


def _render_apply(member, data: ApplicationInput, *, quote=None, error=None, status=200):
    return render_template(
        "members/loans/apply.html",
        member=member,
        products=services.offered_products(),
        data=data,
        quote=quote,
        error=error,
        savings_idr=services.own_savings_idr(member),
        **common(),
    ), status


@bp.route("/anggota/pinjaman/ajukan", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def apply():
    member = _my_member()
    if request.method == "GET":
        product_id = request.args.get("produk", type=int)
        return _render_apply(member, ApplicationInput(product_id=product_id))
    data, problem = parse_application(request.form)
    if problem:
        return _render_apply(member, data, error=problem, status=422)
    try:
        product = services.get_product(data.product_id)
        quote = services.quote_loan(product, data.principal_idr, data.months)
        if request.form.get("action") != "submit":
            return _render_apply(member, data, quote=quote)
        loan = services.apply_for_loan(
            member,
            product,
            principal_idr=data.principal_idr,
            months=data.months,
            purpose=data.purpose,
            by_user=current_user,
            guarantor_nos=data.guarantors,
        )
    except DomainError as refusal:
        db.session.rollback()
        return _render_apply(member, data, error=refusal.message, status=refusal.status or 422)
    db.session.commit()
    flash(_("Pengajuan pinjaman terkirim. Pengurus akan memutuskannya."), "success")
    return redirect(url_for("loans.loan", loan_id=loan.id), 303)


def _quote_date(text: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else business_date()
    except ValueError:
        return business_date()


@bp.get("/anggota/pinjaman/<int:loan_id>")
@role_required(R.ANGGOTA)
def loan(loan_id: int):
    member = _my_member()
    item = _my_loan(member, loan_id)
    return _render_loan(item, member)


def _render_loan(item, member, *, error=None, status=200):
    on = max(_quote_date(request.args.get("pelunasan")), business_date())
    active = LoanStatus(item.status) is LoanStatus.ACTIVE
    return render_template(
        "members/loans/loan.html",
        member=member,
        loan=item,
        rows=repayment.instalment_rows(item),
        pos=repayment.position(item) if active else None,
        payoff=repayment.payoff_quote(item, on) if active else None,
        payoff_on=on,
        decisions=services.decisions_of(item),
        history=repayment.payment_history(item),
        error=error,
        **common(),
    ), status


@bp.post("/anggota/pinjaman/<int:loan_id>/bayar")
@role_required(R.ANGGOTA)
def pay(loan_id: int):
    from kmp.payments.factory import get_gateway
    from kmp.payments.services import CheckoutUnavailable
    from members.savings.services import checkout_for_member

    member = _my_member()
    item = _my_loan(member, loan_id)
    gateway = get_gateway(current_app._get_current_object())
    try:
        intent = repayment.create_loan_intent(
            item, by_user=current_user, finish_url=url_for("loans.loan", loan_id=item.id)
        )
        attempt = checkout_for_member(intent, gateway, member)
    except CheckoutUnavailable as refusal:
        if refusal.keep_attempt:
            db.session.commit()
        else:
            db.session.rollback()
        return _render_loan(item, member, error=refusal.message, status=refusal.status)
    except DomainError as refusal:
        db.session.rollback()
        return _render_loan(item, member, error=refusal.message, status=422)
    db.session.commit()
    return redirect(attempt.redirect_url, 303)


@bp.post("/anggota/pinjaman/<int:loan_id>/batal")
@role_required(R.ANGGOTA)
def withdraw(loan_id: int):
    member = _my_member()
    item = _my_loan(member, loan_id)
    try:
        services.withdraw_loan(item, by_user=current_user)
    except DomainError as refusal:
        db.session.rollback()
        return _render_loan(item, member, error=refusal.message, status=409)
    db.session.commit()
    flash(_("Pengajuan dibatalkan."), "success")
    return redirect(url_for("loans.mine"), 303)


@bp.post("/anggota/pinjaman/<int:loan_id>/debit-otomatis")
@role_required(R.ANGGOTA)
def auto_debit(loan_id: int):
    member = _my_member()
    item = _my_loan(member, loan_id)
    if LoanStatus(item.status) is not LoanStatus.ACTIVE:
        return _render_loan(
            item, member, error=_("Pinjaman ini tidak sedang berjalan."), status=409
        )
    item.auto_debit = request.form.get("on") == "1"
    db.session.commit()
    flash(_("Pengaturan debit otomatis disimpan."), "success")
    return redirect(url_for("loans.loan", loan_id=item.id), 303)


def init_views(app) -> None:
    from members.loans import board_views  # noqa: F401 - routes on the same blueprint

    app.register_blueprint(bp)
