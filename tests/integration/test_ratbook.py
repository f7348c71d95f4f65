"""Issue 20 must-show 5: the RAT accountability book generated from a seeded, closed year —
every statement's figures equal the ledger's, the balance sheet balances, the comparative
column equals last year's closed figures; the PDF and the XLSX carry the same sections."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook

from kmp.extensions import db
from kmp.ledger.closing.services import closed_year_shu
from kmp.ledger.models import AccountType
from kmp.ledger.queries import balance_sheet, income_statement, natural_balance, trial_balance
from kmp.ledger.services import get_account
from payouts.ratbook import render, sections, statements
from payouts.ratbook.models import RatText, TextKind
from tests.integration.books_support import books_env, make_board  # noqa: F401 - autouse
from tests.integration.ratbook_support import seeded_years

END, PREV_END = dt.date(2025, 12, 31), dt.date(2024, 12, 31)


def _ledger_totals(as_of: dt.date) -> dict[str, int]:
    sheet = balance_sheet(as_of)
    return {
        "assets": sheet["assets"].total_idr,
        "liabilities": sheet["liabilities"].total_idr,
        "equity": sheet["equity"].total_idr,
        "unclosed_result": sheet["unclosed_result_idr"],
    }


def _natural_rows(as_of: dt.date) -> dict[str, int]:
    return {r.code: r.balance_idr * r.type.normal_sign for r in trial_balance(as_of)}


def test_the_book_equals_the_ledger(make_user):
    board = make_board(make_user)
    seeded_years(board)
    db.session.add_all(
        [
            RatText(
                fiscal_year=2025, kind=TextKind.BOARD, body="Tahun yang baik.\n\nTerima kasih."
            ),
            RatText(fiscal_year=2025, kind=TextKind.SUPERVISORY, body="Buku sudah kami periksa."),
        ]
    )
    db.session.commit()
    built = {s.key: s for s in sections.build_sections(2025)}
    assert list(built)[:3] == ["cover", "board_report", "balance_sheet"]
    assert built["board_report"].blocks == ["Tahun yang baik.", "Terima kasih."]
    assert "supervisory_report" in built and "loans" not in built  # no loans feature here

    # neraca: equals the ledger, balances, and last year's column is 2024's closed sheet
    sheet = built["balance_sheet"].figures
    now, before = _ledger_totals(END), _ledger_totals(PREV_END)
    assert {k: sheet[k] for k in now} == now
    assert {k: sheet["prev_" + k] for k in before} == before
    assert sheet["unclosed_result"] == 0 and sheet["prev_unclosed_result"] == 0  # both closed
    assert sheet["assets"] == sheet["liabilities_and_equity"]
    assert sheet["prev_assets"] == sheet["prev_liabilities_and_equity"]
    detail = statements.balance_sheet(2025)
    assert detail.balances
    rows_now, rows_before = _natural_rows(END), _natural_rows(PREV_END)
    for _key, _label, lines, total, prev_total in detail.groups:
        for code, _name, cur, prev in lines:
            assert cur == rows_now.get(code, 0), code
            assert prev == rows_before.get(code, 0), code
        assert total == sum(line[2] for line in lines)
        assert prev_total == sum(line[3] for line in lines)
    # the SHU booked by each close sits in equity at its year end
    shu_2024, shu_2025 = closed_year_shu(2024), closed_year_shu(2025)
    assert shu_2024 > 0 and shu_2025 > 0
    assert rows_before["equity:shu-current-year"] == shu_2024
    assert rows_now["equity:shu-current-year"] == shu_2024 + shu_2025

    # perhitungan hasil usaha: the year's income statement and the close's SHU, both years
    result = built["result_statement"].figures
    ledger = income_statement(dt.date(2025, 1, 1), END)
    assert (result["income"], result["expense"], result["shu"]) == (
        ledger["income"].total_idr,
        ledger["expense"].total_idr,
        shu_2025,
    )
    assert result["prev_shu"] == shu_2024
    assert result["depreciation"] == 3_000_000  # the demo's adjusting journal

    # arus kas: the three parts add up to the change in cash and bank in the ledger
    flow = built["cash_flow"].figures
    cash_codes = ("asset:cash", "asset:bank", "asset:gateway-clearing")
    cash_now = sum(natural_balance(get_account(c), END) for c in cash_codes)
    cash_before = sum(natural_balance(get_account(c), PREV_END) for c in cash_codes)
    assert (flow["opening_cash"], flow["closing_cash"]) == (cash_before, cash_now)
    assert flow["operating"] + flow["investing"] + flow["financing"] == cash_now - cash_before
    assert flow["net"] == cash_now - cash_before
    assert flow["investing"] == -12_000_000  # the demo year buys equipment for Rp12 juta

    # perubahan ekuitas: opening and closing are the ledger's equity, every row adds up
    equity = built["equity_changes"].figures
    assert equity["opening"] == before["equity"] and equity["closing"] == now["equity"]
    assert equity["opening"] + equity["increases"] - equity["decreases"] == equity["closing"]
    for _code, _name, opening, up, down, closing in statements.equity_changes(2025).rows:
        assert opening + up - down == closing

    # catatan: members per group; capital per group sums to the members' savings accounts
    notes = built["notes"].figures
    assert (notes["joined"], notes["exited"], notes["active"]) == (2, 1, 4)
    assert notes["pokok"] == rows_now["equity:savings:principal"] == 400_000
    assert notes["wajib"] == rows_now["equity:savings:mandatory"] == 900_000 + 1_100_000 - 300_000
    table = next(b for b in built["notes"].blocks if isinstance(b, sections.Table))
    by_group = {row[0]: row for row in table.rows}
    kurir = next(v for k, v in by_group.items() if k.lower().startswith("kurir"))
    assert kurir[1:4] == [1, 1, 1] and kurir[5] == 1  # d joined, c left, d is a woman

    # the SHU allocation: no run yet -> the AD table applied to the closed SHU, exactly
    allocation = built["shu_allocation"].figures
    assert allocation == {"shu": shu_2025, "allocated": shu_2025}

    # the renderings: one PDF, one workbook with a sheet per section
    pdf = render.book_pdf(2025)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    book = load_workbook(io.BytesIO(render.book_xlsx(2025)), read_only=True)
    assert len(book.sheetnames) == len(built)
    neraca = [r for r in book.worksheets[2].iter_rows(values_only=True)]
    assert ("JUMLAH ASET", now["assets"], before["assets"]) in [tuple(r[:3]) for r in neraca]


def test_book_of_a_year_without_texts_or_budget_leaves_those_sections_out(make_user):
    board = make_board(make_user)
    seeded_years(board)
    keys = [s.key for s in sections.build_sections(2025)]
    assert "board_report" not in keys and "supervisory_report" not in keys
    assert "next_budget" not in keys and "protection" not in keys
    assert keys[0] == "cover" and "balance_sheet" in keys


def test_income_and_expense_types_never_leak_into_the_closed_sheet(make_user):
    board = make_board(make_user)
    seeded_years(board)
    lines = statements.balances(END)
    assert all(
        line.amount_idr == 0
        for line in lines.values()
        if line.type in (AccountType.INCOME, AccountType.EXPENSE)
    )


def test_protection_figures_and_the_loans_gap(make_user, monkeypatch):
    from sqlalchemy import func, select

    from kmp.timeutil import set_clock
    from members.protection.models import Contribution
    from members.protection.rates import TRUST_ACCOUNTS
    from payouts.ratbook import figures
    from tests.integration.protection_support import bill_this_month, enrolled_member

    board = make_board(make_user)
    enrolled_member(7, board["bendahara"], board["pengurus"], jht=True)
    bill_this_month()
    billed = db.session.scalar(select(func.sum(Contribution.full_idr)))
    assert billed > 0
    set_clock(lambda: dt.datetime(2027, 1, 10, 3, 0, tzinfo=dt.UTC))  # the 2026 book
    built = {s.key: s for s in sections.build_sections(2026)}
    protection = built["protection"]
    assert protection.figures["billed"] == billed
    trust = sum(
        natural_balance(get_account(code), dt.date(2026, 12, 31))
        for code in TRUST_ACCOUNTS.values()
    )
    assert protection.figures["trust"] == trust
    # an open year: the sheet still balances with the unclosed result in equity
    sheet = built["balance_sheet"].figures
    assert sheet["assets"] == sheet["liabilities_and_equity"]
    # loans: no section without a loans table; a loans feature's figures once it exists
    assert "loans" not in built
    monkeypatch.setattr(figures, "loan_tables_present", lambda: True)
    monkeypatch.setattr(figures, "loan_figures", lambda year: (3, 4_500_000))
    loans = {s.key: s for s in sections.build_sections(2026)}["loans"]
    assert loans.figures == {"receivable": 4_500_000}
