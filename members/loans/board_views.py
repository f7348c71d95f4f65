"""The board's loan pages: applications and pending actions, a loan's assessment (savings,
arrears, other loans, repayment history, platform earnings) with the decision, disbursement,
cash payment and restructure/write-off forms, the portfolio (XLSX) and the arrears list,
and the product table (drafts approved by another pengurus)."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.timeutil import business_date
from members.loans import actions, policy, repayment, reports, services
from members.loans.disbursement import disburse_loan
from members.loans.forms import parse_amount, parse_int
from members.loans.models import Loan, LoanAction, LoanProduct
from members.loans.services import PRODUCT_FIELDS
from members.loans.states import LoanStatus
from members.loans.views import bp, common

R = Role
READ = (R.PENGURUS, R.BENDAHARA, R.PENGAWAS, R.ADMIN)
WRITE = (R.PENGURUS, R.BENDAHARA)


@bp.get("/pengurus/pinjaman")
@role_required(*READ)
def board():
    waiting = list(
        db.session.scalars(
            select(Loan)
            .where(Loan.status.in_([LoanStatus.APPLIED, LoanStatus.APPROVED]))
            .order_by(Loan.id)
            .limit(200)
        )
    )
    return render_template(
        "members/loans/board.html",
        waiting=waiting,
        pending=actions.pending_actions(),
        report=reports.portfolio(),
        **common(),
    )


def _assessment(loan: Loan) -> dict:
    from members.savings.queries import savings_balances

    member = loan.member
    today = business_date()
    return {
        "savings": savings_balances(member),
        "own_savings_idr": services.own_savings_idr(member),
        "arrears_idr": services.overdue_idr(member.id, today),
        "other_loans": [x for x in services.member_loans(member) if x.id != loan.id],
        "earnings": _earnings(member),
    }


def _earnings(member) -> list[tuple[str, int, int]]:
    """Check-off remitted by the member's platforms (month, lines, Rupiah): capacity."""
    from sqlalchemy import func

    from members.partners.models import Remittance, RemittanceLine

    month = func.substr(func.cast(Remittance.paid_on, db.String), 1, 7)
    rows = db.session.execute(
        select(month, func.count(), func.sum(RemittanceLine.amount_idr))
        .join(Remittance, Remittance.id == RemittanceLine.remittance_id)
        .where(RemittanceLine.member_id == member.id)
        .group_by(month)
        .order_by(month.desc())
        .limit(6)
    ).all()
    return [(m, int(n), int(a or 0)) for m, n, a in rows]


def _render_case(loan: Loan, *, error=None, status=200):
    active = LoanStatus(loan.status) is LoanStatus.ACTIVE
    return render_template(
        "members/loans/case.html",
        loan=loan,
        rows=repayment.instalment_rows(loan),
        pos=repayment.position(loan) if active else None,
        payoff=repayment.payoff_quote(loan) if active else None,
        decisions=services.decisions_of(loan),
        approvals=services.approvals_of(loan),
        token=uuid.uuid4().hex,
        error=error,
        **_assessment(loan),
        **common(),
    ), status


@bp.get("/pengurus/pinjaman/<int:loan_id>")
@role_required(*READ)
def case(loan_id: int):
    return _render_case(services.get_loan(loan_id))


def _act(loan: Loan, work, done: str):
    try:
        work()
    except DomainError as refusal:
        db.session.rollback()
        return _render_case(
            services.get_loan(loan.id), error=refusal.message, status=refusal.status
        )
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("loans.case", loan_id=loan.id), 303)


@bp.post("/pengurus/pinjaman/<int:loan_id>/putuskan")
@role_required(*WRITE)
def decide(loan_id: int):
    loan = services.get_loan(loan_id)
    approve = request.form.get("decision") == "approve"
    return _act(
        loan,
        lambda: services.decide_loan(
            loan, by_user=current_user, approve=approve, note=request.form.get("note")
        ),
        _("Keputusan disimpan."),
    )


@bp.post("/pengurus/pinjaman/<int:loan_id>/cairkan")
@role_required(*WRITE)
def disburse(loan_id: int):
    loan = services.get_loan(loan_id)
    return _act(
        loan,
        lambda: disburse_loan(
            loan,
            method=request.form.get("method", ""),
            by_user=current_user,
            reference=request.form.get("reference", ""),
        ),
        _("Pinjaman dicairkan."),
    )


@bp.post("/pengurus/pinjaman/<int:loan_id>/bayar")
@role_required(*WRITE)
def receive(loan_id: int):
    loan = services.get_loan(loan_id)
    amount = parse_amount(request.form.get("amount"))
    token = (request.form.get("token") or "")[:60]
    if amount is None or not token:
        return _render_case(loan, error=_("Tulis jumlah dalam Rupiah."), status=422)
    if request.form.get("payoff") == "1":
        return _act(
            loan,
            lambda: repayment.pay_off_loan(
                loan,
                method=request.form.get("method", ""),
                by_user=current_user,
                request_token=token,
            ),
            _("Pinjaman dilunasi."),
        )
    return _act(
        loan,
        lambda: repayment.record_loan_payment(
            loan,
            amount_idr=amount,
            method=request.form.get("method", ""),
            by_user=current_user,
            request_token=token,
        ),
        _("Pembayaran angsuran dicatat."),
    )


