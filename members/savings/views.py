"""Savings pages: the member's balances, arrears, "Bayar" buttons, statement and chart; the
board's wajib bills and arrears, sukarela withdrawal queue, receipt PDF and void.

Views parse input, call one service, commit, render or redirect. A refused form is shown
again with the message (422) and nothing is written.
"""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from kmp.auth import Role, role_required
from kmp.errors import DomainError, Forbidden
from kmp.exports import send_export
from kmp.extensions import db
from kmp.money import MoneyError, format_rupiah, parse_rupiah_input
from kmp.timeutil import business_date, month_key, parse_month
from members.register import queries as register_queries
from members.register.models import Member
from members.savings import billing, guards, withdrawals
from members.savings import queries as savings_queries
from members.savings import services as savings
from members.savings.models import Receipt, SukarelaWithdrawal, WithdrawalStatus

bp = Blueprint("savings", __name__)

R = Role
BOARD = (R.PENGURUS, R.BENDAHARA, R.PENGAWAS, R.ADMIN)
DECIDERS = (R.PENGURUS, R.BENDAHARA)
#: The bendahara decides a withdrawal; a pengurus (or, as the AD says, the pengawas) only
#: when no bendahara can -- ``members.savings.guards`` decides per request.
WITHDRAWAL_DECIDERS = (R.BENDAHARA, R.PENGURUS, R.PENGAWAS)


# --------------------------------------------------------------------------- forms


class PayForm(FlaskForm):
    purpose = HiddenField(validators=[DataRequired()])
    months = IntegerField(
        _l("Jumlah bulan"),
        validators=[
            Optional(),
            NumberRange(min=1, max=24, message=_l("Pilih jumlah bulan antara 1 dan 24.")),
        ],
    )
    amount = StringField(_l("Jumlah (Rp)"), validators=[Optional(), Length(max=30)])


class WithdrawForm(FlaskForm):
    amount = StringField(
        _l("Jumlah penarikan (Rp)"),
        validators=[DataRequired(_l("Jumlah wajib diisi.")), Length(max=30)],
    )
    note = StringField(_l("Catatan (boleh kosong)"), validators=[Optional(), Length(max=200)])
    token = HiddenField(validators=[DataRequired(), Length(max=64)])


