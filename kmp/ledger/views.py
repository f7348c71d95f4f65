"""Ledger pages (``/buku-besar``): chart of accounts, journal, entry detail and reversal,
trial balance, balance sheet, income statement, period close, and a member's own accounts.

Board roles (pengurus, bendahara, pengawas, admin) read everything; only pengurus/bendahara
reverse an entry and only pengurus/admin close a fiscal year. An anggota sees only the
accounts that the members feature links to their login (``kmp_member_accounts`` hook).
"""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from kmp.auth import BOARD_ROLES, Role, User, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.ledger import queries
from kmp.ledger.forms import (
    AsOfForm,
    ClosePeriodForm,
    JournalFilterForm,
    MemberAccountsFilterForm,
    PeriodForm,
    ReverseForm,
)
from kmp.ledger.models import Account, AccountType, ClosedPeriod, JournalEntry
from kmp.ledger.services import MONTHS_ID, closed_years, reverse_entry
from kmp.ledger.web import TYPE_LABELS, export_format, export_urls, type_label
from kmp.money import format_rupiah
from kmp.replica import replica_reads
from kmp.timeutil import business_date

bp = Blueprint("ledger", __name__, url_prefix="/buku-besar")

REVERSER_ROLES = (Role.PENGURUS, Role.BENDAHARA)
CLOSER_ROLES = (Role.PENGURUS, Role.ADMIN)
PAGE_SIZE = 50

_export_format = export_format
_export_urls = export_urls
_type_label = type_label


def _year_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 1, 1)


def _page_arg() -> int:
    try:
        return max(1, int(request.args.get("halaman", "1")))
    except ValueError:
        return 1


def _can_reverse() -> bool:
    return current_user.has_role(*REVERSER_ROLES)


# --- chart of accounts -------------------------------------------------------------------------


@bp.get("/")
@role_required(*BOARD_ROLES)
def accounts():
    rows = queries.chart_of_accounts()
    if fmt := _export_format():
        headers = [_("Kode akun"), _("Nama akun"), _("Jenis"), _("Jumlah akun"), _("Saldo (Rp)")]
        data = ((r.key, r.name, _type_label(r.type), r.account_count, r.balance_idr) for r in rows)
        return send_export(
            data, headers, f"bagan-akun-{business_date().isoformat()}", fmt, title=_("Bagan akun")
        )
    sections = [(t, TYPE_LABELS[t], [r for r in rows if r.type == t]) for t in AccountType]
    return render_template(
        "ledger/accounts.html", sections=sections, exports=_export_urls(), today=business_date()
    )


@bp.get("/akun-anggota")
@role_required(*BOARD_ROLES)
def member_accounts():
    kinds = queries.member_kind_prefixes()
    prefix = request.args.get("jenis", "")
    if prefix not in kinds:
        abort(404)
    form = MemberAccountsFilterForm(formdata=request.args)
    form.validate()
    search = form.q.data or ""
    after = request.args.get("setelah") or None
    rows, next_cursor = queries.member_accounts_page(
        prefix, search=search, after_code=after, limit=PAGE_SIZE
    )
    return render_template(
        "ledger/member_accounts.html",
        rows=rows,
        form=form,
        prefix=prefix,
        kind_name=kinds[prefix],
        kinds=kinds,
        next_cursor=next_cursor,
        after=after,
        search=search,
    )


@bp.get("/akun/<int:account_id>")
@role_required(*BOARD_ROLES)
def account(account_id: int):
    acc = db.session.get(Account, account_id)
    if acc is None:
        abort(404)
    form = PeriodForm(formdata=request.args)
    valid = form.validate()
    start = form.dari.data if valid else None
    end = form.sampai.data if valid else None
    statement = queries.member_statement([acc.id], start, end, _page_arg(), per_page=PAGE_SIZE)
    return render_template(
        "ledger/account.html",
        account=acc,
        statement=statement,
        form=form,
        type_label=_type_label(acc.type),
    ), (200 if valid else 400)


# --- journal -------------------------------------------------------------------------------


def _parse_cursor(raw: str | None) -> tuple[dt.date, int] | None:
    if not raw:
        return None
    try:
        day, entry_id = raw.split("_", 1)
        return dt.date.fromisoformat(day), int(entry_id)
    except ValueError:
        abort(400)