@bp.post("/pengurus/pinjaman/<int:loan_id>/tindakan")
@role_required(*WRITE)
def request_action(loan_id: int):
    loan = services.get_loan(loan_id)
    return _act(
        loan,
        lambda: actions.request_action(
            loan,
            request.form.get("kind", "")
            if request.form.get("kind") in ("restructure", "write_off")
            else "restructure",
            reason=request.form.get("reason", ""),
            months=parse_int(request.form.get("months"), 1, 120),
            by_user=current_user,
        ),
        _("Usulan dicatat; menunggu keputusan pengurus lain."),
    )


@bp.post("/pengurus/pinjaman/tindakan/<int:action_id>")
@role_required(*WRITE)
def decide_action(action_id: int):
    action = db.session.get(LoanAction, action_id) if 0 < action_id < 2**31 else None
    if action is None:
        abort(404)
    approve = request.form.get("decision") == "approve"
    return _act(
        action.loan,
        lambda: actions.decide_action(action, approve=approve, by_user=current_user),
        _("Keputusan disimpan."),
    )


@bp.get("/pengurus/pinjaman/portofolio")
@role_required(*READ)
def portfolio():
    report = reports.portfolio()
    if request.args.get("format"):
        return send_export(
            reports.export_rows(report),
            reports.EXPORT_HEADERS,
            f"portofolio-pinjaman-{business_date().isoformat()}",
            request.args["format"],
            title=_("Portofolio pinjaman"),
        )
    return render_template("members/loans/portfolio.html", report=report, **common())


@bp.get("/pengurus/pinjaman/tunggakan")
@role_required(*READ)
def arrears():
    return render_template("members/loans/arrears.html", rows=reports.arrears_list(), **common())


@bp.route("/pengurus/pinjaman/produk", methods=["GET", "POST"])
@role_required(*READ)
def products():
    error, status = None, 200
    if request.method == "POST":
        if not current_user.has_role(*WRITE):
            abort(403)
        values, error = _product_values(request.form)
        if error is None:
            try:
                services.create_product(request.form.get("code", ""), values, by_user=current_user)
            except DomainError as refusal:
                db.session.rollback()
                error = refusal.message
            else:
                db.session.commit()
                flash(_("Versi produk disimpan sebagai draf."), "success")
                return redirect(url_for("loans.products"), 303)
        status = 422
    rows = list(
        db.session.scalars(select(LoanProduct).order_by(LoanProduct.code, LoanProduct.version))
    )
    return render_template(
        "members/loans/products.html", products=rows, error=error, form=request.form, **common()
    ), status


INT_FIELDS = {
    "min_months": (1, 600),
    "max_months": (1, 600),
    "annual_rate_bp": (0, 10000),
    "provisi_bp": (0, 1000),
    "penalty_day_bp": (0, 10000),
    "penalty_cap_bp": (0, 10000),
    "savings_multiple": (0, 100),
    "min_active_months": (0, 600),
    "guarantors": (0, 3),
    "rebate_pct": (0, 100),
}
IDR_FIELDS = ("min_principal_idr", "max_principal_idr", "single_approval_max_idr")
ZERO_IDR_FIELDS = ("admin_fee_idr", "max_arrears_idr")


def _product_values(form) -> tuple[dict, str | None]:
    values: dict = {"name": (form.get("name") or "").strip()[:120], "method": form.get("method")}
    for name, (low, high) in INT_FIELDS.items():
        value = parse_int(form.get(name), low, high)
        if value is None:
            return values, _("Isian %(f)s harus bilangan bulat %(a)s-%(b)s.", f=name, a=low, b=high)
        values[name] = value
    for name in IDR_FIELDS:
        value = parse_amount(form.get(name))
        if value is None:
            return values, _("Isian %(f)s harus Rupiah lebih dari 0.", f=name)
        values[name] = value
    for name in ZERO_IDR_FIELDS:
        text = (form.get(name) or "0").strip()
        value = 0 if text in ("0", "") else parse_amount(text)
        if value is None:
            return values, _("Isian %(f)s harus Rupiah.", f=name)
        values[name] = value
    values["interest_is_patronage"] = form.get("interest_is_patronage") == "1"
    values["note"] = (form.get("note") or "").strip()[:2000] or None
    assert set(values) <= set(PRODUCT_FIELDS)
    return values, None


@bp.post("/pengurus/pinjaman/produk/<int:product_id>/setujui")
@role_required(*WRITE)
def approve_product(product_id: int):
    try:
        services.approve_product(services.get_product(product_id), by_user=current_user)
    except DomainError as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for("loans.products"), 303)
    db.session.commit()
    flash(_("Versi produk disetujui dan ditawarkan."), "success")
    return redirect(url_for("loans.products"), 303)


__all__ = ["policy"]
