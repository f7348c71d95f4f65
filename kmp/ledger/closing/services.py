"""Closing use cases: month locks, the year-end close into SHU, and the budget (RAPB).

``close_fiscal_year`` books the year's income and expenses into ``equity:shu-current-year``
(Dr each income, Cr each expense, the difference to SHU; one entry dated 31 December, source
``year_end_close``) and then locks the year with ``close_period``. ``closed_year_shu`` is the
figure the SHU distribution takes as its default. Services flush; the boundary commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select

from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import SHU_CURRENT
from kmp.ledger.closing.models import BudgetLine, YearEndClose
from kmp.ledger.closing.queries import first_entry_year, year_end_close, year_result
from kmp.ledger.models import Account, AccountType
from kmp.ledger.services import (
    YEAR_END_SOURCE_KIND,
    LedgerError,
    close_month,
    close_period,
    closed_years,
    get_account,
    post_entry,
)
from kmp.timeutil import business_date

__all__ = [
    "close_fiscal_year",
    "close_month",
    "closed_year_shu",
    "import_budget_xlsx",
    "set_budget",
]


def closed_year_shu(fiscal_year: int) -> int | None:
    """The SHU (PHU figure) booked by the year-end close of ``fiscal_year``; None while the
    year has not been closed that way."""
    close = year_end_close(fiscal_year)
    return None if close is None else close.shu_idr


def open_earlier_years(fiscal_year: int) -> list[int]:
    """The years before ``fiscal_year`` (from the first entry on) that are still open."""
    first = first_entry_year()
    if first is None or first >= fiscal_year:
        return []
    closed = closed_years()
    return [y for y in range(first, fiscal_year) if y not in closed]


def close_fiscal_year(fiscal_year: int, *, by_user=None, note: str | None = None) -> YearEndClose:
    """Close the year's income and expenses into SHU and lock the year."""
    if fiscal_year in closed_years() or year_end_close(fiscal_year) is not None:
        raise Conflict(
            _("Tahun buku %(year)s sudah ditutup.", year=fiscal_year), code="already_closed"
        )
    if fiscal_year >= business_date().year:
        raise LedgerError(
            _(
                "Tahun buku %(year)s belum berakhir: tutup buku hanya untuk tahun yang sudah "
                "lewat.",
                year=fiscal_year,
            ),
            code="period_not_over",
        )
    earlier = open_earlier_years(fiscal_year)
    if earlier:
        raise LedgerError(
            _(
                "Tahun buku %(years)s belum ditutup: tutup tahun yang lebih awal dulu.",
                years=", ".join(str(y) for y in earlier),
            ),
            code="earlier_year_open",
        )
    result = year_result(fiscal_year)
    entry = None
    if result.rows:
        lines: list[tuple[int, int]] = [(r.account_id, -r.signed_idr) for r in result.rows]
        if result.shu_idr:
            lines.append((get_account(SHU_CURRENT).id, -result.shu_idr))
        entry = post_entry(
            idempotency_key=f"year-end-close:{fiscal_year}",
            description=f"Tutup buku {fiscal_year}: pendapatan dan beban ditutup ke SHU "
            f"tahun berjalan",
            lines=lines,
            source_kind=YEAR_END_SOURCE_KIND,
            source_id=str(fiscal_year),
            entry_date=dt.date(fiscal_year, 12, 31),
            posted_by=by_user,
        )
    close_period(fiscal_year, by_user=by_user, note=note)
    close = YearEndClose(
        fiscal_year=fiscal_year,
        income_idr=result.income_idr,
        expense_idr=result.expense_idr,
        shu_idr=result.shu_idr,
        entry_id=entry.id if entry is not None else None,
        closed_by_id=getattr(by_user, "id", by_user),
        note=note,
    )
    db.session.add(close)
    db.session.flush()
    return close


# --------------------------------------------------------------------------- budget


class BudgetError(DomainError):
    code = "budget_error"


def budget_accounts() -> list[Account]:
    """The accounts a budget is made of: every open income and expense account."""
    return list(
        db.session.scalars(
            select(Account)
            .where(
                Account.owner_id.is_(None),
                Account.is_closed.is_(False),
                Account.type.in_([AccountType.INCOME.value, AccountType.EXPENSE.value]),
            )
            .order_by(Account.type.desc(), Account.code)
        )
    )