@bp.get("/jurnal")
@role_required(*BOARD_ROLES)
def journal():
    form = JournalFilterForm(formdata=request.args)
    form.set_source_kinds(queries.journal_source_kinds())
    valid = form.validate()
    account_id = None
    if valid and form.akun.data:
        account_id = db.session.scalar(select(Account.id).where(Account.code == form.akun.data))
        if account_id is None:
            form.akun.errors = [*form.akun.errors, _("Kode akun tidak ada di bagan akun.")]
            valid = False
    if not valid:
        return render_template(
            "ledger/journal.html",
            form=form,
            entries=[],
            next_cursor=None,
            exports=None,
            filtered=True,
        ), 400
    filters = queries.JournalFilter(
        start=form.dari.data,
        end=form.sampai.data,
        source_kind=form.sumber.data or None,
        account_id=account_id,
        text=form.q.data or None,
    )
    if fmt := _export_format():
        headers = [
            _("No. entri"),
            _("Tanggal"),
            _("Keterangan"),
            _("Jenis sumber"),
            _("No. sumber"),
            _("Kode akun"),
            _("Nama akun"),
            _("Debit (Rp)"),
            _("Kredit (Rp)"),
        ]
        return send_export(
            queries.iter_journal_lines(filters),
            headers,
            f"jurnal-{business_date().isoformat()}",
            fmt,
            title=_("Jurnal"),
        )
    before = _parse_cursor(request.args.get("sebelum"))
    entries, next_cursor = queries.journal_page(filters, before=before, limit=PAGE_SIZE)
    next_url = None
    if next_cursor is not None:
        args = {k: v for k, v in request.args.items() if k != "sebelum"}
        next_url = url_for(
            "ledger.journal", **args, sebelum=f"{next_cursor[0].isoformat()}_{next_cursor[1]}"
        )
    first_url = None
    if before is not None:
        args = {k: v for k, v in request.args.items() if k != "sebelum"}
        first_url = url_for("ledger.journal", **args)
    filtered = any(request.args.get(k) for k in ("dari", "sampai", "sumber", "akun", "q"))
    return render_template(
        "ledger/journal.html",
        form=form,
        entries=entries,
        next_url=next_url,
        first_url=first_url,
        exports=_export_urls(),
        filtered=filtered,
    )


def _entry_or_404(entry_id: int) -> JournalEntry:
    entry = db.session.get(JournalEntry, entry_id)
    if entry is None:
        abort(404)
    return entry


def _render_entry(entry: JournalEntry, form: ReverseForm, status: int = 200):
    reversed_by = queries.reversal_of(entry)
    can_reverse = _can_reverse() and entry.reverses_id is None and reversed_by is None
    posted_by = db.session.get(User, entry.posted_by_id) if entry.posted_by_id else None
    lines = sorted(entry.postings, key=lambda p: (p.amount_idr < 0, p.id))
    return render_template(
        "ledger/entry.html",
        entry=entry,
        lines=lines,
        reversed_by=reversed_by,
        can_reverse=can_reverse,
        form=form,
        posted_by=posted_by,
        total_idr=sum(p.amount_idr for p in entry.postings if p.amount_idr > 0),
    ), status


@bp.get("/entri/<int:entry_id>")
@role_required(*BOARD_ROLES)
def entry(entry_id: int):
    return _render_entry(_entry_or_404(entry_id), ReverseForm())


@bp.post("/entri/<int:entry_id>/batalkan")
@role_required(*REVERSER_ROLES)
def reverse(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        return _render_entry(entry, form, 422)
    try:
        reversal = reverse_entry(entry, form.reason.data, posted_by=current_user)
    except DomainError as error:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, error.message]
        return _render_entry(_entry_or_404(entry_id), form, 422)
    db.session.commit()
    flash(
        _(
            "Entri #%(id)s sudah dibatalkan dengan entri pembalik #%(new)s.",
            id=entry_id,
            new=reversal.id,
        ),
        "success",
    )
    return redirect(url_for("ledger.entry", entry_id=reversal.id), 303)


# --- reports -------------------------------------------------------------------------------


