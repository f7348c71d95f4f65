"""The board's rate table (versioned rates, income brackets, social-fund subsidy rules;
edited by the pengurus) and the monthly report (board, XLSX/CSV)."""

from __future__ import annotations

import datetime as dt
import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.money import MoneyError, parse_rupiah, parse_rupiah_input
from kmp.timeutil import add_months, business_date, month_key, parse_month
from members.ad.services import current_ad
from members.protection import billing, rates, reports
from members.protection.board_views import BOARD_READ, _month_arg, parse_percent_bp
from members.protection.forms import BracketsForm, RateForm, SubsidyForm
from members.protection.views import bp

R = Role


# =========================================================================== rate table


def _rates_page(status: int = 200, error: str | None = None, forms: dict | None = None):
    from members.ad.services import current_ad
    from members.protection.models import SubsidyRule

    forms = forms or {}
    subsidy_form = forms.get("subsidy") or SubsidyForm()
    subsidy_form.group_code.choices = [("", _("Semua kelompok"))] + [
        (g.code, g.name_id) for g in current_ad().groups
    ]
    next_month = month_key(add_months(business_date().replace(day=1), 1))
    return render_template(
        "members/protection/rates.html",
        history=rates.rate_history(),
        in_force=rates.rates_in_force(business_date()),
        brackets=rates.brackets_in_force(business_date()),
        next_brackets=rates.brackets_in_force(add_months(business_date(), 1)),
        subsidies=list(
            db.session.scalars(
                select(SubsidyRule)
                .order_by(SubsidyRule.effective_from.desc(), SubsidyRule.id.desc())
                .limit(100)
            )
        ),
        rate_form=forms.get("rate") or RateForm(effective_from=next_month),
        brackets_form=forms.get("brackets") or BracketsForm(effective_from=next_month),
        subsidy_form=subsidy_form,
        can_edit=current_user.has_role(R.PENGURUS),
        error=error,
        labels=rates.LABELS,
    ), status


@bp.get("/pengurus/bpjs/tarif")
@role_required(*BOARD_READ)
def rate_table():
    return _rates_page()


def _effective(text: str) -> dt.date:
    try:
        return parse_month((text or "").strip()[:7])
    except ValueError:
        raise DomainError(
            _("Tulis bulan sebagai TTTT-BB, mis. 2026-03."), field="effective_from"
        ) from None


def _amount(text: str | None) -> int | None:
    if not text or not text.strip():
        return None
    try:
        return parse_rupiah(text)
    except MoneyError:
        raise DomainError(
            _("Tulis jumlah dalam Rupiah, mis. 50000 atau 50.000."), field="amount"
        ) from None


def _rate_action(kind: str, form, apply) -> object:
    if not form.validate_on_submit():
        return _rates_page(422, _("Isian tidak valid."), {kind: form})
    try:
        apply(form)
    except DomainError as refusal:
        db.session.rollback()
        return _rates_page(422, refusal.message, {kind: form})
    db.session.commit()
    flash(_("Tabel tarif diperbarui."), "success")
    return redirect(url_for("protection.rate_table"), 303)


@bp.post("/pengurus/bpjs/tarif")
@role_required(R.PENGURUS)
def add_rate():
    def apply(form):
        programme = form.programme.data
        rates.add_rate(
            programme,
            effective_from=_effective(form.effective_from.data),
            rate_bp=parse_percent_bp(form.percent.data) if programme in ("jkk", "jht") else None,
            amount_idr=_amount(form.amount.data),
            participant_idr=_amount(form.participant.data),
            jkn_class=form.jkn_class.data or "" if programme == "jkn" else "",
            note=form.note.data,
            by_user=current_user,
        )

    return _rate_action("rate", RateForm(), apply)


@bp.post("/pengurus/bpjs/tarif/penghasilan")
@role_required(R.PENGURUS)
def set_brackets():
    def apply(form):
        parts = [p for p in re.split(r"[\s;]+|,(?!\d{3})", form.amounts.data or "") if p.strip()]
        try:
            amounts = [parse_rupiah_input(p) for p in parts]
        except MoneyError:
            raise DomainError(
                _("Tulis jumlah dalam Rupiah, mis. 50000 atau 50.000."), field="amounts"
            ) from None
        rates.set_brackets(
            amounts,
            effective_from=_effective(form.effective_from.data),
            note=form.note.data,
            by_user=current_user,
        )

    return _rate_action("brackets", BracketsForm(), apply)


@bp.post("/pengurus/bpjs/tarif/subsidi")
@role_required(R.PENGURUS)
def add_subsidy():
    def apply(form):
        billing.add_subsidy_rule(
            form.programme.data,
            share_bp=parse_percent_bp(form.percent.data),
            effective_from=_effective(form.effective_from.data),
            basis=form.basis.data,
            group_code=form.group_code.data or "",
            cap_idr=_amount(form.cap.data),
            by_user=current_user,
        )

    form = SubsidyForm()
    form.group_code.choices = []
    return _rate_action("subsidy", form, apply)


# =========================================================================== reports


@bp.get("/pengurus/bpjs/laporan")
@role_required(*BOARD_READ)
def report():
    period = _month_arg()
    rows = reports.month_report(period)
    fmt = request.args.get("format")
    if fmt:
        if fmt not in ("csv", "xlsx"):
            abort(400)
        return send_export(
            reports.report_cells(rows),
            reports.report_headers(),
            f"laporan-bpjs-{month_key(period)}",
            fmt,
            sheet_title=f"BPJS {month_key(period)}",
        )
    return render_template(
        "members/protection/report.html",
        period=period,
        rows=rows,
        totals=reports.totals(rows),
        group_names={g.code: g.name(str(get_locale())) for g in current_ad().groups},
        prev_month=add_months(period, -1),
        next_month=add_months(period, 1) if period < business_date().replace(day=1) else None,
    )
