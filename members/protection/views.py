"""The member's social-protection pages: coverage and the monthly bill, enrolment and
changes, paying the bill online, the claim guide. (The board's pages: ``board_views``.)

Views parse input, call one service, commit, render or redirect. A refused form is shown
again with the message (422) and nothing is written.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import BOARD_ROLES, Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.money import format_rupiah
from kmp.timeutil import add_months, business_date
from members.protection import collection, coverage, rates
from members.protection import enrolment as enrolments
from members.protection.forms import FAMILY_SLOTS, EnrolmentForm
from members.protection.states import EnrolmentStatus
from members.register import queries as register_queries
from members.register.models import Member

bp = Blueprint("protection", __name__)
R = Role


def _my_member() -> Member:
    member = register_queries.member_for_user(current_user)
    if member is None:
        abort(404)
    return member


def _terms_view(enrolment):
    if enrolment is None:
        return None, []
    terms = enrolments.latest_terms(enrolment)
    month = terms.effective_from if terms is not None else business_date()
    return terms, enrolments.family_in(enrolment, max(month, business_date().replace(day=1)))


def _mine_context(member: Member) -> dict:
    enrolment = enrolments.enrolment_of(member)
    terms, family = _terms_view(enrolment)
    this_month = rates.month_start(business_date())
    quote = []
    if terms is not None:
        try:
            quote = rates.quote(
                terms.programmes,
                income_idr=terms.income_idr,
                jkn_class=terms.jkn_class,
                persons=1 + terms.family_count,
                month=max(terms.effective_from, this_month),
            )
        except DomainError:
            quote = []
    return {
        "member": member,
        "enrolment": enrolment,
        "terms": terms,
        "family": family,
        "coverage": coverage.coverage_for(member.id),
        "bill": collection.member_bill(member),
        "open_checkouts": collection.open_bill_checkouts(member),
        "quote": quote,
        "quote_total": sum(line.amount_idr for line in quote),
        "labels": rates.LABELS,
        "next_month": add_months(this_month, 1),
        "is_active": member.status.value == "active",
    }


def _render_mine(member: Member, *, error: str | None = None, status: int = 200):
    return render_template(
        "members/protection/mine.html", pay_error=error, **_mine_context(member)
    ), status


@bp.get("/anggota/perlindungan")
@role_required(R.ANGGOTA)
def mine():
    return _render_mine(_my_member())


# --------------------------------------------------------------------------- enrolment


def _income_choices(month) -> list[tuple[str, str]]:
    return [("", _("— pilih penghasilan —"))] + [
        (str(v), format_rupiah(v)) for v in rates.brackets_in_force(month)
    ]


def _form_for(member: Member, enrolment) -> EnrolmentForm:
    form = EnrolmentForm()
    if request.method == "GET" and enrolment is not None:
        terms = enrolments.latest_terms(enrolment)
        if terms is not None:
            form.tk.data = terms.jkk
            form.jht.data = terms.jht
            form.income.data = str(terms.income_idr or "")
            form.jkn_class.data = terms.jkn_class or ""
            form.auto_debit.data = enrolment.auto_debit
            people = enrolments.family_in(enrolment, terms.effective_from)
            for slot, person in zip(form.family.entries, people, strict=False):
                slot.form.full_name.data = person.full_name
                slot.form.nik.data = person.nik
                slot.form.relation.data = person.relation
    while len(form.family.entries) < FAMILY_SLOTS:
        form.family.append_entry()
    return form


def _choice(form: EnrolmentForm) -> enrolments.Choice:
    try:
        income = int(form.income.data) if form.income.data else None
    except (TypeError, ValueError):
        income = -1
    return enrolments.Choice(
        tk=bool(form.tk.data),
        jht=bool(form.jht.data),
        income_idr=income,
        jkn_class=form.jkn_class.data or None,
        family=tuple(
            enrolments.FamilyIn(
                entry.form.full_name.data or "",
                entry.form.nik.data or "",
                entry.form.relation.data or "",
            )
            for entry in form.family.entries
        ),
        consent=bool(form.consent.data),
        auto_debit=bool(form.auto_debit.data),
    )


@bp.route("/anggota/perlindungan/daftar", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def enrol():
    member = _my_member()
    enrolment = enrolments.enrolment_of(member)
    is_change = enrolment is not None and enrolment.status is EnrolmentStatus.CONFIRMED
    month = add_months(rates.month_start(business_date()), 1)
    form = _form_for(member, enrolment)
    form.income.choices = _income_choices(month)
    status, error = 200, None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                if is_change:
                    enrolments.change_terms(member, _choice(form), by_user=current_user)
                else:
                    enrolments.request_enrolment(member, _choice(form), by_user=current_user)
            except DomainError as refusal:
                db.session.rollback()
                status, error = 422, refusal.message
            else:
                db.session.commit()
                flash(
                    _("Perubahan tersimpan dan berlaku mulai %(m)s.", m=f"{month:%Y-%m}")
                    if is_change
                    else _("Pendaftaran BPJS terkirim ke bendahara untuk dikonfirmasi."),
                    "success",
                )
                return redirect(url_for("protection.mine"), 303)
        else:
            status = 422
            error = " ".join(
                str(m) for errors in form.errors.values() for m in errors if isinstance(m, str)
            ) or _("Isian tidak valid.")
    return render_template(
        "members/protection/enrol.html",
        form=form,
        member=member,
        enrolment=enrolment,
        is_change=is_change,
        month=month,
        error=error,
        consent_version=enrolments.CONSENT_VERSION,
        quote_rates=rates.rates_in_force(month),
    ), status


@bp.post("/anggota/perlindungan/batal")
@role_required(R.ANGGOTA)
def cancel():
    member = _my_member()  # (CSRFProtect checks the token of every POST)
    try:
        enrolments.cancel_enrolment(member, by_user=current_user)
    except DomainError as refusal:
        db.session.rollback()
        return _render_mine(member, error=refusal.message, status=422)
    db.session.commit()
    flash(_("Pendaftaran BPJS dibatalkan."), "success")
    return redirect(url_for("protection.mine"), 303)


# --------------------------------------------------------------------------- paying


@bp.post("/anggota/perlindungan/bayar")
@role_required(R.ANGGOTA)
def pay():
    from kmp.payments.factory import get_gateway
    from kmp.payments.services import CheckoutUnavailable
    from members.savings.services import checkout_for_member

    member = _my_member()
    gateway = get_gateway(current_app._get_current_object())
    try:
        intent = collection.create_bill_intent(
            member,
            by_user=current_user,
            finish_url=url_for("protection.payment_return"),
            gateway=gateway,
        )
        attempt = checkout_for_member(intent, gateway, member)
    except CheckoutUnavailable as refusal:
        if refusal.keep_attempt:
            db.session.commit()
        else:
            db.session.rollback()
        return _render_mine(member, error=refusal.message, status=refusal.status)
    except DomainError as refusal:
        db.session.rollback()
        return _render_mine(member, error=refusal.message, status=422)
    db.session.commit()
    return redirect(attempt.redirect_url, 303)


@bp.get("/anggota/perlindungan/kembali")
@role_required(R.ANGGOTA)
def payment_return():
    from kmp.payments.services import find_attempt

    member = _my_member()
    order_id = (request.args.get("order_id") or "")[:50]
    attempt = find_attempt(order_id) if order_id else None
    if attempt is None or attempt.intent.member_id != member.id:
        flash(_("Pembayaran tidak ditemukan."), "error")
        return redirect(url_for("protection.mine"), 303)
    return redirect(url_for("protection.payment_status", intent_id=attempt.intent_id), 303)


@bp.get("/anggota/perlindungan/pembayaran/<int:intent_id>")
@role_required(R.ANGGOTA)
def payment_status(intent_id: int):
    member = _my_member()
    try:
        intent = collection.bill_intent_for_member(member, intent_id)
    except DomainError:
        abort(404)
    counted = next((a for a in intent.attempts if a.is_counted), None)
    last = intent.attempts[-1] if intent.attempts else None
    return render_template(
        "members/protection/payment.html",
        member=member,
        intent=intent,
        attempt=counted or last,
        paid=intent.status.value == "paid",
        coverage=coverage.coverage_for(member.id),
    )


# --------------------------------------------------------------------------- claim guide


@bp.get("/perlindungan/klaim")
@role_required(R.ANGGOTA, *BOARD_ROLES)
def claim_guide():
    member = register_queries.member_for_user(current_user)
    from members.protection.claims import member_claims

    return render_template(
        "members/protection/claim_guide.html",
        claims=member_claims(member) if member is not None else [],
    )


def init_views(app) -> None:
    from members.protection import (  # noqa: F401 - routes on the same blueprint
        board_views,
        claim_views,
        rate_views,
    )

    app.register_blueprint(bp)
