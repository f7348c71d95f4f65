"""Demo data: a year of the cooperative's own income and expenses, recorded through the
bookkeeping services (so entries above the approval threshold are approved by a second board
member, and every posting goes through ``post_entries``).

``seed_books_year(year, users)`` is NOT a registered seed step: the demo wires it in. It is
idempotent (a second call for the same year records nothing) and returns what it recorded.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp.extensions import db
from kmp.ledger.books.approval import ApprovalState
from kmp.ledger.books.models import CashEntry, CashKind, JournalKind
from kmp.ledger.books.services import (
    CashEntryInput,
    JournalLineInput,
    add_account,
    approve_cash_entry,
    approve_manual_journal,
    create_manual_journal,
    record_cash_entry,
)
from kmp.ledger.chart import BANK, GATEWAY_CLEARING
from kmp.ledger.models import Account
from kmp.ledger.services import get_account

#: Board accounts the demo adds to the chart: (code slug, name, group).
DEMO_ACCOUNTS = (
    ("rent", "Beban sewa kantor", "expense_operations"),
    ("utilities", "Beban listrik, air dan internet", "expense_operations"),
    ("depreciation", "Beban penyusutan peralatan", "expense_depreciation"),
    ("bank-interest", "Pendapatan jasa giro bank", "income_other"),
    ("equipment", "Peralatan kantor", "non_current_assets"),
    ("accumulated-depreciation", "Akumulasi penyusutan peralatan", "non_current_assets"),
)
EQUIPMENT = "asset:equipment"
ACCUMULATED = "asset:accumulated-depreciation"


def _account(slug: str, name: str, group: str, by_user) -> Account:
    from kmp.ledger.books.groups import BY_KEY

    code = f"{BY_KEY[group].type.value}:{slug}"
    existing = db.session.scalar(select(Account).where(Account.code == code))
    return existing or add_account(name, group, code=slug, by_user=by_user)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)


def _plan(year: int) -> list[tuple[str, CashKind, int, dt.date, str, str, str]]:
    """(reference, kind, amount, date, category code, counterparty, description)."""
    plan = []
    for month in range(1, 13):
        end = _month_end(year, month)
        tag = f"{year}{month:02d}"
        plan += [
            (
                f"DEMO-{tag}-SEWA",
                CashKind.EXPENSE,
                3_500_000,
                dt.date(year, month, 5),
                "expense:rent",
                "CV Graha Mitra (pemilik ruko)",
                "Sewa kantor koperasi",
            ),
            (
                f"DEMO-{tag}-GAJI",
                CashKind.EXPENSE,
                9_000_000,
                dt.date(year, month, 25),
                "expense:salaries",
                "Staf administrasi dan customer service (2 orang)",
                "Gaji staf",
            ),
            (
                f"DEMO-{tag}-UTIL",
                CashKind.EXPENSE,
                650_000 + 25_000 * (month % 3),
                dt.date(year, month, 10),
                "expense:utilities",
                "PLN, PDAM dan penyedia internet",
                "Listrik, air dan internet kantor",
            ),
            (
                f"DEMO-{tag}-MDR",
                CashKind.EXPENSE,
                140_000 + 5_000 * month,
                end,
                "expense:gateway-fees",
                "PT Midtrans",
                "Biaya layanan payment gateway",
            ),
            (
                f"DEMO-{tag}-PLAT",
                CashKind.INCOME,
                20_000_000 + 500_000 * (month % 4),
                dt.date(year, month, 3),
                "income:platform-fees",
                "PT Ojek Nusantara (mitra platform)",
                "Kontribusi mitra platform",
            ),
            (
                f"DEMO-{tag}-JASA",
                CashKind.INCOME,
                2_750_000 + 150_000 * (month % 5),
                dt.date(year, month, 20),
                "income:member-services",
                "Anggota (servis dan pelatihan)",
                "Pendapatan jasa layanan anggota",
            ),
        ]
        if month % 3 == 0:
            plan.append(
                (
                    f"DEMO-{tag}-GIRO",
                    CashKind.INCOME,
                    85_000 + 4_000 * month,
                    end,
                    "income:bank-interest",
                    "Bank tempat rekening koperasi",
                    "Jasa giro triwulan",
                )
            )
    return plan


def seed_books_year(year: int, users: dict, *, close: bool = False) -> dict[str, int]:
    """Record a realistic year of the cooperative's own income and expenses (rent, staff
    salaries, utilities, gateway fees, platform contributions, member services, bank
    interest), an equipment purchase and its depreciation as manual journals. ``users`` holds
    ``bendahara`` (the maker) and ``pengurus`` (the second board member who approves).
    With ``close`` the year is then closed into SHU."""
    maker, checker = users["bendahara"], users["pengurus"]
    done = db.session.scalar(
        select(CashEntry.id).where(CashEntry.reference.like(f"DEMO-{year}%")).limit(1)
    )
    counts = {"entries": 0, "approved": 0, "journals": 0}
    if done is None:
        for slug, name, group in DEMO_ACCOUNTS:
            _account(slug, name, group, maker)
        bank = get_account(BANK)
        gateway = get_account(GATEWAY_CLEARING)
        codes = {a.code: a.id for a in db.session.scalars(select(Account))}
        for reference, kind, amount, day, category, counterparty, text in _plan(year):
            entry = record_cash_entry(
                CashEntryInput(
                    kind=kind,
                    amount_idr=amount,
                    entry_date=day,
                    category_account_id=codes[category],
                    money_account_id=(gateway if category == "expense:gateway-fees" else bank).id,
                    counterparty=counterparty,
                    description=f"{text} {day.strftime('%m/%Y')}",
                    reference=reference,
                ),
                by_user=maker,
            )
            counts["entries"] += 1
            if entry.status == ApprovalState.PENDING:
                approve_cash_entry(entry, checker, "Sesuai bukti")
                counts["approved"] += 1
        for day, description, lines in (
            (
                dt.date(year, 1, 15),
                "Pembelian laptop dan printer untuk administrasi",
                [(codes[EQUIPMENT], 12_000_000, 0), (bank.id, 0, 12_000_000)],
            ),
            (
                dt.date(year, 12, 31),
                "Penyusutan peralatan kantor tahun berjalan (garis lurus, 4 tahun)",
                [(codes["expense:depreciation"], 3_000_000, 0), (codes[ACCUMULATED], 0, 3_000_000)],
            ),
        ):
            journal = create_manual_journal(
                JournalKind.ADJUSTING if day.month == 12 else JournalKind.GENERAL,
                day,
                description,
                [JournalLineInput(a, debit, credit) for a, debit, credit in lines],
                by_user=maker,
            )
            approve_manual_journal(journal, checker, "Disetujui rapat pengurus")
            counts["journals"] += 1
    if close:
        from kmp.ledger.closing.queries import year_end_close
        from kmp.ledger.closing.services import close_fiscal_year

        if year_end_close(year) is None:
            close_fiscal_year(year, by_user=checker, note=f"Tutup buku demo {year}")
    db.session.flush()
    return counts