@bp.get("/neraca-saldo")
@role_required(*BOARD_ROLES)
@replica_reads()
def trial_balance():
    form = AsOfForm(formdata=request.args)
    if not form.validate():
        return render_template(
            "ledger/trial_balance.html", form=form, rows=[], exports=None, as_of=None
        ), 400
    as_of = form.per.data
    rows = queries.trial_balance(as_of)
    total_debit = sum(r.debit_idr for r in rows)
    total_credit = sum(r.credit_idr for r in rows)
    if fmt := _export_format():
        headers = [_("Kode akun"), _("Nama akun"), _("Jenis"), _("Debit (Rp)"), _("Kredit (Rp)")]
        data = [(r.code, r.name, _type_label(r.type), r.debit_idr, r.credit_idr) for r in rows]
        data.append(("", _("Jumlah"), "", total_debit, total_credit))
        label = (as_of or business_date()).isoformat()
        return send_export(data, headers, f"neraca-saldo-{label}", fmt, title=_("Neraca saldo"))
    return render_template(
        "ledger/trial_balance.html",
        form=form,
        rows=rows,
        as_of=as_of,
        total_debit=total_debit,
        total_credit=total_credit,
        exports=_export_urls(),
        type_labels=TYPE_LABELS,
    )


@bp.get("/neraca")
@role_required(*BOARD_ROLES)
@replica_reads()
def balance_sheet():
    form = AsOfForm(formdata=request.args)
    if not form.validate():
        return render_template(
            "ledger/balance_sheet.html", form=form, sheet=None, exports=None
        ), 400
    as_of = form.per.data or business_date()
    sheet = queries.balance_sheet(as_of)
    liabilities_and_equity = (
        sheet["liabilities"].total_idr + sheet["equity"].total_idr + sheet["unclosed_result_idr"]
    )
    if fmt := _export_format():
        headers = [_("Bagian"), _("Kode akun"), _("Nama akun"), _("Jumlah (Rp)")]
        data = []
        for key, label, total_label in (
            ("assets", _("Aset"), _("Jumlah aset")),
            ("liabilities", _("Kewajiban"), _("Jumlah kewajiban")),
            ("equity", _("Ekuitas"), _("Jumlah ekuitas")),
        ):
            section = sheet[key]
            data.extend((label, code, name, amount) for code, name, amount in section.rows)
            data.append((label, "", total_label, section.total_idr))
        data.append(
            (_("Ekuitas"), "", _("Hasil usaha belum ditutup"), sheet["unclosed_result_idr"])
        )
        data.append(("", "", _("Jumlah kewajiban dan ekuitas"), liabilities_and_equity))
        return send_export(data, headers, f"neraca-{as_of.isoformat()}", fmt, title=_("Neraca"))
    return render_template(
        "ledger/balance_sheet.html",
        form=form,
        sheet=sheet,
        as_of=as_of,
        liabilities_and_equity=liabilities_and_equity,
        exports=_export_urls(),
    )


@bp.get("/hasil-usaha")
@role_required(*BOARD_ROLES)
@replica_reads()
def income_statement():
    form = PeriodForm(formdata=request.args)
    if not form.validate():
        return render_template(
            "ledger/income_statement.html", form=form, report=None, exports=None
        ), 400
    today = business_date()
    end = form.sampai.data or today
    start = form.dari.data or _year_start(end)
    if start > end:
        start = _year_start(end)
    report = queries.income_statement(start, end)
    if fmt := _export_format():
        headers = [_("Bagian"), _("Kode akun"), _("Nama akun"), _("Jumlah (Rp)")]
        data = []
        for key, label, total_label in (
            ("income", _("Pendapatan"), _("Jumlah pendapatan")),
            ("expense", _("Beban"), _("Jumlah beban")),
        ):
            section = report[key]
            data.extend((label, code, name, amount) for code, name, amount in section.rows)
            data.append((label, "", total_label, section.total_idr))
        data.append(("", "", _("Sisa hasil usaha (SHU)"), report["surplus_idr"]))
        return send_export(
            data,
            headers,
            f"hasil-usaha-{start.isoformat()}-{end.isoformat()}",
            fmt,
            title=_("Laporan hasil usaha"),
        )
    return render_template(
        "ledger/income_statement.html",
        form=form,
        report=report,
        start=start,
        end=end,
        exports=_export_urls(),
    )


# --- period close --------------------------------------------------------------------------


def _closable_years() -> list[int]:
    current = business_date().year
    first = db.session.scalar(select(func.min(JournalEntry.entry_date)))
    first_year = min(first.year if first else current - 1, current - 1)
    first_year = max(first_year, current - 10)
    closed = closed_years()
    return [y for y in range(current - 1, first_year - 1, -1) if y not in closed]


