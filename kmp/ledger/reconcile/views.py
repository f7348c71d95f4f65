"""Reconciliation pages (``/buku-besar/rekonsiliasi``): import a bank statement, match it to
the ledger (automatically and by hand), the monthly report, saved column mappings, and the
Midtrans settlement report. Board roles read; pengurus and bendahara import and match."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import BOARD_ROLES, Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.ledger.models import Account
from kmp.ledger.reconcile import queries
from kmp.ledger.reconcile.formats import BUILTIN_LAYOUTS
from kmp.ledger.reconcile.forms import (
    COLUMN_HELP,
    MappingForm,
    MatchForm,
    SettlementImportForm,
    StatementImportForm,
)
from kmp.ledger.reconcile.models import StatementMapping
from kmp.ledger.reconcile.services import (
    MappingInput,
    auto_match,
    import_bank_statement,
    import_midtrans_settlement,
    match_manually,
    save_mapping,
    statement_accounts,
    unmatch,
)
from kmp.ledger.web import export_format
from kmp.timeutil import business_date

bp = Blueprint("reconcile", __name__, url_prefix="/rekonsiliasi")
BOARD = (Role.PENGURUS, Role.BENDAHARA)
MAX_UPLOAD = 5 * 1024 * 1024


def _can_write() -> bool:
    return current_user.has_role(*BOARD)


def _layouts() -> list[tuple[str, str]]:
    mappings = db.session.scalars(select(StatementMapping).order_by(StatementMapping.name))
    return [(key, layout.name) for key, layout in BUILTIN_LAYOUTS.items()] + [
        (f"mapping:{m.id}", _("Pemetaan: %(name)s", name=m.name)) for m in mappings
    ]


def _import_form(form=None) -> StatementImportForm:
    form = form or StatementImportForm()
    form.set_choices(statement_accounts(), _layouts())
    return form


def _settlement_form(form=None) -> SettlementImportForm:
    form = form or SettlementImportForm()
    form.set_choices(statement_accounts())
    return form


def _month() -> tuple[int, int]:
    raw = request.args.get("bulan") or ""
    try:
        year, month = (int(p) for p in raw.split("-"))
        dt.date(year, month, 1)
        return year, month
    except ValueError:
        if raw:
            abort(400)
        today = business_date()
        return today.year, today.month


def _account_or_404(account_id: int) -> Account:
    account = {a.id: a for a in statement_accounts()}.get(account_id)
    if account is None:
        abort(404)
    return account


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return b"", ""
    return upload.stream.read(MAX_UPLOAD + 1), upload.filename


# --------------------------------------------------------------------------- index, import


def _render_index(form=None, status: int = 200):
    accounts = statement_accounts()
    summaries = []
    for account in accounts:
        summaries.append(
            (
                account,
                len(queries.unmatched_lines(account.id, limit=5000)),
                queries.imports(account.id, limit=1),
            )
        )
    return render_template(
        "ledger/reconcile/index.html",
        summaries=summaries,
        form=form or _import_form(),
        can_write=_can_write(),
        month=business_date().strftime("%Y-%m"),
    ), status


@bp.get("/")
@role_required(*BOARD_ROLES)
def index():
    return _render_index()


@bp.post("/impor")
@role_required(*BOARD)
def import_statement():
    form = _import_form()
    if not form.validate_on_submit():
        return _render_index(form, 422)
    data, filename = _upload()
    if len(data) > MAX_UPLOAD:
        form.file.errors = [_("Berkas terlalu besar: paling besar 5 MB.")]
        return _render_index(form, 413)
    try:
        summary = import_bank_statement(
            form.account.data, data, filename, form.layout.data, by_user=current_user
        )
        matched = auto_match(form.account.data, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        form.file.errors = [error.message]
        return _render_index(form, error.status)
    db.session.commit()
    batch = summary.batch
    flash(
        _(
            "%(new)s baris baru disimpan, %(dup)s sudah ada sebelumnya, %(skip)s baris bukan "
            "transaksi dilewati; %(matched)s baris langsung cocok dengan buku besar.",
            new=batch.new_count,
            dup=batch.duplicate_count,
            skip=summary.skipped,
            matched=matched,
        ),
        "success",
    )
    if summary.rounded:
        flash(_("%(n)s jumlah berisi sen dan dibulatkan ke Rupiah.", n=summary.rounded), "info")
    month = (batch.last_date or business_date()).strftime("%Y-%m")
    return redirect(
        url_for("ledger.reconcile.account", account_id=batch.account_id, bulan=month), 303
    )


# --------------------------------------------------------------------------- one account


def _render_account(
    account: Account, year: int, month: int, form=None, status: int = 200, error=None
):
    start, end = queries.month_bounds(year, month)
    matches = queries.matches(account.id, start, end)
    line_ids = {ml.bank_line_id for m in matches for ml in m.lines}
    posting_ids = {mp.posting_id for m in matches for mp in m.postings}
    return render_template(
        "ledger/reconcile/account.html",
        account=account,
        year=year,
        month=month,
        start=start,
        end=end,
        lines=queries.unmatched_lines(account.id, start, end),
        postings=queries.unmatched_postings(account.id, start, end),
        matches=matches,
        bank_lines=queries.bank_lines_by_id(line_ids),
        match_postings=queries.postings_by_id(posting_ids),
        form=form or MatchForm(),
        can_write=_can_write(),
        error=error,
        prev_month=(start - dt.timedelta(days=1)).strftime("%Y-%m"),
        next_month=(end + dt.timedelta(days=1)).strftime("%Y-%m"),
    ), status


@bp.get("/rekening/<int:account_id>")
@role_required(*BOARD_ROLES)
def account(account_id: int):
    year, month = _month()
    return _render_account(_account_or_404(account_id), year, month)


def _back(account_id: int):
    return redirect(
        url_for("ledger.reconcile.account", account_id=account_id, bulan=request.args.get("bulan")),
        303,
    )


@bp.post("/rekening/<int:account_id>/otomatis")
@role_required(*BOARD)
def auto(account_id: int):
    _account_or_404(account_id)
    if not MatchForm().validate_on_submit():
        abort(400)
    made = auto_match(account_id, by_user=current_user)
    db.session.commit()
    flash(_("%(n)s pasangan baru cocok otomatis.", n=made), "success")
    return _back(account_id)


def _ids(name: str) -> list[int]:
    values = []
    for raw in request.form.getlist(name):
        if not raw.isdigit():
            abort(400)
        values.append(int(raw))
    return values


@bp.post("/rekening/<int:account_id>/cocokkan")
@role_required(*BOARD)
def manual(account_id: int):
    account = _account_or_404(account_id)
    year, month = _month()
    form = MatchForm()
    if not form.validate_on_submit():
        return _render_account(account, year, month, form, 422)
    try:
        match_manually(
            account_id, _ids("line"), _ids("posting"), by_user=current_user, note=form.note.data
        )
    except DomainError as error:
        db.session.rollback()
        return _render_account(account, year, month, form, error.status, error.message)
    db.session.commit()
    flash(_("Dicocokkan."), "success")
    return _back(account_id)


@bp.post("/rekening/<int:account_id>/lepas/<int:match_id>")
@role_required(*BOARD)
def unmatch_view(account_id: int, match_id: int):
    _account_or_404(account_id)
    if not MatchForm().validate_on_submit():
        abort(400)
    try:
        unmatch(match_id, account_id)
    except DomainError as error:
        db.session.rollback()
        abort(error.status)
    db.session.commit()
    flash(_("Pencocokan dilepas."), "success")
    return _back(account_id)


@bp.get("/rekening/<int:account_id>/laporan")
@role_required(*BOARD_ROLES)
def report(account_id: int):
    account = _account_or_404(account_id)
    year, month = _month()
    data = queries.monthly_report(account.id, year, month)
    if fmt := export_format():
        return send_export(
            _report_rows(data),
            [_("Bagian"), _("Tanggal"), _("Keterangan"), _("Jumlah (Rp)")],
            f"rekonsiliasi-{account.code.replace(':', '-')}-{year:04d}-{month:02d}",
            fmt,
            title=_("Rekonsiliasi bank %(month)s", month=f"{year:04d}-{month:02d}"),
        )
    return render_template(
        "ledger/reconcile/report.html",
        account=account,
        report=data,
        year=year,
        month=month,
        exports={
            "xlsx": url_for(
                "ledger.reconcile.report",
                account_id=account.id,
                bulan=f"{year:04d}-{month:02d}",
                format="xlsx",
            ),
            "csv": url_for(
                "ledger.reconcile.report",
                account_id=account.id,
                bulan=f"{year:04d}-{month:02d}",
                format="csv",
            ),
        },
    )


def _report_rows(data):
    summary = _("Ringkasan")
    yield (summary, data.end, _("Saldo buku besar akhir bulan"), data.ledger_balance_idr)
    yield (summary, data.end, _("Saldo rekening koran akhir bulan"), data.bank_balance_idr)
    yield (summary, data.end, _("Uang masuk menurut bank (bulan ini)"), data.bank_in_idr)
    yield (summary, data.end, _("Uang keluar menurut bank (bulan ini)"), data.bank_out_idr)
    yield (
        summary,
        data.end,
        _("Baris mutasi bulan ini / cocok"),
        f"{data.bank_lines} / {data.matched_lines}",
    )
    for line in data.open_bank_lines:
        yield (_("Di bank, belum di buku besar"), line.line_date, line.description, line.amount_idr)
    for posting, entry in data.open_postings:
        yield (
            _("Di buku besar, belum di bank"),
            posting.entry_date,
            entry.description,
            posting.amount_idr,
        )
    yield (summary, data.end, _("Saldo bank seharusnya"), data.expected_bank_balance_idr)
    yield (summary, data.end, _("Selisih"), data.difference_idr)


# --------------------------------------------------------------------------- mappings


def _render_mappings(form=None, status: int = 200):
    return render_template(
        "ledger/reconcile/mappings.html",
        mappings=list(db.session.scalars(select(StatementMapping).order_by(StatementMapping.name))),
        builtins=BUILTIN_LAYOUTS,
        form=form or MappingForm(),
        can_write=_can_write(),
        column_help=COLUMN_HELP,
    ), status


@bp.get("/pemetaan")
@role_required(*BOARD_ROLES)
def mappings():
    return _render_mappings()


@bp.post("/pemetaan")
@role_required(*BOARD)
def save_mapping_view():
    form = MappingForm()
    if not form.validate_on_submit():
        return _render_mappings(form, 422)
    fields = {name: getattr(form, name).data for name in MappingInput.__dataclass_fields__}
    try:
        mapping = save_mapping(MappingInput(**fields), by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        target = getattr(form, error.field or "", None) or form.name
        target.errors = [*target.errors, error.message]
        return _render_mappings(form, error.status)
    db.session.commit()
    flash(_("Pemetaan %(name)s disimpan.", name=mapping.name), "success")
    return redirect(url_for("ledger.reconcile.mappings"), 303)


# --------------------------------------------------------------------------- Midtrans


def _render_midtrans(form=None, status: int = 200):
    return render_template(
        "ledger/reconcile/midtrans.html",
        form=form or _settlement_form(),
        rows=queries.settlement_rows(request.args.get("tampil")),
        can_write=_can_write(),
    ), status


@bp.get("/midtrans")
@role_required(*BOARD_ROLES)
def midtrans():
    return _render_midtrans()


@bp.post("/midtrans")
@role_required(*BOARD)
def import_midtrans():
    form = _settlement_form()
    if not form.validate_on_submit():
        return _render_midtrans(form, 422)
    data, filename = _upload()
    if len(data) > MAX_UPLOAD:
        form.file.errors = [_("Berkas terlalu besar: paling besar 5 MB.")]
        return _render_midtrans(form, 413)
    try:
        summary = import_midtrans_settlement(
            data, filename, form.account.data, by_user=current_user
        )
    except DomainError as error:
        db.session.rollback()
        form.file.errors = [error.message]
        return _render_midtrans(form, error.status)
    db.session.commit()
    flash(
        _(
            "%(booked)s transaksi dibukukan dalam %(entries)s entri; %(already)s sudah dibukukan "
            "sebelumnya; %(problems)s perlu diperiksa.",
            booked=summary.booked,
            entries=summary.entries,
            already=summary.already,
            problems=summary.problems,
        ),
        "success" if not summary.problems else "info",
    )
    return redirect(url_for("ledger.reconcile.midtrans"), 303)
