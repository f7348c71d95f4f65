"""Cash receipts: the board records one, anyone entitled views it."""

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
from sqlalchemy import select

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.money import MoneyError, parse_rupiah_input
from kmp.timeutil import business_date
from members.register import admission as register_admission
from members.register import services as register_services
from members.register.web import BOARD, R, _apply_error, _member_or_404, _my_member
from members.savings import allocator, billing, guards
from members.savings import deposits as savings_deposits
from members.savings.forms import ReceiptForm
from members.savings.models import Receipt
from members.savings.views import bp


def _counter_context(member) -> dict:
    """What the bendahara sees before taking money: the pokok still owed, the member's open
    wajib bills and the advance credit the next bills will take."""
    bills = billing.open_obligations(member.id) if member.member_no else []
    return {
        "member": member,
        "pokok": register_admission.pokok_status(member),
        "open_bills": bills,
        "open_bills_idr": sum(b.remaining_idr for b in bills),
        "advance_idr": allocator.credit_balance(member.id),
    }


@bp.route("/pengurus/anggota/<int:member_id>/setoran", methods=["GET", "POST"])
@role_required(R.BENDAHARA, R.PENGURUS)
def receipt_new(member_id: int):
    member = _member_or_404(member_id)
    counter = _counter_context(member)
    pokok = counter["pokok"]
    form = ReceiptForm()
    # nobody records cash into their own account; a pengurus only when no bendahara can
    refusal = guards.money_refusal(member, current_user, recording=True)
    if refusal is not None:
        return render_template(
            "members/receipt_new.html", form=form, refusal=refusal, **counter
        ), refusal.status
    if request.method == "GET":
        form.token.data = register_services.new_request_token()
        form.received_on.data = business_date()
        if pokok.remaining_idr:
            form.amount.data = str(pokok.remaining_idr)
        else:
            form.purpose.data = "wajib"
    status = 200
    if form.validate_on_submit():
        try:
            amount = parse_rupiah_input(form.amount.data)
        except MoneyError:
            form.amount.errors = [_("Tulis jumlah dalam Rupiah, mis. 100000 atau 100.000.")]
            status = 422
        else:
            try:
                receipt = savings_deposits.record_receipt(
                    member,
                    purpose=form.purpose.data,
                    amount_idr=amount,
                    method=form.method.data,
                    by_user=current_user,
                    request_token=form.token.data,
                    reference=form.reference.data,
                    received_on=form.received_on.data,
                )
            except DomainError as error:
                if error.field == "amount_idr":
                    error.field = "amount"
                _apply_error(form, error)
                status = 422
            else:
                db.session.commit()
                flash(_("Kwitansi %(no)s dicatat.", no=receipt.number), "success")
                return redirect(url_for("savings.receipt_view", number=receipt.number)), 303
    elif request.method == "POST":
        status = 422
    return render_template("members/receipt_new.html", form=form, **counter), status


@bp.get("/kwitansi/<number>")
@role_required(*BOARD, R.ANGGOTA, R.PARTNER)
def receipt_view(number: str):
    receipt = db.session.scalar(select(Receipt).where(Receipt.number == number))
    if receipt is None:
        abort(404)
    if not current_user.has_role(*BOARD):
        mine = _my_member()
        if mine is None or mine.id != receipt.member_id:
            abort(404)
    return render_template("members/receipt.html", receipt=receipt, member=receipt.member)
