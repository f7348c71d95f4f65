"""Bookkeeping pages (``/buku-besar/pembukuan``): income and expense entries with receipts,
manual journals, the approvals waiting, the board's chart of accounts.

Board roles read everything (the pengawas read-only); the bendahara records income and
expenses; pengurus and bendahara write journals, add accounts and check (approve or reject)
what another board member wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from kmp.auth import BOARD_ROLES, Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.forms import ConfirmForm
from kmp.ledger.books import queries
from kmp.ledger.books.approval import STATE_LABELS, ApprovalState
from kmp.ledger.books.forms import (
    AMOUNT_HELP,
    JOURNAL_ROWS,
    AccountForm,
    CashEntryForm,
    DecisionForm,
    JournalForm,
    RenameAccountForm,
)
from kmp.ledger.books.groups import GROUPS
from kmp.ledger.books.models import CashEntry, CashKind, ManualJournal, ReceiptFile
from kmp.ledger.books.receipts import max_bytes, receipt_response
from kmp.ledger.books.services import (
    CashEntryInput,
    JournalLineInput,
    add_account,
    approval_threshold_idr,
    approve_cash_entry,
    approve_manual_journal,
    category_accounts,
    create_manual_journal,
    delete_account,
    money_accounts,
    record_cash_entry,
    reject_cash_entry,
    reject_manual_journal,
    rename_account,
    reverse_cash_entry,
    reverse_manual_journal,
    withdraw_cash_entry,
    withdraw_manual_journal,
)
from kmp.ledger.forms import ReverseForm
from kmp.ledger.models import Account
from kmp.ledger.web import new_request_key
from kmp.timeutil import business_date

bp = Blueprint("books", __name__, url_prefix="/pembukuan")

TREASURER = (Role.BENDAHARA,)
BOARD = (Role.PENGURUS, Role.BENDAHARA)
_STATES = [(s.value, STATE_LABELS[s]) for s in ApprovalState]
KIND_SLUGS = {"pengeluaran": CashKind.EXPENSE, "pemasukan": CashKind.INCOME}


def _can_write() -> bool:
    return current_user.has_role(*BOARD)


def _month_arg() -> tuple[dt.date, dt.date] | None:
    raw = request.args.get("bulan") or ""
    try:
        year, month = (int(p) for p in raw.split("-"))
        start = dt.date(year, month, 1)
    except ValueError:
        return None
    end = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def _error_to_form(form, error: DomainError, fallback: str) -> None:
    target = getattr(form, error.field or "", None) or getattr(form, fallback)
    target.errors = [*target.errors, error.message]


# --------------------------------------------------------------------------- entries


@bp.get("/")
@role_required(*BOARD_ROLES)
def entries():
    status = request.args.get("status") or None
    if status not in (None, *[s.value for s in ApprovalState]):
        abort(400)
    kind = request.args.get("jenis") or None
    kind = KIND_SLUGS.get(kind) if kind else None
    period = _month_arg()
    rows = queries.cash_entries(status=status, kind=kind, period=period)
    return render_template(
        "ledger/books/entries.html",
        rows=rows,
        status=status,
        period=period,
        can_record=current_user.has_role(*TREASURER),
        threshold=approval_threshold_idr(),
        states=_STATES,
    )


def _entry_form(kind: CashKind, form: CashEntryForm | None = None) -> CashEntryForm:
    form = form or CashEntryForm()
    form.set_choices(category_accounts(kind), money_accounts())
    if request.method == "GET":
        form.entry_date.data = form.entry_date.data or business_date()
        form.request_key.data = new_request_key()
    return form


def _render_entry_form(kind: CashKind, form: CashEntryForm, status: int = 200):
    return render_template(
        "ledger/books/entry_form.html",
        form=form,
        kind=kind,
        slug=next(s for s, k in KIND_SLUGS.items() if k == kind),
        threshold=approval_threshold_idr(),
        max_kb=max_bytes() // 1024,
        amount_help=AMOUNT_HELP,
    ), status


@bp.route("/baru/<slug>", methods=["GET", "POST"])
@role_required(*TREASURER)
def new_entry(slug: str):
    kind = KIND_SLUGS.get(slug)
    if kind is None:
        abort(404)
    form = _entry_form(kind)
    if request.method == "GET":
        return _render_entry_form(kind, form)
    if not form.validate_on_submit() or not form.category.data:
        if form.category.data == 0 and not form.category.errors:
            form.category.errors = [_("Pilih kategori.")]
        return _render_entry_form(kind, form, 422)
    upload = request.files.get("receipt")
    receipt = None
    if upload is not None and upload.filename:
        receipt = (upload.stream.read(max_bytes() + 1), upload.filename)
    try:
        entry = record_cash_entry(
            CashEntryInput(
                kind=kind,
                amount_idr=form.amount_idr,
                entry_date=form.entry_date.data,
                category_account_id=form.category.data,
                money_account_id=form.money_account.data,
                counterparty=form.counterparty.data,
                description=form.description.data,
                reference=form.reference.data,
            ),
            by_user=current_user,
            receipt_upload=receipt,
            request_key=form.request_key.data or None,
        )
    except DomainError as error:
        db.session.rollback()
        form = _entry_form(kind, form)
        _error_to_form(form, error, "amount")
        return _render_entry_form(kind, form, error.status if error.status >= 400 else 422)
    db.session.commit()
    if entry.status == ApprovalState.POSTED:
        flash(_("Tercatat dan dibukukan (entri jurnal #%(id)s).", id=entry.entry_id), "success")
    else:
        flash(
            _("Tercatat. Jumlah di atas batas persetujuan: menunggu persetujuan pengurus kedua."),
            "info",
        )
    return redirect(url_for("ledger.books.entry_detail", entry_id=entry.id), 303)


@dataclass(frozen=True)
class _Kind:
    """One kind of bookkeeping document and the services that move it."""

    model: type
    template: str
    name: str  # the template variable
    detail: str  # the detail endpoint
    id_arg: str
    approve: Callable
    reject: Callable
    withdraw: Callable
    reverse: Callable


CASH = _Kind(
    CashEntry,
    "ledger/books/entry.html",
    "entry",
    "ledger.books.entry_detail",
    "entry_id",
    approve_cash_entry,
    reject_cash_entry,
    withdraw_cash_entry,
    reverse_cash_entry,
)
JOURNAL = _Kind(
    ManualJournal,
    "ledger/books/journal.html",
    "journal",
    "ledger.books.journal_detail",
    "journal_id",
    approve_manual_journal,
    reject_manual_journal,
    withdraw_manual_journal,
    reverse_manual_journal,
)
_DECIDED = {
    "approve": _l("Disetujui dan dibukukan."),
    "reject": _l("Ditolak: tidak ada yang dibukukan."),
    "withdraw": _l("Ditarik: tidak ada yang dibukukan."),
}


def _load(kind: _Kind, doc_id: int):
    doc = db.session.get(kind.model, doc_id)
    if doc is None:
        abort(404)
    return doc


def _render_doc(kind: _Kind, doc, *, decision=None, reverse=None, status: int = 200):
    me = current_user.id
    return render_template(
        kind.template,
        **{kind.name: doc},
        decision=decision or DecisionForm(),
        reverse=reverse or ReverseForm(),
        can_check=doc.is_pending and _can_write() and me != doc.created_by_id,
        can_withdraw=doc.is_pending and me == doc.created_by_id,
        can_reverse=doc.status == ApprovalState.POSTED and _can_write(),
    ), status


def _decide_view(kind: _Kind, doc_id: int):
    doc = _load(kind, doc_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render_doc(kind, doc, decision=form, status=422)
    action = form.action.data
    try:
        if action == "approve":
            kind.approve(doc, current_user, form.note.data)
        elif action == "reject":
            kind.reject(doc, current_user, form.note.data)
        else:
            kind.withdraw(doc, current_user)
    except DomainError as error:
        db.session.rollback()
        form.note.errors = [*form.note.errors, error.message]
        return _render_doc(kind, _load(kind, doc_id), decision=form, status=error.status)
    db.session.commit()
    flash(str(_DECIDED[action]), "success")
    return redirect(url_for(kind.detail, **{kind.id_arg: doc_id}), 303)


def _reverse_view(kind: _Kind, doc_id: int):
    doc = _load(kind, doc_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        return _render_doc(kind, doc, reverse=form, status=422)
    try:
        reversal = kind.reverse(doc, form.reason.data, current_user)
    except DomainError as error:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, error.message]
        return _render_doc(kind, _load(kind, doc_id), reverse=form, status=error.status)
    db.session.commit()
    flash(_("Dibatalkan dengan entri pembalik #%(id)s.", id=reversal.id), "success")
    return redirect(url_for(kind.detail, **{kind.id_arg: doc_id}), 303)


@bp.get("/<int:entry_id>")
@role_required(*BOARD_ROLES)
def entry_detail(entry_id: int):
    return _render_doc(CASH, _load(CASH, entry_id))


@bp.post("/<int:entry_id>/keputusan")
@role_required(*BOARD)
def decide_entry(entry_id: int):
    return _decide_view(CASH, entry_id)


@bp.post("/<int:entry_id>/batalkan")
@role_required(*BOARD)
def reverse_entry(entry_id: int):
    return _reverse_view(CASH, entry_id)


@bp.get("/bukti/<int:receipt_id>")
@role_required(*BOARD_ROLES)
def receipt(receipt_id: int):
    row = db.session.get(ReceiptFile, receipt_id)
    if row is None:
        abort(404)
    return receipt_response(row)


@bp.get("/menunggu")
@role_required(*BOARD_ROLES)
def pending():
    return render_template(
        "ledger/books/pending.html",
        entries=queries.cash_entries(status=ApprovalState.PENDING.value),
        journals=queries.manual_journals(status=ApprovalState.PENDING.value),
    )


# --------------------------------------------------------------------------- journals


@bp.get("/jurnal")
@role_required(*BOARD_ROLES)
def journals():
    status = request.args.get("status") or None
    if status not in (None, *[s.value for s in ApprovalState]):
        abort(400)
    return render_template(
        "ledger/books/journals.html",
        rows=queries.manual_journals(status=status),
        status=status,
        can_write=_can_write(),
        states=_STATES,
    )


def _journal_form() -> JournalForm:
    form = JournalForm()
    if request.method == "GET":
        rows = min(max(request.args.get("baris", JOURNAL_ROWS, type=int), 2), 40)
        while len(form.lines) < rows:
            form.lines.append_entry()
        form.entry_date.data = form.entry_date.data or business_date()
        form.request_key.data = new_request_key()
    else:
        while len(form.lines) < 2:
            form.lines.append_entry()
    form.set_accounts(queries.journal_accounts())
    return form


def _render_journal_form(form: JournalForm, status: int = 200, error: str | None = None):
    return render_template(
        "ledger/books/journal_form.html", form=form, error=error, amount_help=AMOUNT_HELP
    ), status


@bp.route("/jurnal/baru", methods=["GET", "POST"])
@role_required(*BOARD)
def new_journal():
    form = _journal_form()
    if request.method == "GET":
        return _render_journal_form(form)
    if not form.validate_on_submit():
        return _render_journal_form(form, 422)
    lines = [
        JournalLineInput(
            account_id=line.form.account.data or 0,
            debit_idr=line.form.debit_idr,
            credit_idr=line.form.credit_idr,
            memo=line.form.memo.data,
        )
        for line in form.lines
    ]
    try:
        journal = create_manual_journal(
            form.kind.data,
            form.entry_date.data,
            form.description.data,
            lines,
            by_user=current_user,
            request_key=form.request_key.data or None,
        )
    except DomainError as error:
        db.session.rollback()
        form = _journal_form()
        if error.field in ("entry_date", "description", "kind"):
            getattr(form, error.field).errors = [error.message]
            return _render_journal_form(form, error.status)
        return _render_journal_form(form, error.status, error.message)
    db.session.commit()
    flash(_("Jurnal #%(id)s tercatat: menunggu persetujuan pengurus kedua.", id=journal.id), "info")
    return redirect(url_for("ledger.books.journal_detail", journal_id=journal.id), 303)


@bp.get("/jurnal/<int:journal_id>")
@role_required(*BOARD_ROLES)
def journal_detail(journal_id: int):
    return _render_doc(JOURNAL, _load(JOURNAL, journal_id))


@bp.post("/jurnal/<int:journal_id>/keputusan")
@role_required(*BOARD)
def decide_journal(journal_id: int):
    return _decide_view(JOURNAL, journal_id)


@bp.post("/jurnal/<int:journal_id>/batalkan")
@role_required(*BOARD)
def reverse_journal(journal_id: int):
    return _reverse_view(JOURNAL, journal_id)


# --------------------------------------------------------------------------- chart


def _account_form(form: AccountForm | None = None) -> AccountForm:
    from kmp.i18n import as_text

    form = form or AccountForm()
    form.group.choices = [(g.key, as_text(g.label)) for g in GROUPS]
    return form


def _render_chart(form: AccountForm, status: int = 200, rename_error=None):
    return render_template(
        "ledger/books/chart.html",
        groups=queries.chart_by_group(),
        form=form,
        rename=RenameAccountForm(),
        can_write=_can_write(),
        rename_error=rename_error,
    ), status


@bp.get("/bagan-akun")
@role_required(*BOARD_ROLES)
def chart():
    return _render_chart(_account_form())


@bp.post("/bagan-akun")
@role_required(*BOARD)
def add_account_view():
    form = _account_form()
    if not form.validate_on_submit():
        return _render_chart(form, 422)
    try:
        account = add_account(
            form.name.data, form.group.data, code=form.code.data or None, by_user=current_user
        )
    except DomainError as error:
        db.session.rollback()
        _error_to_form(form, error, "name")
        return _render_chart(_account_form(form), error.status)
    db.session.commit()
    flash(_("Akun %(code)s ditambahkan.", code=account.code), "success")
    return redirect(url_for("ledger.books.chart"), 303)


def _account_or_404(account_id: int) -> Account:
    account = db.session.scalar(select(Account).where(Account.id == account_id))
    if account is None:
        abort(404)
    return account


@bp.post("/bagan-akun/<int:account_id>/ubah")
@role_required(*BOARD)
def rename_account_view(account_id: int):
    account = _account_or_404(account_id)
    form = RenameAccountForm()
    if not form.validate_on_submit():
        return _render_chart(_account_form(), 422, (account_id, form.name.errors))
    try:
        rename_account(account, form.name.data)
    except DomainError as error:
        db.session.rollback()
        return _render_chart(_account_form(), error.status, (account_id, [error.message]))
    db.session.commit()
    flash(_("Nama akun %(code)s diubah.", code=account.code), "success")
    return redirect(url_for("ledger.books.chart"), 303)


@bp.post("/bagan-akun/<int:account_id>/hapus")
@role_required(*BOARD)
def delete_account_view(account_id: int):
    account = _account_or_404(account_id)
    code = account.code
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        delete_account(account)
    except DomainError as error:
        db.session.rollback()
        return _render_chart(_account_form(), error.status, (account_id, [error.message]))
    db.session.commit()
    flash(_("Akun %(code)s dihapus.", code=code), "success")
    return redirect(url_for("ledger.books.chart"), 303)