def render_periods(form: ClosePeriodForm | None = None, month_form=None, status: int = 200):
    """The period page: closed years (with their SHU) and months, the year and month forms."""
    from kmp.ledger.closing.forms import CloseMonthForm
    from kmp.ledger.closing.queries import year_end_closes, year_result
    from kmp.ledger.closing.views import closable_months

    if form is None:
        form = ClosePeriodForm()
        form.set_years(_closable_years())
    if month_form is None:
        month_form = CloseMonthForm()
        month_form.set_months(closable_months())
    periods = db.session.execute(
        select(ClosedPeriod, User)
        .outerjoin(User, User.id == ClosedPeriod.closed_by_id)
        .order_by(ClosedPeriod.fiscal_year.desc(), ClosedPeriod.month.desc())
    ).all()
    previews = {year: year_result(year) for year in _closable_years()[:3]}
    return render_template(
        "ledger/periods.html",
        periods=periods,
        form=form,
        month_form=month_form,
        can_close=current_user.has_role(*CLOSER_ROLES),
        closes=year_end_closes(),
        previews=previews,
        months=MONTHS_ID,
    ), status


@bp.get("/tutup-buku")
@role_required(*BOARD_ROLES)
def periods():
    return render_periods()


@bp.post("/tutup-buku")
@role_required(*CLOSER_ROLES)
def close_period_view():
    """Close a fiscal year: its income and expenses into SHU, then lock it."""
    from kmp.ledger.closing.services import close_fiscal_year

    form = ClosePeriodForm()
    form.set_years(_closable_years())
    if not form.validate_on_submit():
        return render_periods(form, status=422)
    try:
        close = close_fiscal_year(
            form.fiscal_year.data, by_user=current_user, note=(form.note.data or "").strip() or None
        )
    except DomainError as error:
        db.session.rollback()
        form.fiscal_year.errors = [*form.fiscal_year.errors, error.message]
        return render_periods(form, status=422)
    db.session.commit()
    flash(
        _(
            "Tahun buku %(year)s sudah ditutup; SHU %(shu)s dibukukan ke SHU tahun berjalan.",
            year=close.fiscal_year,
            shu=format_rupiah(close.shu_idr),
        ),
        "success",
    )
    return redirect(url_for("ledger.periods"), 303)


# --- a member's own accounts ---------------------------------------------------------------


def _my_account_ids() -> list[int]:
    from kmp import signals

    answer = signals.ask(
        signals.member_accounts_requested,
        current_app._get_current_object(),
        user=current_user._get_current_object(),
    )
    return [int(i) for i in (answer or [])]


@bp.get("/saya")
@role_required(Role.ANGGOTA, Role.PARTNER)
def my_accounts():
    ids = _my_account_ids()
    if not ids:
        return render_template("ledger/my_none.html"), 404
    selected = request.args.get("akun", type=int)
    if selected is not None and selected not in ids:
        abort(404)
    form = PeriodForm(formdata=request.args)
    valid = form.validate()
    today = business_date()
    end = (form.sampai.data if valid else None) or today
    start = (form.dari.data if valid else None) or _year_start(end)
    if start > end:
        start = _year_start(end)
    accounts = list(
        db.session.scalars(select(Account).where(Account.id.in_(ids)).order_by(Account.code))
    )
    if not accounts:
        return render_template("ledger/my_none.html"), 404
    statement = queries.member_statement(
        [selected] if selected is not None else ids,
        start,
        end,
        _page_arg(),
        per_page=PAGE_SIZE,
        loaded=accounts,  # read just above: not read again
    )
    return render_template(
        "ledger/my_accounts.html",
        accounts=accounts,
        statement=statement,
        form=form,
        selected=selected,
        names={a.id: a.name for a in accounts},
        start=start,
        end=end,
    ), (200 if valid else 400)


def _register_sub_features() -> None:
    """The sub-features' pages live under this blueprint (``ledger.books.*``, ...)."""
    from kmp.ledger.books.views import bp as books
    from kmp.ledger.closing.views import bp as closing
    from kmp.ledger.reconcile.views import bp as reconcile

    for child in (books, reconcile, closing):
        bp.register_blueprint(child)


_register_sub_features()
