"""The "Aktifkan akun" pages: a member without a login claims one with a code by phone."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from kmp.audit import record_event
from kmp.auth import InvalidResetCode, reset_code_ttl
from kmp.errors import DomainError
from kmp.extensions import db, limiter
from members.register.claim import claim_account, claim_key, request_claim_code
from members.register.views import bp

SESSION_KEY = "kmp_claim_member_no"


class ClaimStartForm(FlaskForm):
    member_no = StringField(_l("Nomor anggota"), validators=[DataRequired(), Length(max=40)])
    nik = StringField(_l("NIK (16 angka, sesuai KTP)"), validators=[DataRequired(), Length(max=30)])


class ClaimCodeForm(FlaskForm):
    code = StringField(
        _l("Kode 6 angka dari WhatsApp/SMS"), validators=[DataRequired(), Length(max=12)]
    )
    new = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[DataRequired(), EqualTo("new", message=_l("Kata sandi baru tidak sama."))],
    )


def _limit_claim_sends(view):
    """Codes are limited per member number and per client address, whether or not the member
    exists (the limit itself must not tell)."""
    per_target = limiter.limit(
        lambda: current_app.config["KMP_RESET_SEND_LIMIT_PER_TARGET"],
        key_func=lambda: "claim:" + claim_key(request.form.get("member_no") or ""),
        scope="claim-target",
        methods=["POST"],
        error_message="too_many_claim_requests",
    )
    per_address = limiter.limit(
        lambda: current_app.config["KMP_RESET_SEND_LIMIT_PER_ADDRESS"],
        scope="claim-address",
        methods=["POST"],
        error_message="too_many_claim_requests",
    )
    return per_address(per_target(view))


@bp.route("/aktifkan-akun", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"], methods=["POST"])
@_limit_claim_sends
def claim_start():
    if current_user.is_authenticated:
        return redirect(url_for("core.account"))
    form = ClaimStartForm()
    if form.validate_on_submit():
        request_claim_code(form.member_no.data, form.nik.data)
        db.session.commit()
        session[SESSION_KEY] = claim_key(form.member_no.data)
        flash(
            _(
                "Jika nomor anggota dan NIK cocok dengan anggota yang belum punya akun, kode 6 "
                "angka sudah dikirim ke nomor HP yang tercatat di koperasi. Kode berlaku "
                "%(minutes)s menit.",
                minutes=max(reset_code_ttl() // 60, 1),
            ),
            "info",
        )
        return redirect(url_for("register.claim_code"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("members/claim_start.html", form=form), status


@bp.route("/aktifkan-akun/kode", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"], methods=["POST"])
def claim_code():
    if current_user.is_authenticated:
        return redirect(url_for("core.account"))
    member_no = session.get(SESSION_KEY)
    if not member_no:
        return redirect(url_for("register.claim_start"))
    form = ClaimCodeForm()
    if form.validate_on_submit():
        try:
            user = claim_account(member_no, form.code.data, form.new.data)
        except InvalidResetCode as error:
            db.session.commit()  # the wrong code is counted
            form.code.errors = [*form.code.errors, error.message]
            return _code_page(form, member_no), 422
        except DomainError as error:  # a weak password: the code is not spent
            db.session.rollback()
            target = form.new if error.field != "code" else form.code
            target.errors = [*target.errors, error.message]
            return _code_page(form, member_no), 422
        record_event("members.account_claimed", f"users:{user.id}", after=member_no)
        db.session.commit()
        session.pop(SESSION_KEY, None)
        flash(
            _("Akun Anda sudah aktif. Masuk dengan nomor HP dan kata sandi baru Anda."),
            "success",
        )
        return redirect(url_for("core.login"), 303)
    status = 422 if request.method == "POST" else 200
    return _code_page(form, member_no), status


def _code_page(form, member_no: str):
    return render_template("members/claim_code.html", form=form, member_no=member_no)
