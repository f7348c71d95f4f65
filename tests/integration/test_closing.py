"""Issue 20: the year-end close into SHU (closed_year_shu), its refusals, and the budget
(RAPB) with plan against actual; the demo year helper."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from kmp.errors import Conflict
from kmp.extensions import db
from kmp.ledger import closed_year_shu
from kmp.ledger.books.seed import seed_books_year
from kmp.ledger.chart import BANK, CASH, SHU_CURRENT
from kmp.ledger.closing.models import BudgetLine, YearEndClose
from kmp.ledger.closing.services import (
    BudgetError,
    close_fiscal_year,
    import_budget_xlsx,
    set_budget,
)
from kmp.ledger.models import ClosedPeriod, JournalEntry
from kmp.ledger.queries import balance_sheet, check_ledger, income_statement, trial_balance
from kmp.ledger.services import LedgerError, PeriodClosed, close_month
from tests.conftest import csrf_from
from tests.integration.books_support import (
    account_id,
    book,
    books_env,  # noqa: F401 - autouse fixture
    count,
    make_board,
    natural,
)


def year_2025():
    book("inc", [(BANK, 30_000_000), ("income:platform-fees", -30_000_000)], dt.date(2025, 3, 3))
    book("svc", [(CASH, 4_000_000), ("income:member-services", -4_000_000)], dt.date(2025, 7, 1))
    book("rent", [(BANK, -12_000_000), ("expense:operations", 12_000_000)], dt.date(2025, 5, 5))
    book("fee", [(BANK, -1_500_000), ("expense:gateway-fees", 1_500_000)], dt.date(2025, 12, 31))
    db.session.commit()


def test_year_end_close_books_the_result_into_shu_and_locks_the_year(make_user):
    year_2025()
    assert closed_year_shu(2025) is None
    close = close_fiscal_year(2025, by_user=make_user("pengurus"), note="BA RAT")
    db.session.commit()
    assert (close.income_idr, close.expense_idr, close.shu_idr) == (
        34_000_000,
        13_500_000,
        20_500_000,
    )
    assert closed_year_shu(2025) == 20_500_000
    entry = db.session.get(JournalEntry, close.entry_id)
    assert entry.entry_date == dt.date(2025, 12, 31) and entry.source_kind == "year_end_close"
    assert {(p.account.code, p.amount_idr) for p in entry.postings} == {
        ("income:platform-fees", 30_000_000),
        ("income:member-services", 4_000_000),
        ("expense:operations", -12_000_000),
        ("expense:gateway-fees", -1_500_000),
        (SHU_CURRENT, -20_500_000),
    }
    # the year's income statement still shows what it earned; the balance sheet holds SHU
    report = income_statement(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert report["surplus_idr"] == 20_500_000 and report["income"].total_idr == 34_000_000
    sheet = balance_sheet(dt.date(2025, 12, 31))
    assert sheet["balanced"] and sheet["unclosed_result_idr"] == 0
    assert (SHU_CURRENT, "SHU tahun berjalan", 20_500_000) in sheet["equity"].rows
    assert natural("income:platform-fees") == 0 and natural(SHU_CURRENT) == 20_500_000
    assert sum(r.balance_idr for r in trial_balance()) == 0 and check_ledger().ok
    # locked: nothing may be dated in 2025; closing twice is refused
    with pytest.raises(PeriodClosed, match="2025 sudah ditutup"):
        book("late", [(CASH, 1), ("income:other", -1)], dt.date(2025, 11, 1))
    db.session.rollback()
    with pytest.raises(Conflict, match="sudah ditutup"):
        close_fiscal_year(2025)


def test_closing_a_year_with_an_open_earlier_year_is_refused():
    book("old", [(CASH, 10_000), ("income:other", -10_000)], dt.date(2024, 4, 1))
    year_2025()
    with pytest.raises(LedgerError, match="2024 belum ditutup"):
        close_fiscal_year(2025)
    assert count(YearEndClose) == count(ClosedPeriod) == 0
    assert close_fiscal_year(2024).shu_idr == 10_000
    assert close_fiscal_year(2025).shu_idr == 20_500_000
    with pytest.raises(LedgerError, match="belum berakhir"):
        close_fiscal_year(2026)


def test_a_locked_december_still_takes_the_closing_entry():
    year_2025()
    close_month(2025, 12)
    close = close_fiscal_year(2025)
    assert close.entry_id is not None and closed_year_shu(2025) == 20_500_000
    db.session.commit()
    with pytest.raises(PeriodClosed):  # nothing else
        book("dec", [(CASH, 1), ("income:other", -1)], dt.date(2025, 12, 31))


def test_a_year_without_income_or_expense_closes_to_zero():
    book("grant", [(CASH, 5_000), ("equity:grants", -5_000)], dt.date(2025, 2, 1))
    close = close_fiscal_year(2025)
    assert (close.shu_idr, close.entry_id) == (0, None) and closed_year_shu(2025) == 0


def test_year_close_page_shows_the_shu_and_the_preview(client, login_as, csrf_token):
    year_2025()
    login_as("pengurus")
    html = client.get("/buku-besar/tutup-buku").get_data(as_text=True)
    assert 'data-testid="year-previews"' in html and "Rp 20.500.000" in html
    token = csrf_token("/buku-besar/tutup-buku")
    response = client.post(
        "/buku-besar/tutup-buku", data={"csrf_token": token, "fiscal_year": "2025"}
    )
    assert response.status_code == 303
    html = client.get("/buku-besar/tutup-buku").get_data(as_text=True)
    assert 'data-testid="shu-2025"' in html
    assert closed_year_shu(2025) == 20_500_000


# --------------------------------------------------------------------------- budget


def test_budget_plan_against_actual(client, login_as):
    year_2025()
    login_as("pengurus", "bendahara")
    page = client.get("/buku-besar/anggaran?tahun=2025").get_data(as_text=True)
    fees, rent = account_id("income:platform-fees"), account_id("expense:operations")
    data = {"csrf_token": csrf_from(page), f"plan-{fees}": "36 jt", f"plan-{rent}": "10.000.000"}
    response = client.post("/buku-besar/anggaran?tahun=2025", data=data)
    assert response.status_code == 303
    plan = {b.account_id: b.amount_idr for b in db.session.scalars(select(BudgetLine))}
    assert plan == {fees: 36_000_000, rent: 10_000_000}
    bad = client.post("/buku-besar/anggaran?tahun=2025", data=data | {f"plan-{rent}": "banyak"})
    assert bad.status_code == 422 and "tidak dapat dibaca" in bad.get_data(as_text=True)
    html = client.get("/buku-besar/anggaran/realisasi?tahun=2025").get_data(as_text=True)
    assert 'data-code="income:platform-fees"' in html and "83,3" in html  # 30 of 36 jt
    assert "120,0" in html  # rent 12 of 10 jt
    response = client.get("/buku-besar/anggaran/realisasi?tahun=2025&format=xlsx")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    fees_row = next(r for r in rows if r[1] == "income:platform-fees")
    assert fees_row[3:7] == (36_000_000, 30_000_000, -6_000_000, "83,3")
    assert rows[-1][2] == "SHU" and rows[-1][4] == 20_500_000
    # an empty field removes a plan; the pengawas only reads
    client.post("/buku-besar/anggaran?tahun=2025", data=data | {f"plan-{rent}": ""})
    assert count(BudgetLine) == 1
    login_as("pengawas")
    page = client.get("/buku-besar/anggaran?tahun=2025").get_data(as_text=True)
    assert f'name="plan-{fees}"' not in page
    assert client.post("/buku-besar/anggaran?tahun=2025", data=data).status_code == 403


def test_budget_of_a_closed_year_is_refused_and_xlsx_import_is_all_or_nothing():
    year_2025()
    close_fiscal_year(2025)
    with pytest.raises(BudgetError, match="sudah ditutup"):
        set_budget(2025, {account_id("expense:operations"): 1})
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Rencana anggaran 2027"])
    sheet.append(["Kode akun", "Nama", "Rencana (Rp)"])
    sheet.append(["income:platform-fees", "Kontribusi", 300_000_000])
    sheet.append(["expense:salaries", "Gaji", "120.000.000"])
    sheet.append(["asset:bank", "Bank", 1])
    out = io.BytesIO()
    workbook.save(out)
    with pytest.raises(BudgetError, match="Baris 5: kode akun asset:bank"):
        import_budget_xlsx(2027, io.BytesIO(out.getvalue()))
    assert count(BudgetLine) == 0
    sheet.delete_rows(5)
    out = io.BytesIO()
    workbook.save(out)
    assert import_budget_xlsx(2027, io.BytesIO(out.getvalue())) == {"saved": 2, "removed": 0}
    with pytest.raises(BudgetError, match="XLSX"):
        import_budget_xlsx(2027, io.BytesIO(b"not a workbook"))


# --------------------------------------------------------------------------- demo year


def test_seed_books_year_records_a_real_year_through_the_services(make_user):
    board = make_board(make_user)
    counts = seed_books_year(2025, board)
    db.session.commit()
    assert counts["entries"] > 70 and counts["approved"] > 20 and counts["journals"] == 2
    assert seed_books_year(2025, board) == {"entries": 0, "approved": 0, "journals": 0}
    report = income_statement(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    codes = {code for code, _n, _v in report["expense"].rows + report["income"].rows}
    assert {
        "expense:rent",
        "expense:salaries",
        "expense:gateway-fees",
        "expense:utilities",
        "expense:depreciation",
        "income:platform-fees",
        "income:member-services",
        "income:bank-interest",
    } <= codes
    assert report["surplus_idr"] > 0
    # the entries above the threshold were approved by the second board member
    checker = board["pengurus"]
    from kmp.ledger.books.models import CashEntry

    big = list(db.session.scalars(select(CashEntry).where(CashEntry.amount_idr > 5_000_000)))
    assert big and all(e.decided_by_id == checker.id for e in big)
    seed_books_year(2025, board, close=True)
    db.session.commit()
    assert closed_year_shu(2025) == report["surplus_idr"] and check_ledger().ok
    assert balance_sheet(dt.date(2025, 12, 31))["balanced"]
