"""Issue 20, must show 1 and 2: income and expense entries with receipts and maker-checker
approval, manual journals, the board's chart of accounts, month and year locks."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kmp.errors import Forbidden, IllegalTransition
from kmp.extensions import db
from kmp.ledger.books.approval import ApprovalState
from kmp.ledger.books.models import AccountClass, CashEntry, CashKind, ManualJournal, ReceiptFile
from kmp.ledger.books.services import (
    BooksError,
    CashEntryInput,
    JournalLineInput,
    add_account,
    approval_threshold_idr,
    approve_cash_entry,
    approve_manual_journal,
    create_manual_journal,
    delete_account,
    record_cash_entry,
    reject_cash_entry,
    rename_account,
    reverse_manual_journal,
)
from kmp.ledger.chart import BANK, CASH, GATEWAY_CLEARING
from kmp.ledger.models import JournalEntry
from kmp.ledger.queries import income_statement
from kmp.ledger.services import PeriodClosed, close_month, close_period, get_account
from kmp.registry import get_registry
from tests.conftest import csrf_from
from tests.integration.books_support import (
    MINIMAL_PDF,
    TODAY,
    account_id,
    book,
    books_env,  # noqa: F401 - autouse fixture
    count,
    entries,
    jpeg_with_gps,
    make_board,
    natural,
    png_bytes,
)

NEW_EXPENSE = "/buku-besar/pembukuan/baru/pengeluaran"


@pytest.fixture
def board(make_user):
    return make_board(make_user)


@pytest.fixture
def receipts_dir(app):
    from pathlib import Path

    return Path(app.config["KMP_RECEIPT_DIR"])


def expense(amount: int, *, day: dt.date = TODAY, category: str = "expense:operations", **kw):
    return CashEntryInput(
        kind=CashKind.EXPENSE,
        amount_idr=amount,
        entry_date=day,
        category_account_id=account_id(category),
        money_account_id=account_id(kw.pop("money", BANK)),
        counterparty=kw.pop("counterparty", "CV Graha Mitra"),
        description=kw.pop("description", "Sewa kantor Maret"),
    )


def form_data(client, path: str = NEW_EXPENSE, **fields) -> dict:
    html = client.get(path).get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "request_key": html.split('name="request_key" type="hidden" value="')[1].split('"')[0],
        "amount": "7.500.000",
        "entry_date": TODAY.isoformat(),
        "category": str(account_id("expense:operations")),
        "money_account": str(account_id(BANK)),
        "counterparty": "CV Graha Mitra",
        "description": "Sewa kantor Maret 2026",
        "reference": "INV-2026-031",
    }
    data.update(fields)
    return data


# --------------------------------------------------------------------------- threshold


def test_threshold_comes_from_config_unless_a_provider_is_installed(app, monkeypatch):
    assert approval_threshold_idr() == 5_000_000
    monkeypatch.setitem(app.config, "KMP_EXPENSE_APPROVAL_THRESHOLD_IDR", 2_000_000)
    registry = get_registry(app)
    try:
        assert approval_threshold_idr() == 2_000_000
        registry.expense_threshold_provider = lambda: 750_000
        assert approval_threshold_idr() == 750_000
        registry.expense_threshold_provider = lambda: -1
        with pytest.raises(BooksError):
            approval_threshold_idr()
    finally:
        registry.expense_threshold_provider = None


def test_at_or_below_the_threshold_an_expense_posts_at_once(board):
    entry = record_cash_entry(expense(5_000_000), by_user=board["bendahara"])
    db.session.commit()
    assert entry.status == ApprovalState.POSTED and entry.entry_id
    posted = db.session.get(JournalEntry, entry.entry_id)
    assert {(p.account.code, p.amount_idr) for p in posted.postings} == {
        ("expense:operations", 5_000_000),
        (BANK, -5_000_000),
    }
    report = income_statement(dt.date(2026, 1, 1), TODAY)
    assert ("expense:operations", "Beban operasional", 5_000_000) in report["expense"].rows


def test_income_entry_credits_the_category(board):
    entry = record_cash_entry(
        CashEntryInput(
            kind=CashKind.INCOME,
            amount_idr=2_500_000,
            entry_date=TODAY,
            category_account_id=account_id("income:platform-fees"),
            money_account_id=account_id(GATEWAY_CLEARING),
            counterparty="PT Ojek Nusantara",
            description="Kontribusi mitra Februari",
        ),
        by_user=board["bendahara"],
    )
    db.session.commit()
    assert entry.status == ApprovalState.POSTED
    assert natural("income:platform-fees") == 2_500_000
    assert natural(GATEWAY_CLEARING) == 2_500_000


# --------------------------------------------------------------------------- must show 1


def test_expense_above_threshold_with_receipt_waits_for_a_second_board_member(
    client, login_as, board, receipts_dir
):
    maker, checker = board["bendahara"], board["pengurus"]
    login_as(user=maker)
    photo = jpeg_with_gps()
    assert Image.open(io.BytesIO(photo)).getexif().get(0x8825)  # GPS is in the original
    data = form_data(client, amount="10 jt")
    data["receipt"] = (io.BytesIO(photo), "nota-sewa.jpg")
    response = client.post(NEW_EXPENSE, data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    entry = db.session.scalar(select(CashEntry))
    assert (entry.amount_idr, entry.status) == (10_000_000, ApprovalState.PENDING)
    assert entry.entry_id is None and entries() == 0  # nothing posted yet
    # the receipt: stored privately, re-encoded without EXIF
    receipt = db.session.get(ReceiptFile, entry.receipt_id)
    stored = receipts_dir / receipt.storage_name
    assert stored.exists() and "static" not in str(stored)
    assert receipt.reencoded and receipt.media_type == "image/jpeg"
    with Image.open(stored) as clean:
        assert not clean.getexif() and clean.size == (64, 48)
    # the maker cannot approve: refused with a message, nothing posted
    detail = f"/buku-besar/pembukuan/{entry.id}"
    page = client.get(detail).get_data(as_text=True)
    assert 'data-testid="approve"' not in page and 'data-testid="withdraw"' in page
    token = csrf_from(page)
    response = client.post(f"{detail}/keputusan", data={"csrf_token": token, "action": "approve"})
    assert response.status_code == 403
    assert "Pembuat tidak dapat menyetujui" in response.get_data(as_text=True)
    assert entries() == 0
    # the receipt is served only through the board route, never statically
    assert client.get(f"/buku-besar/pembukuan/bukti/{receipt.id}").status_code == 200
    assert client.get(f"/static/{receipt.storage_name}").status_code == 404
    # the second board member approves: posted, in the income statement
    login_as(user=checker)
    page = client.get(detail).get_data(as_text=True)
    assert 'data-testid="approve"' in page and "nota-sewa.jpg" in page
    response = client.post(
        f"{detail}/keputusan",
        data={"csrf_token": csrf_from(page), "action": "approve", "note": "Sesuai nota"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    entry = db.session.get(CashEntry, entry.id)
    assert entry.status == ApprovalState.POSTED and entry.decided_by_id == checker.id
    assert db.session.get(JournalEntry, entry.entry_id).posted_by_id == checker.id
    html = client.get("/buku-besar/hasil-usaha").get_data(as_text=True)
    assert "Beban operasional" in html and "Rp 10.000.000" in html
    served = client.get(f"/buku-besar/pembukuan/bukti/{receipt.id}")
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("payload", "name", "status", "message"),
    [
        (b"\xff\xd8\xff" + b"\0" * (120 * 1024), "besar.jpg", 413, "paling besar 100 KB"),
        (b"MZ\x90\x00 this is a program", "nota.jpg", 415, "bukan salah satunya"),
        (b"<html><script>alert(1)</script></html>", "nota.pdf", 415, "bukan salah satunya"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "rusak.png", 415, "tidak dapat dibaca"),
        (
            MINIMAL_PDF.replace(
                b"trailer", b"4 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\ntrailer"
            ),
            "skrip.pdf",
            415,
            "skrip",
        ),
        (MINIMAL_PDF[:-8], "potong.pdf", 415, "rusak"),
    ],
)
def test_bad_receipts_are_refused_with_a_message_and_nothing_is_written(
    app, monkeypatch, client, login_as, board, receipts_dir, payload, name, status, message
):
    # a small limit keeps the upload in memory (the test client spools big bodies to disk)
    monkeypatch.setitem(app.config, "KMP_RECEIPT_MAX_BYTES", 100 * 1024)
    login_as(user=board["bendahara"])
    data = form_data(client)
    data["receipt"] = (io.BytesIO(payload), name)
    response = client.post(NEW_EXPENSE, data=data, content_type="multipart/form-data")
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert count(CashEntry) == count(ReceiptFile) == entries() == 0
    assert not receipts_dir.exists() or not any(receipts_dir.rglob("*.*"))


def test_a_valid_receipt_with_an_invalid_entry_writes_no_file(
    client, login_as, board, receipts_dir
):
    login_as(user=board["bendahara"])
    data = form_data(client, entry_date="2026-04-01")
    data["receipt"] = (io.BytesIO(png_bytes()), "nota.png")
    response = client.post(NEW_EXPENSE, data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "masa depan" in response.get_data(as_text=True)
    assert count(ReceiptFile) == 0
    assert not receipts_dir.exists() or not any(receipts_dir.rglob("*.*"))


def test_pdf_and_png_receipts_are_accepted(client, login_as, board, receipts_dir):
    login_as(user=board["bendahara"])
    for payload, name, media in (
        (MINIMAL_PDF, "faktur.pdf", "application/pdf"),
        (png_bytes(), "nota.png", "image/png"),
    ):
        data = form_data(client, amount="250000")
        data["receipt"] = (io.BytesIO(payload), name)
        assert (
            client.post(NEW_EXPENSE, data=data, content_type="multipart/form-data").status_code
            == 303
        )
        receipt = db.session.scalar(select(ReceiptFile).order_by(ReceiptFile.id.desc()))
        assert receipt.media_type == media
        served = client.get(f"/buku-besar/pembukuan/bukti/{receipt.id}")
        assert served.status_code == 200 and served.headers["Content-Type"].startswith(media)
        if media == "application/pdf":
            assert "attachment" in served.headers["Content-Disposition"]


@pytest.mark.parametrize("text", ["10.000.000", "10000000", "10 jt"])
def test_amounts_as_treasurers_type_them(client, login_as, board, text):
    login_as(user=board["bendahara"])
    response = client.post(NEW_EXPENSE, data=form_data(client, amount=text))
    assert response.status_code == 303
    assert db.session.scalar(select(CashEntry.amount_idr)) == 10_000_000


def test_bad_input_is_a_422_with_a_message_and_nothing_written(client, login_as, board):
    login_as(user=board["bendahara"])
    cases = [
        ({"amount": "sepuluh juta"}, "Jumlah tidak dapat dibaca"),
        ({"amount": "0"}, "lebih dari Rp 0"),
        ({"category": str(account_id(BANK))}, "Kategori harus akun pendapatan atau beban"),
        ({"entry_date": "2026-04-01"}, "masa depan"),
        ({"counterparty": ""}, "Pihak lawan wajib diisi"),
    ]
    for fields, message in cases:
        response = client.post(NEW_EXPENSE, data=form_data(client, **fields))
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True), fields
    assert count(CashEntry) == entries() == 0


def test_double_submit_records_once(client, login_as, board):
    login_as(user=board["bendahara"])
    data = form_data(client, amount="300000")
    assert client.post(NEW_EXPENSE, data=data).status_code == 303
    assert client.post(NEW_EXPENSE, data=data).status_code == 303
    assert count(CashEntry) == 1 and entries() == 1


def test_only_the_treasurer_records_and_pengawas_reads(client, login_as, board):
    login_as("pengurus")
    assert client.get(NEW_EXPENSE).status_code == 403
    login_as("pengawas")
    page = client.get("/buku-besar/pembukuan/")
    assert page.status_code == 200 and 'data-testid="new-expense"' not in page.get_data(
        as_text=True
    )
    entry = record_cash_entry(expense(9_000_000), by_user=board["bendahara"])
    db.session.commit()
    page = client.get(f"/buku-besar/pembukuan/{entry.id}").get_data(as_text=True)
    assert 'data-testid="approve"' not in page
    response = client.post(
        f"/buku-besar/pembukuan/{entry.id}/keputusan",
        data={"csrf_token": csrf_from(page), "action": "approve"},
    )
    assert response.status_code == 403 and entries() == 0


def test_state_machine_refuses_illegal_moves(board):
    maker, checker = board["bendahara"], board["pengurus"]
    entry = record_cash_entry(expense(8_000_000), by_user=maker)
    with pytest.raises(BooksError, match="Alasan penolakan"):
        reject_cash_entry(entry, checker, "")
    reject_cash_entry(entry, checker, "Nota tidak jelas")
    db.session.commit()
    with pytest.raises(IllegalTransition):
        approve_cash_entry(entry, checker)
    with pytest.raises(Forbidden):
        approve_cash_entry(record_cash_entry(expense(8_000_000), by_user=maker), maker)
    db.session.rollback()
    assert entries() == 0
    # the database holds maker != checker even if a service forgot
    entry = record_cash_entry(expense(8_000_000), by_user=maker)
    entry.decided_by_id = maker.id
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_posted_entry_is_reversed_never_edited(client, login_as, board):
    entry = record_cash_entry(expense(400_000), by_user=board["bendahara"])
    db.session.commit()
    login_as(user=board["pengurus"])
    page = client.get(f"/buku-besar/pembukuan/{entry.id}").get_data(as_text=True)
    url = f"/buku-besar/pembukuan/{entry.id}/batalkan"
    token = csrf_from(page)
    assert (
        client.post(url, data={"csrf_token": token, "reason": "Salah kategori"}).status_code == 303
    )
    db.session.expire_all()
    entry = db.session.get(CashEntry, entry.id)
    assert entry.status == ApprovalState.REVERSED and entry.reversal_entry_id
    assert natural("expense:operations") == 0
    assert (
        client.post(url, data={"csrf_token": token, "reason": "Dibatalkan lagi"}).status_code == 409
    )


# --------------------------------------------------------------------------- must show 2


def test_unbalanced_manual_journal_is_refused_with_a_message(client, login_as, board):
    login_as(user=board["bendahara"])
    html = client.get("/buku-besar/pembukuan/jurnal/baru").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "kind": "adjusting",
        "entry_date": "2026-03-10",
        "description": "Koreksi pencatatan biaya bank Februari",
        "lines-0-account": str(account_id("expense:other")),
        "lines-0-debit": "15.000",
        "lines-1-account": str(account_id(BANK)),
        "lines-1-credit": "12.500",
    }
    response = client.post("/buku-besar/pembukuan/jurnal/baru", data=data)
    assert response.status_code == 422
    assert "Jurnal tidak seimbang: debit Rp 15.000, kredit Rp 12.500" in response.get_data(
        as_text=True
    )
    assert count(ManualJournal) == entries() == 0
    data["lines-1-credit"] = "15.000"
    assert client.post("/buku-besar/pembukuan/jurnal/baru", data=data).status_code == 303
    journal = db.session.scalar(select(ManualJournal))
    assert journal.status == ApprovalState.PENDING and entries() == 0


def test_manual_journal_is_posted_by_a_second_member_and_corrected_by_reversal(board):
    maker, checker = board["bendahara"], board["pengurus"]
    lines = [
        JournalLineInput(account_id("expense:other"), debit_idr=15_000),
        JournalLineInput(account_id(BANK), credit_idr=15_000, memo="biaya transfer"),
    ]
    journal = create_manual_journal(
        "adjusting", TODAY, "Biaya transfer Maret", lines, by_user=maker
    )
    with pytest.raises(Forbidden):
        approve_manual_journal(journal, maker)
    approve_manual_journal(journal, checker)
    db.session.commit()
    assert journal.status == ApprovalState.POSTED
    assert natural("expense:other") == 15_000
    reversal = reverse_manual_journal(journal, "Ternyata biaya ditanggung bank", checker)
    db.session.commit()
    assert reversal.reverses_id == journal.entry_id and natural("expense:other") == 0
    assert journal.status == ApprovalState.REVERSED
    with pytest.raises(IllegalTransition):
        reverse_manual_journal(journal, "lagi", checker)


def test_manual_journal_refuses_member_accounts_and_bad_lines(board):
    from kmp.ledger.chart import open_member_accounts

    ids = open_member_accounts(1, "A-0001")
    maker = board["bendahara"]
    cases = [
        (
            [
                JournalLineInput(ids["sukarela"], debit_idr=1),
                JournalLineInput(account_id(CASH), credit_idr=1),
            ],
            "rekening anggota",
        ),
        ([JournalLineInput(account_id(CASH), debit_idr=5)], "paling sedikit dua baris"),
        (
            [
                JournalLineInput(account_id(CASH), debit_idr=5, credit_idr=5),
                JournalLineInput(account_id(BANK), credit_idr=5),
            ],
            "salah satu saja",
        ),
    ]
    for lines, message in cases:
        with pytest.raises(BooksError, match=message):
            create_manual_journal("general", TODAY, "Jurnal uji coba", lines, by_user=maker)
    assert count(ManualJournal) == 0


def test_back_dated_entries_into_a_closed_month_or_year_are_refused(client, login_as, board):
    maker, checker = board["bendahara"], board["pengurus"]
    book("feb", [(CASH, 1_000), ("income:other", -1_000)], dt.date(2026, 2, 3))
    close_period(2025)
    locks = close_month(2026, 2, by_user=checker)
    db.session.commit()
    assert [(lock.fiscal_year, lock.month) for lock in locks] == [(2026, 1), (2026, 2)]
    # manual journal into the closed month: refused at once, with the month named
    lines = [
        JournalLineInput(account_id(CASH), debit_idr=5),
        JournalLineInput(account_id(BANK), credit_idr=5),
    ]
    with pytest.raises(PeriodClosed, match="Bulan Februari 2026 sudah ditutup"):
        create_manual_journal("general", dt.date(2026, 2, 20), "Koreksi kas", lines, by_user=maker)
    with pytest.raises(PeriodClosed, match="Tahun buku 2025 sudah ditutup"):
        record_cash_entry(expense(1_000, day=dt.date(2025, 12, 30)), by_user=maker)
    # an automatic posting is refused just the same
    with pytest.raises(PeriodClosed, match="Februari 2026"):
        book("auto", [(CASH, 1), ("income:other", -1)], dt.date(2026, 2, 28), kind="payment")
    db.session.rollback()
    # a journal written in an open month whose month is closed before approval
    journal = create_manual_journal(
        "general", dt.date(2026, 3, 2), "Koreksi kas", lines, by_user=maker
    )
    db.session.commit()
    login_as(user=checker)
    from kmp.ledger.models import ClosedPeriod

    db.session.add(ClosedPeriod(fiscal_year=2026, month=3))
    db.session.commit()
    page = client.get(f"/buku-besar/pembukuan/jurnal/{journal.id}").get_data(as_text=True)
    response = client.post(
        f"/buku-besar/pembukuan/jurnal/{journal.id}/keputusan",
        data={"csrf_token": csrf_from(page), "action": "approve"},
    )
    assert response.status_code == 409
    assert "Maret 2026 sudah ditutup" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ManualJournal, journal.id).status == ApprovalState.PENDING
    assert entries() == 1


def test_month_close_page_and_rules(client, login_as, csrf_token):
    from kmp.errors import Conflict
    from kmp.ledger.services import LedgerError

    with pytest.raises(LedgerError, match="belum berakhir"):
        close_month(2026, 3)
    login_as("pengurus")
    token = csrf_token("/buku-besar/tutup-buku")
    response = client.post(
        "/buku-besar/tutup-bulan", data={"csrf_token": token, "month": "2026-01"}
    )
    assert response.status_code == 303
    html = client.get("/buku-besar/tutup-buku").get_data(as_text=True)
    assert 'data-period="2026-01"' in html and '<option value="2026-01"' not in html
    with pytest.raises(Conflict):
        close_month(2026, 1)
    login_as("pengawas")
    assert (
        client.post(
            "/buku-besar/tutup-bulan", data={"csrf_token": token, "month": "2026-02"}
        ).status_code
        == 403
    )


# --------------------------------------------------------------------------- chart


def test_board_extends_the_chart_under_fixed_groups(client, login_as):
    login_as("pengurus")
    page = client.get("/buku-besar/pembukuan/bagan-akun").get_data(as_text=True)
    assert 'data-testid="group-cash_bank"' in page and "asset:bank" in page
    data = {
        "csrf_token": csrf_from(page),
        "name": "Beban sewa kantor",
        "group": "expense_operations",
    }
    assert client.post("/buku-besar/pembukuan/bagan-akun", data=data).status_code == 303
    rent = get_account("expense:beban-sewa-kantor")
    assert rent.type.value == "expense"
    again = client.post("/buku-besar/pembukuan/bagan-akun", data=data)
    assert again.status_code == 409 and "sudah ada" in again.get_data(as_text=True)
    bad = client.post("/buku-besar/pembukuan/bagan-akun", data=data | {"group": "nowhere"})
    assert bad.status_code == 422
    # the new account is a category for expenses
    login_as("pengurus", "bendahara")
    assert "expense:beban-sewa-kantor" in client.get(NEW_EXPENSE).get_data(as_text=True)
    # pengawas: read-only
    login_as("pengawas")
    page = client.get("/buku-besar/pembukuan/bagan-akun").get_data(as_text=True)
    assert 'data-testid="account-form"' not in page
    assert client.post("/buku-besar/pembukuan/bagan-akun", data=data).status_code == 403


def test_system_accounts_cannot_be_renamed_or_deleted(client, login_as, board):
    with pytest.raises(BooksError, match="Akun sistem"):
        rename_account(get_account(BANK), "Bank saya")
    with pytest.raises(BooksError, match="Akun sistem"):
        delete_account(get_account(BANK))
    login_as("pengurus")
    token = csrf_from(client.get("/buku-besar/pembukuan/bagan-akun").get_data(as_text=True))
    bank = account_id(BANK)
    response = client.post(
        f"/buku-besar/pembukuan/bagan-akun/{bank}/hapus", data={"csrf_token": token}
    )
    assert response.status_code == 403 and "tidak dapat diubah atau dihapus" in response.get_data(
        as_text=True
    )
    # a board account: renamed, deleted while unused, kept once used
    bri = add_account("Bank BRI operasional", "cash_bank", code="bank-bri")
    spare = add_account("Beban cadangan", "expense_other")
    db.session.commit()
    response = client.post(
        f"/buku-besar/pembukuan/bagan-akun/{bri.id}/ubah",
        data={"csrf_token": token, "name": "Bank BRI"},
    )
    db.session.expire_all()
    assert response.status_code == 303 and get_account("asset:bank-bri").name == "Bank BRI"
    record_cash_entry(expense(1_000, money="asset:bank-bri"), by_user=board["bendahara"])
    db.session.commit()
    response = client.post(
        f"/buku-besar/pembukuan/bagan-akun/{bri.id}/hapus", data={"csrf_token": token}
    )
    assert response.status_code == 409
    response = client.post(
        f"/buku-besar/pembukuan/bagan-akun/{spare.id}/hapus", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert db.session.get(AccountClass, spare.id) is None


def test_database_holds_the_group_of_type_rule():
    account = get_account(CASH)
    db.session.add(AccountClass(account_id=account.id, account_type="asset", group_key="reserves"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_receipt_files_are_kept_outside_static(app, receipts_dir, board):
    from kmp.ledger.books.receipts import store_receipt

    with app.test_request_context():
        row = store_receipt(png_bytes(), "../../etc/passwd.png", by_user=board["bendahara"])
    assert row.original_name == "passwd.png"
    path = receipts_dir / row.storage_name
    assert path.exists() and oct(path.stat().st_mode)[-3:] == "600"
    assert not os.path.commonpath([str(path), app.static_folder]) == app.static_folder
