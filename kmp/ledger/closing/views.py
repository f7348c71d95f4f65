"""Closing pages: the month close (the year close is the ledger's ``/tutup-buku`` page, which
now closes the year into SHU), and the budget (RAPB) with plan against actual."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import BOARD_ROLES, Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.forms import ConfirmForm
from kmp.ledger.closing import queries
from kmp.ledger.closing.forms import BudgetImportForm, CloseMonthForm
from kmp.ledger.closing.services import (
    budget_accounts,
    close_month,
    import_budget_xlsx,
    set_budget,
)
from kmp.ledger.models import AccountType
from kmp.ledger.services import closed_years
from kmp.ledger.web import export_format, type_label
from kmp.money import MoneyError, parse_rupiah_input
from kmp.timeutil import business_date

bp = Blueprint("closing", __name__)


def percent_text(bp: int | None) -> str:
    """Basis points as an Indonesian percentage with one decimal: 8534 -> ``85,3``."""
    if bp is None:
        return ""
    sign = "-" if bp < 0 else ""
    tenths = abs(bp) // 10
    return f"{sign}{tenths // 10},{tenths % 10}"


CLOSER_ROLES = (Role.PENGURUS, Role.ADMIN)
BUDGET_ROLES = (Role.PENGURUS, Role.BENDAHARA)


@bp.post("/tutup-bulan")
@role_required(*CLOSER_ROLES)
def close_month_view():
    from kmp.ledger.views import render_periods

    form = CloseMonthForm()
    form.set_months(closable_months())
    if not form.validate_on_submit():
        return render_periods(month_form=form, status=422)
    year, month = (int(p) for p in form.month.data.split("-"))
    try:
        locks = close_month(
            year, month, by_user=current_user, note=(form.note.data or "").strip() or None
        )
    except DomainError as error:
        db.session.rollback()
        form.month.errors = [*form.month.errors, error.message]
        return render_periods(month_form=form, status=error.status)
    db.session.commit()
    flash(
        _("%(n)s bulan ditutup sampai dengan %(month)s.", n=len(locks), month=form.month.data),
        "success",
    )
    return redirect(url_for("ledger.periods"), 303)


def closable_months() -> list[tuple[str, str]]:
    """Ended months of the open years (newest first) that are not locked yet."""
    from kmp.ledger.services import MONTHS_ID, closed_periods

    today = business_date()
    closed = closed_periods()
    months = []
    year, month = today.year, today.month
    for _step in range(24):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        if (year, 0) in closed or (year, month) in closed:
            continue
        months.append((f"{year:04d}-{month:02d}", f"{MONTHS_ID[month - 1]} {year}"))
    return months


# --------------------------------------------------------------------------- budget


def _year() -> int:
    raw = request.args.get("tahun")
    if raw is None:
        return business_date().year + 1
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        abort(400)
    return int(raw)


def _render_budget(year: int, errors: dict | None = None, values: dict | None = None, status=200):
    plan = queries.budget_plan(year)
    accounts = budget_accounts()
    return render_template(
        "ledger/closing/budget.html",
        year=year,
        accounts=accounts,
        plan=plan,
        values=values or {},
        errors=errors or {},
        can_write=current_user.has_role(*BUDGET_ROLES),
        confirm=ConfirmForm(),
        import_form=BudgetImportForm(),
        type_label=type_label,
        closed=year in closed_years(),
    ), status


@bp.get("/anggaran")
@role_required(*BOARD_ROLES)
def budget():
    return _render_budget(_year())


@bp.post("/anggaran")
@role_required(*BUDGET_ROLES)
def save_budget():
    year = _year()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    amounts, errors, values = {}, {}, {}
    for account in budget_accounts():
        raw = (request.form.get(f"plan-{account.id}") or "").strip()
        values[account.id] = raw
        if not raw:
            amounts[account.id] = None
            continue
        try:
            amounts[account.id] = parse_rupiah_input(raw)
        except MoneyError:
            errors[account.id] = _("Jumlah tidak dapat dibaca.")
    if errors:
        return _render_budget(year, errors, values, 422)
    try:
        counts = set_budget(year, amounts, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _render_budget(year, {}, values, error.status)
    db.session.commit()
    flash(
        _(
            "Anggaran %(year)s disimpan: %(n)s akun diubah.",
            year=year,
            n=counts["saved"] + counts["removed"],
        ),
        "success",
    )
    return redirect(url_for("ledger.closing.budget", tahun=year), 303)


@bp.post("/anggaran/impor")
@role_required(*BUDGET_ROLES)
def import_budget():
    year = _year()
    form = BudgetImportForm()
    if not form.validate_on_submit():
        return _render_budget(year, status=422)
    upload = request.files["file"]
    try:
        counts = import_budget_xlsx(year, upload.stream, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _render_budget(year, status=error.status)
    db.session.commit()
    flash(_("Anggaran %(year)s diimpor: %(n)s akun.", year=year, n=counts["saved"]), "success")
    return redirect(url_for("ledger.closing.budget", tahun=year), 303)


@bp.get("/anggaran/realisasi")
@role_required(*BOARD_ROLES)
def budget_report():
    year = request.args.get("tahun", type=int) or business_date().year
    if not 2000 <= year <= 2100:
        abort(400)
    rows = queries.budget_vs_actual(year)
    totals = {}
    for type_ in (AccountType.INCOME, AccountType.EXPENSE):
        typed = [r for r in rows if r.type == type_]
        totals[type_] = (sum(r.plan_idr or 0 for r in typed), sum(r.actual_idr for r in typed))
    if fmt := export_format():
        headers = [
            _("Jenis"),
            _("Kode akun"),
            _("Nama akun"),
            _("Rencana (Rp)"),
            _("Realisasi (Rp)"),
            _("Selisih (Rp)"),
            _("Realisasi (%)"),
        ]
        data = [
            (
                type_label(r.type),
                r.code,
                r.name,
                r.plan_idr,
                r.actual_idr,
                r.difference_idr,
                percent_text(r.realisation_bp),
            )
            for r in rows
        ]
        income, expense = totals[AccountType.INCOME], totals[AccountType.EXPENSE]
        data.append(("", "", _("SHU"), income[0] - expense[0], income[1] - expense[1], "", ""))
        return send_export(
            data,
            headers,
            f"anggaran-realisasi-{year}",
            fmt,
            title=_("Rencana dan realisasi %(y)s", y=year),
        )
    return render_template(
        "ledger/closing/budget_report.html",
        year=year,
        rows=rows,
        totals=totals,
        income=AccountType.INCOME,
        expense=AccountType.EXPENSE,
        percent_text=percent_text,
    )