def _check_budget_year(fiscal_year: int) -> None:
    if fiscal_year in closed_years():
        raise BudgetError(
            _(
                "Tahun buku %(year)s sudah ditutup: anggarannya tidak dapat diubah.",
                year=fiscal_year,
            ),
            field="year",
        )
    if not 2000 <= fiscal_year <= business_date().year + 5:
        raise BudgetError(_("Tahun anggaran tidak masuk akal."), field="year")


def set_budget(
    fiscal_year: int, amounts: Mapping[int, int | None], *, by_user=None
) -> dict[str, int]:
    """Set the plan of the given accounts (None removes an account's plan). Returns counts."""
    _check_budget_year(fiscal_year)
    allowed = {a.id for a in budget_accounts()}
    for account_id, amount in amounts.items():
        if account_id not in allowed:
            raise BudgetError(_("Anggaran hanya untuk akun pendapatan dan beban."), field="lines")
        if amount is not None and (
            isinstance(amount, bool) or not isinstance(amount, int) or amount < 0
        ):
            raise BudgetError(_("Rencana harus Rupiah bulat, tidak negatif."), field="lines")
    existing = {
        b.account_id: b
        for b in db.session.scalars(select(BudgetLine).where(BudgetLine.fiscal_year == fiscal_year))
    }
    counts = {"saved": 0, "removed": 0}
    by_id = getattr(by_user, "id", by_user)
    for account_id, amount in amounts.items():
        line = existing.get(account_id)
        if amount is None:
            if line is not None:
                db.session.delete(line)
                counts["removed"] += 1
            continue
        if line is None:
            db.session.add(
                BudgetLine(
                    fiscal_year=fiscal_year,
                    account_id=account_id,
                    amount_idr=amount,
                    updated_by_id=by_id,
                )
            )
            counts["saved"] += 1
        elif line.amount_idr != amount:
            line.amount_idr = amount
            line.updated_by_id = by_id
            counts["saved"] += 1
    db.session.flush()
    return counts


_CODE_HEADERS = {"kode akun", "kode", "code", "account code", "akun"}
_PLAN_HEADERS = {"rencana", "rencana (rp)", "anggaran", "anggaran (rp)", "plan", "budget"}


def import_budget_xlsx(fiscal_year: int, fileobj, *, by_user=None) -> dict[str, int]:
    """Read a workbook (first sheet: a header row with ``Kode akun`` and ``Rencana (Rp)``)
    and set those plans; any bad row refuses the whole file with its row number."""
    from openpyxl import load_workbook

    from kmp.ledger.reconcile.formats import parse_amount

    _check_budget_year(fiscal_year)
    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable workbook is the user's file
        raise BudgetError(_("Berkas bukan XLSX yang dapat dibaca."), field="file") from None
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    header_at = code_col = plan_col = None
    for index, row in enumerate(rows[:20]):
        names = [str(c or "").strip().lower() for c in row]
        codes = [i for i, n in enumerate(names) if n in _CODE_HEADERS]
        plans = [i for i, n in enumerate(names) if n in _PLAN_HEADERS]
        if codes and plans:
            header_at, code_col, plan_col = index, codes[0], plans[0]
            break
    if header_at is None:
        raise BudgetError(
            _("Baris judul tidak ditemukan: perlu kolom 'Kode akun' dan 'Rencana (Rp)'."),
            field="file",
        )
    by_code = {a.code: a.id for a in budget_accounts()}
    amounts: dict[int, int | None] = {}
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        code = str(row[code_col] or "").strip() if code_col < len(row) else ""
        raw = row[plan_col] if plan_col < len(row) else None
        if not code and raw in (None, ""):
            continue
        if code not in by_code:
            raise BudgetError(
                _(
                    "Baris %(n)s: kode akun %(code)s bukan akun pendapatan/beban.",
                    n=number,
                    code=code,
                ),
                field="file",
            )
        try:
            amount = None if raw in (None, "") else parse_amount(raw)
        except ValueError:
            raise BudgetError(
                _("Baris %(n)s: rencana %(value)s bukan jumlah Rupiah.", n=number, value=raw),
                field="file",
            ) from None
        if amount is not None and amount < 0:
            raise BudgetError(
                _("Baris %(n)s: rencana tidak boleh negatif.", n=number), field="file"
            )
        amounts[by_code[code]] = amount
    if not amounts:
        raise BudgetError(_("Berkas tidak berisi satu baris rencana pun."), field="file")
    return set_budget(fiscal_year, amounts, by_user=by_user)