class ApproveForm(FlaskForm):
    method = SelectField(
        _l("Cara bayar"),
        choices=[SelectChoice("cash", _l("Tunai")), SelectChoice("bank", _l("Transfer bank"))],
    )
    reference = StringField(_l("Referensi transfer"), validators=[Optional(), Length(max=120)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Alasan"), validators=[DataRequired(_l("Alasan wajib diisi.")), Length(max=500)]
    )


class BillForm(FlaskForm):
    month = StringField(
        _l("Bulan (YYYY-MM)"),
        validators=[DataRequired(_l("Bulan wajib diisi.")), Length(max=7)],
    )


# --------------------------------------------------------------------------- helpers


def _my_member(*, moving_money: bool = False) -> Member:
    """The login's member (a company for its staff logins); paying or withdrawing for a
    company is for its representative or the login that applied for it."""
    from members.register.representatives import may_move_money_for

    member = register_queries.member_for_user(current_user)
    if member is None:
        abort(404)
    if moving_money and not may_move_money_for(current_user, member):
        raise Forbidden(
            _("Hanya perwakilan perusahaan yang boleh membayar atau menarik simpanan."),
            code="not_representative",
        )
    return member


def _amount(text: str | None) -> int | None:
    if not text or not text.strip():
        return None
    return parse_rupiah_input(text)


def _date_arg(name: str, errors: list[str]) -> dt.date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(_("Tanggal %(v)s tidak valid: gunakan format TTTT-BB-HH.", v=raw[:20]))
        return None


def _mine_context(member: Member) -> dict:
    """Each row read once and passed along: the member's accounts (balances, chart, pokok,
    what may be withdrawn), the open wajib (bills, arrears, pay options), the advance."""
    from members.ad.services import current_ad
    from members.register.admission import pokok_status
    from members.register.states import NUMBERED, MemberStatus

    ad = current_ad()
    group = ad.get_group(member.group_code)
    accounts = savings.member_accounts(member)
    balances = savings.member_balances(member, accounts)
    numbered = bool(member.member_no) and MemberStatus(member.status) in NUMBERED
    points = savings.chart_months(member, accounts=accounts)
    wajib = billing.wajib_position(member.id)
    sums = savings_queries.member_sums(member.id)
    return {
        "member": member,
        "group": group,
        "balances": balances,
        "pokok": pokok_status(member, ad, balances["pokok"] if numbered else None),
        "arrears_months": wajib.arrears_months,
        "arrears_idr": wajib.arrears_idr,
        "open_bills": wajib.bills,
        "open_checkouts": savings.open_checkouts(member),
        "advance_idr": sums.credit_idr,
        "wajib_options": savings.wajib_options(
            member, bills=wajib.bills, credit=sums.credit_idr, last_billed=sums.last_billed
        ),
        "chart": savings.chart_svg_geometry(points),
        "chart_points": points,
        "withdrawals": withdrawals.member_withdrawals(member),
        "available_idr": withdrawals.available_idr(
            member, balances["sukarela"] if member.member_no else 0, sums.pending_withdrawals_idr
        ),
        "payout_account": _payout_account(member),
        "is_active": member.status.value == "active",
        "sukarela_min": current_app.config.get(
            "KMP_SUKARELA_MIN_IDR", savings.DEFAULT_SUKARELA_MIN_IDR
        ),
    }


def _payout_account(member: Member):
    from members.savings.payout_accounts import effective_account

    return effective_account(member)


def _render_mine(member: Member, *, pay_form=None, withdraw_form=None, error=None, status=200):
    withdraw_form = withdraw_form or WithdrawForm()
    if not withdraw_form.token.data:
        from members.register.services import new_request_token

        withdraw_form.token.data = new_request_token()
    return (
        render_template(
            "members/savings/mine.html",
            pay_form=pay_form or PayForm(),
            withdraw_form=withdraw_form,
            pay_error=error,
            **_mine_context(member),
        ),
        status,
    )


# =========================================================================== member pages


@bp.get("/anggota/simpanan")
@role_required(R.ANGGOTA, R.PARTNER)
def mine():
    return _render_mine(_my_member())


@bp.post("/anggota/simpanan/bayar")
@role_required(R.ANGGOTA, R.PARTNER)
def pay():
    from kmp.payments.factory import get_gateway
    from kmp.payments.services import CheckoutUnavailable
    from members.savings.services import checkout_for_member

    member = _my_member(moving_money=True)
    form = PayForm()
    if not form.validate_on_submit():
        problems = [str(m) for errors in form.errors.values() for m in errors]
        return _render_mine(
            member, pay_form=form, error=" ".join(problems) or _("Isian tidak valid."), status=422
        )
    try:
        amount = _amount(form.amount.data)
    except MoneyError:
        return _render_mine(
            member,
            pay_form=form,
            error=_("Tulis jumlah dalam Rupiah, mis. 50000 atau 50.000."),
            status=422,
        )
    gateway = get_gateway(current_app._get_current_object())
    try:
        intent = savings.create_savings_intent(
            member,
            form.purpose.data,
            by_user=current_user,
            months=form.months.data,
            amount_idr=amount,
            finish_url=url_for("savings.payment_return"),
            gateway=gateway,
        )
        attempt = checkout_for_member(intent, gateway, member)
    except CheckoutUnavailable as error:
        if error.keep_attempt:
            db.session.commit()
        else:
            db.session.rollback()
        return _render_mine(member, pay_form=form, error=error.message, status=error.status)
    except DomainError as error:
        db.session.rollback()
        return _render_mine(member, pay_form=form, error=error.message, status=422)
    db.session.commit()
    return redirect(attempt.redirect_url, 303)


@bp.get("/anggota/simpanan/kembali")
@role_required(R.ANGGOTA, R.PARTNER)
def payment_return():
    """Where the gateway sends the member back (``?order_id=...``)."""
    from kmp.payments.services import find_attempt

    member = _my_member()
    order_id = (request.args.get("order_id") or "")[:50]
    attempt = find_attempt(order_id) if order_id else None
    if attempt is None or attempt.intent.member_id != member.id:
        flash(_("Pembayaran tidak ditemukan."), "error")
        return redirect(url_for("savings.mine"), 303)
    return redirect(url_for("savings.payment_status", intent_id=attempt.intent_id), 303)


@bp.get("/anggota/simpanan/pembayaran/<int:intent_id>")
@role_required(R.ANGGOTA, R.PARTNER)
def payment_status(intent_id: int):
    member = _my_member()
    try:
        intent = savings.intent_for_member(member, intent_id)
    except DomainError:
        abort(404)
    counted = next((a for a in intent.attempts if a.is_counted), None)
    last = intent.attempts[-1] if intent.attempts else None
    return render_template(
        "members/savings/payment.html",
        member=member,
        intent=intent,
        attempt=counted or last,
        paid=intent.status.value == "paid",
        balances=savings.member_balances(member),
        arrears_months=billing.arrears_months([member.id]).get(member.id, 0),
    )


@bp.get("/anggota/simpanan/mutasi")
@role_required(R.ANGGOTA, R.PARTNER)
def statement():
    member = _my_member()
    errors: list[str] = []
    kind = request.args.get("kind") or "sukarela"
    start, end = _date_arg("start", errors), _date_arg("end", errors)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    if kind not in savings.KINDS:
        errors.append(_("Jenis rekening tidak dikenal."))
        kind = "sukarela"
    if start and end and start > end:
        errors.append(_("Tanggal awal harus sebelum tanggal akhir."))
    fmt = request.args.get("format")
    if errors:
        return render_template(
            "members/savings/statement.html",
            member=member,
            kind=kind,
            start=None,
            end=None,
            statement=None,
            errors=errors,
            kinds=savings.KINDS,
            labels=savings.KIND_LABELS,
        ), 400
    if fmt:
        if fmt not in ("csv", "pdf"):
            abort(400)
        headers = [_("Tanggal"), _("Keterangan"), _("Masuk"), _("Keluar"), _("Saldo")]
        name = f"mutasi-{kind}-{member.member_no or member.id}"
        return send_export(
            savings.statement_rows(member, kind, start, end),
            headers,
            name,
            fmt,
            title=_(
                "Mutasi %(k)s %(no)s",
                k=str(savings.KIND_LABELS[kind]),
                no=member.member_no or "",
            ),
        )
    result = savings.savings_statement(member, savings.StatementFilter(kind, start, end, page))
    return render_template(
        "members/savings/statement.html",
        member=member,
        kind=kind,
        start=start,
        end=end,
        statement=result,
        errors=[],
        kinds=savings.KINDS,
        labels=savings.KIND_LABELS,
    )


@bp.post("/anggota/simpanan/tarik")
@role_required(R.ANGGOTA, R.PARTNER)
def withdraw_request():
    member = _my_member(moving_money=True)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _render_mine(member, withdraw_form=form, status=422)
    try:
        amount = parse_rupiah_input(form.amount.data)
    except MoneyError:
        form.amount.errors = [_("Tulis jumlah dalam Rupiah, mis. 50000 atau 50.000.")]
        return _render_mine(member, withdraw_form=form, status=422)
    try:
        withdrawals.request_withdrawal(
            member,
            amount,
            by_user=current_user,
            request_token=form.token.data,
            note=form.note.data,
        )
    except DomainError as error:
        db.session.rollback()
        form.amount.errors = [error.message]
        return _render_mine(member, withdraw_form=form, status=422)
    db.session.commit()
    flash(_("Pengajuan penarikan %(a)s dikirim ke bendahara.", a=format_rupiah(amount)), "success")
    return redirect(url_for("savings.mine"), 303)


# =========================================================================== board pages


def _arrears_page(form=None, status=200):
    today = business_date()
    group = request.args.get("group") or None
    return render_template(
        "members/savings/arrears.html",
        form=form or BillForm(month=month_key(today)),
        summary=billing.period_summary(today.replace(day=1)),
        rows=billing.arrears_list(today, group),
        group=group,
        can_bill=current_user.has_role(*DECIDERS),
    ), status


@bp.get("/pengurus/simpanan/tagihan")
@role_required(*BOARD)
def arrears():
    return _arrears_page()


@bp.post("/pengurus/simpanan/tagihan")
@role_required(*DECIDERS)
def bill_month():
    form = BillForm()
    if not form.validate_on_submit():
        return _arrears_page(form, 422)
    try:
        month = parse_month(form.month.data.strip())
    except ValueError:
        form.month.errors = [_("Tulis bulan sebagai TTTT-BB, mis. 2026-03.")]
        return _arrears_page(form, 422)
    if month > business_date().replace(day=1):
        form.month.errors = [_("Bulan yang belum dimulai tidak bisa ditagih.")]
        return _arrears_page(form, 422)
    result = billing.bill_wajib(month)
    db.session.commit()
    flash(
        _(
            "Tagihan %(m)s: %(n)s anggota baru ditagih (%(a)s).",
            m=month_key(result.period),
            n=result.created,
            a=format_rupiah(result.amount_idr),
        ),
        "success",
    )
    return redirect(url_for("savings.arrears"), 303)


def _queue_page(status_code=200, error_for=None, error=None, forms=None):
    status = request.args.get("status", "requested")
    if status not in {s.value for s in WithdrawalStatus} and status != "all":
        status = "requested"
    rows = withdrawals.withdrawal_queue(None if status == "all" else status)
    return render_template(
        "members/savings/withdrawals.html",
        rows=rows,
        status=status,
        approve_form=ApproveForm(),
        reason_form=ReasonForm(),
        error_for=error_for,
        error=error,
        can_decide=current_user.has_role(*WITHDRAWAL_DECIDERS),
        refusals=_queue_refusals(rows),
        balances={
            w.member_id: withdrawals.sukarela_balance(w.member)
            for w in rows
            if w.status is WithdrawalStatus.REQUESTED
        },
    ), status_code


def _queue_refusals(rows) -> dict[int, str]:
    """Per waiting request: why the viewer may not decide it (and who can), if so."""
    if not current_user.has_role(*WITHDRAWAL_DECIDERS):
        return {}
    out = {}
    for w in rows:
        if w.status is WithdrawalStatus.REQUESTED:
            refusal = guards.money_refusal(
                w.member, current_user, requested_by_id=w.requested_by_id
            )
            if refusal is not None:
                out[w.id] = refusal.message
    return out


@bp.get("/pengurus/simpanan/penarikan")
@role_required(*BOARD)
def withdrawal_queue():
    return _queue_page()


def _client_status(error: DomainError) -> int:
    return error.status if 400 <= error.status < 500 else 409


def _withdrawal_or_404(withdrawal_id: int) -> SukarelaWithdrawal:
    row = db.session.get(SukarelaWithdrawal, withdrawal_id)
    if row is None:
        abort(404)
    return row


@bp.post("/pengurus/simpanan/penarikan/<int:withdrawal_id>/setujui")
@role_required(*WITHDRAWAL_DECIDERS)
def withdrawal_approve(withdrawal_id: int):
    row = _withdrawal_or_404(withdrawal_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _queue_page(422, row.id, _("Isian tidak valid."))
    try:
        withdrawals.approve_withdrawal(
            row, current_user, method=form.method.data, reference=form.reference.data
        )
    except DomainError as error:
        db.session.rollback()
        return _queue_page(_client_status(error), row.id, error.message)
    db.session.commit()
    flash(_("Penarikan #%(id)s dibayar.", id=row.id), "success")
    return redirect(url_for("savings.withdrawal_queue"), 303)


@bp.post("/pengurus/simpanan/penarikan/<int:withdrawal_id>/tolak")
@role_required(*WITHDRAWAL_DECIDERS)
def withdrawal_reject(withdrawal_id: int):
    row = _withdrawal_or_404(withdrawal_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _queue_page(422, row.id, _("Alasan penolakan wajib diisi."))
    try:
        withdrawals.reject_withdrawal(row, current_user, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        return _queue_page(_client_status(error), row.id, error.message)
    db.session.commit()
    flash(_("Penarikan #%(id)s ditolak.", id=row.id), "success")
    return redirect(url_for("savings.withdrawal_queue"), 303)


# --------------------------------------------------------------------------- receipts


def _receipt_or_404(number: str) -> Receipt:
    receipt = db.session.scalar(select(Receipt).where(Receipt.number == number))
    if receipt is None:
        abort(404)
    if not current_user.has_role(*BOARD):
        mine = register_queries.member_for_user(current_user)
        if mine is None or mine.id != receipt.member_id:
            abort(404)
    return receipt


@bp.get("/kwitansi/<number>/pdf")
@role_required(*BOARD, R.ANGGOTA, R.PARTNER)
def receipt_pdf(number: str):
    receipt = _receipt_or_404(number)
    member = receipt.member
    method = _("Tunai") if receipt.method.value == "cash" else _("Transfer bank")
    from kmp.pdf import Document

    doc = Document(
        title=_("Kwitansi %(n)s", n=receipt.number),
        subject=f"{member.display_name} ({member.member_no or '-'})",
        period=receipt.received_on.isoformat(),
    )
    items = [
        (_("Nomor"), receipt.number),
        (_("Diterima dari"), f"{member.display_name} ({member.member_no or '-'})"),
        (_("Untuk"), _("Simpanan %(p)s", p=receipt.purpose.value)),
        (_("Jumlah"), format_rupiah(receipt.amount_idr)),
        (_("Cara bayar"), method + (f" - {receipt.reference}" if receipt.reference else "")),
        (_("Tanggal"), receipt.received_on.isoformat()),
        (_("Dicatat oleh"), receipt.recorded_by.full_name),
        (_("Jurnal"), f"#{receipt.entry_id}"),
    ]
    if receipt.void is not None:
        items.append((_("DIBATALKAN"), receipt.void.reason))
    doc.pairs(items, size=10)
    doc.signatures([_("Penyetor"), _("Bendahara")])
    response = Response(doc.output(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="kwitansi-{receipt.number}.pdf"'
    )
    return response


@bp.post("/kwitansi/<number>/batal")
@role_required(*DECIDERS)
def receipt_void(number: str):
    receipt = _receipt_or_404(number)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            savings.void_receipt(receipt, current_user, form.reason.data)
        except DomainError as error:
            db.session.rollback()
            form.reason.errors = [error.message]
            status = _client_status(error)
        else:
            db.session.commit()
            flash(_("Kwitansi %(n)s dibatalkan dengan jurnal pembalik.", n=number), "success")
            return redirect(url_for("savings.receipt_view", number=number), 303)
    else:
        status = 422
    return render_template(
        "members/receipt.html", receipt=receipt, member=receipt.member, void_form=form
    ), status


def init_savings_views(app) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _savings_globals():
        return {"savings_void_form": ReasonForm}
