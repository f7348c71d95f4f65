"""The member's payout account page and cancelling a pending withdrawal (issue 22)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from members.savings import payout_accounts as accounts
from members.savings import withdrawals
from members.savings.views import _my_member, bp

SESSION_KEY = "kmp_payout_change"


class PayoutAccountForm(FlaskForm):
    provider = SelectField(
        _l("Bank atau e-wallet"),
        choices=[SelectChoice("", _l("Pilih"))]
        + [SelectChoice(k, v) for k, v in accounts.EWALLETS.items()]
        + [SelectChoice(k, v) for k, v in accounts.BANKS.items()],
        validators=[DataRequired(_l("Pilih bank atau e-wallet."))],
    )
    number = StringField(
        _l("Nomor rekening / nomor HP e-wallet"),
        validators=[DataRequired(), Length(max=30)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    holder_name = StringField(
        _l("Nama pemilik (seperti di bank/e-wallet)"), validators=[DataRequired(), Length(max=120)]
    )
    code = StringField(
        _l("Kode konfirmasi"),
        validators=[Optional(), Length(max=10)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )


def _page(member, form, *, asking_code=False, status=200):
    return (
        render_template(
            "members/savings/payout_account.html",
            member=member,
            form=form,
            current=accounts.effective_account(member),
            pending=accounts.pending_account(member),
            asking_code=asking_code,
            delay_hours=int(accounts.CHANGE_DELAY.total_seconds() // 3600),
        ),
        status,
    )


@bp.route("/anggota/rekening-pencairan", methods=["GET", "POST"])
@role_required(Role.ANGGOTA, Role.PARTNER)
def payout_account():
    member = _my_member(moving_money=request.method == "POST")
    form = PayoutAccountForm()
    if request.method == "GET":
        return _page(member, form)
    if not form.validate_on_submit():
        return _page(member, form, status=422)
    data = accounts.AccountIn(form.provider.data, form.number.data, form.holder_name.data)
    secret = current_app.config["SECRET_KEY"]
    change = accounts.needs_code(member)
    try:
        if change and not (form.code.data or "").strip():
            accounts._clean(data)  # noqa: SLF001 - refuse a bad account before sending a code
            _code, record = accounts.issue_code(member, secret)
            session[SESSION_KEY] = record
            db.session.commit()
            flash(_("Kode konfirmasi dikirim ke HP/email Anda."), "info")
            return _page(member, form, asking_code=True)
        if change:
            record = session.get(SESSION_KEY)
            ok = accounts.check_code(record, form.code.data, secret)
            session[SESSION_KEY] = record
            if not ok:
                form.code.errors = [_("Kode salah atau sudah kedaluwarsa. Minta kode baru.")]
                return _page(member, form, asking_code=True, status=422)
        account = accounts.set_payout_account(member, data, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        field = getattr(form, error.field or "", None)
        if field is not None:
            field.errors = [*field.errors, error.message]
        else:
            flash(error.message, "error")
        return _page(member, form, asking_code=change and SESSION_KEY in session, status=422)
    db.session.commit()
    session.pop(SESSION_KEY, None)
    if change:
        from kmp.templating import jakarta_datetime

        flash(
            _(
                "Rekening baru %(acc)s tersimpan dan dipakai mulai %(when)s.",
                acc=account.describe(),
                when=jakarta_datetime(account.effective_at),
            ),
            "success",
        )
    else:
        flash(_("Rekening pencairan %(acc)s disimpan.", acc=account.describe()), "success")
    return redirect(url_for("savings.payout_account"), 303)


@bp.post("/anggota/simpanan/penarikan/<int:withdrawal_id>/batal")
@role_required(Role.ANGGOTA, Role.PARTNER)
def withdrawal_cancel(withdrawal_id: int):
    from flask import abort

    from members.savings.models import SukarelaWithdrawal

    member = _my_member(moving_money=True)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    row = db.session.get(SukarelaWithdrawal, withdrawal_id)
    if row is None or row.member_id != member.id:
        abort(404)
    try:
        withdrawals.cancel_withdrawal(row, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("savings.mine"), 303)
    db.session.commit()
    flash(_("Pengajuan penarikan dibatalkan; saldonya bisa ditarik lagi."), "success")
    return redirect(url_for("savings.mine"), 303)
