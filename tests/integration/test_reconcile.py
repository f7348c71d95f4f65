"""Issue 20, must show 3: bank statements of BCA, BRI, Mandiri and BNI from sample files,
a saved generic mapping, idempotent imports, automatic matching on a synthetic 1,000-line
statement, manual match and split, the monthly report, and the Midtrans settlement report
booked against the gateway clearing account."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kmp.errors import Conflict
from kmp.extensions import db
from kmp.ledger.chart import BANK, GATEWAY_CLEARING
from kmp.ledger.models import JournalEntry, Posting
from kmp.ledger.reconcile import queries
from kmp.ledger.reconcile.models import BankLine, BankMatch, GatewaySettlementRow
from kmp.ledger.reconcile.services import (
    MappingInput,
    ReconcileError,
    auto_match,
    import_bank_statement,
    import_midtrans_settlement,
    match_manually,
    save_mapping,
    unmatch,
)
from kmp.ledger.services import PeriodClosed, close_month
from tests.conftest import csrf_from
from tests.integration.books_support import (
    account_id,
    book,
    books_env,  # noqa: F401 - autouse fixture
    count,
    natural,
)

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "bank"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


EXPECTED = {
    # layout: (file, lines, money in, money out, last balance)
    "bca": ("bca_mutasi_2026-03.csv", 8, 21_496_995, 12_516_649, 18_980_346),
    "bri": ("bri_mutasi_2026-03.xlsx", 5, 20_034_121, 3_506_500, 26_527_621),
    "mandiri": ("mandiri_mutasi_2026-03.csv", 5, 20_025_000, 12_512_500, None),
    "bni": ("bni_mutasi_2026-03.csv", 4, 20_025_000, 3_511_000, 26_514_000),
}


@pytest.mark.parametrize("layout", sorted(EXPECTED))
def test_each_bank_export_imports_once(layout):
    name, lines, money_in, money_out, balance = EXPECTED[layout]
    bank = account_id(BANK)
    summary = import_bank_statement(bank, sample(name), name, layout)
    db.session.commit()
    assert (summary.batch.line_count, summary.batch.new_count) == (lines, lines)
    stored = list(db.session.scalars(select(BankLine).order_by(BankLine.id)))
    assert sum(b.amount_idr for b in stored if b.amount_idr > 0) == money_in
    assert -sum(b.amount_idr for b in stored if b.amount_idr < 0) == money_out
    assert all(dt.date(2026, 3, 1) <= b.line_date <= dt.date(2026, 3, 31) for b in stored)
    assert stored[-1].balance_idr == balance
    again = import_bank_statement(bank, sample(name), name, layout)
    db.session.commit()
    assert (again.batch.new_count, again.batch.duplicate_count) == (0, lines)
    assert count(BankLine) == lines


def test_bca_skips_pending_and_footer_lines_and_keeps_two_equal_fees():
    bank = account_id(BANK)
    summary = import_bank_statement(bank, sample("bca_mutasi_2026-03.csv"), "bca.csv", "bca")
    assert summary.skipped == 5 and summary.rounded == 2  # PEND + 4 footer lines; two with cents
    data = sample("bca_mutasi_2026-03.csv").replace(
        b"'05/03,'BIAYA ADM,'0000,15000.00,DB,26510000.00\r\n",
        b"'05/03,'BIAYA ADM,'0000,15000.00,DB,26510000.00\r\n" * 2,
    )
    other = account_id(add_bank("bank-bca-2"))
    assert import_bank_statement(other, data, "bca2.csv", "bca").batch.new_count == 9


def add_bank(slug: str) -> str:
    from kmp.ledger.books.services import add_account

    return add_account(f"Bank {slug}", "cash_bank", code=slug).code


def test_a_file_that_does_not_fit_the_layout_is_refused_with_a_message():
    with pytest.raises(ReconcileError, match="tidak sesuai format BRI"):
        import_bank_statement(account_id(BANK), sample("bca_mutasi_2026-03.csv"), "x.csv", "bri")
    with pytest.raises(ReconcileError, match="rekening bank"):
        import_bank_statement(account_id("asset:cash"), b"x", "x.csv", "bca")
    assert count(BankLine) == 0


def test_generic_mapping_saved_by_the_user(client, login_as):
    login_as("pengurus", "bendahara")
    page = client.get("/buku-besar/rekonsiliasi/pemetaan").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "name": "Bank Jateng CSV",
        "header_row": "2",
        "delimiter": ";",
        "date_column": "Tgl",
        "date_format": "%d-%m-%Y",
        "description_column": "Uraian",
        "reference_column": "Ref",
        "amount_mode": "signed",
        "amount_column": "Nominal",
        "balance_column": "Saldo",
        "credit_marks": "CR",
    }
    assert client.post("/buku-besar/rekonsiliasi/pemetaan", data=data).status_code == 303
    bad = client.post(
        "/buku-besar/rekonsiliasi/pemetaan",
        data=data | {"name": "Salah", "amount_mode": "debit_credit"},
    )
    assert bad.status_code == 422 and "wajib diisi" in bad.get_data(as_text=True)
    statement = (
        b"Mutasi rekening Koperasi\n"
        b"Tgl;Uraian;Ref;Nominal;Saldo\n"
        b"02-03-2026;SETORAN A-0001;R1;25.000,00;1.025.000,00\n"
        b"04-03-2026;BIAYA ADM;;-5.000,00;1.020.000,00\n"
    )
    index = client.get("/buku-besar/rekonsiliasi/").get_data(as_text=True)
    assert "Pemetaan: Bank Jateng CSV" in index
    mapping_value = index.split('">Pemetaan: Bank Jateng CSV')[0].rsplit('value="', 1)[1]
    response = client.post(
        "/buku-besar/rekonsiliasi/impor",
        data={
            "csrf_token": csrf_from(index),
            "account": str(account_id(BANK)),
            "layout": mapping_value,
            "file": (io.BytesIO(statement), "jateng.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    lines = list(db.session.scalars(select(BankLine).order_by(BankLine.line_date)))
    assert [(b.amount_idr, b.balance_idr, b.reference) for b in lines] == [
        (25_000, 1_025_000, "R1"),
        (-5_000, 1_020_000, None),
    ]


def test_mapping_rules():
    base = dict(
        name="Tanpa judul",
        header_row=0,
        date_column="1",
        description_column="2+3",
        amount_mode="debit_credit",
        debit_column="4",
        credit_column="5",
        date_format="%d/%m/%Y",
    )
    save_mapping(MappingInput(**base))
    with pytest.raises(Conflict):
        save_mapping(MappingInput(**base))
    with pytest.raises(ReconcileError, match="nomornya"):
        save_mapping(MappingInput(**(base | {"name": "Pemetaan B", "date_column": "Tanggal"})))
    with pytest.raises(ReconcileError, match="Format tanggal"):
        save_mapping(MappingInput(**(base | {"name": "Pemetaan C", "date_format": "%Y"})))


# --------------------------------------------------------------------------- matching


def signed_mapping(name: str):
    """A saved mapping for ``Tanggal;Keterangan;Jumlah`` with signed amounts."""
    return save_mapping(
        MappingInput(
            name=name,
            header_row=1,
            delimiter=";",
            date_column="Tanggal",
            description_column="Keterangan",
            amount_mode="signed",
            amount_column="Jumlah",
            date_format="%d/%m/%Y",
        )
    )


def _synthetic(n_lines: int = 1000, seed: int = 20):
    """A bank account with ~950 postings that have a bank line (0-3 days apart, many with the
    same amount, most with a reference in the bank text), 50 bank lines without a posting and
    30 postings without a bank line. Returns (statement CSV, expected pairs)."""
    rng = random.Random(seed)
    bank = BANK
    start = dt.date(2026, 1, 1)
    common = [25_000, 50_000, 100_000, 150_000]
    rows, expected = [], {}
    matched = n_lines - 50
    for i in range(matched):
        day = start + dt.timedelta(days=rng.randrange(0, 70))
        amount = rng.choice(common) if rng.random() < 0.6 else rng.randrange(10_000, 9_000_000)
        amount -= amount % 500
        sign = 1 if rng.random() < 0.7 else -1
        ref = f"KMP{i:05d}"
        key = f"syn-{i}"
        lines = [
            (bank, sign * amount),
            ("income:other" if sign > 0 else "expense:other", -sign * amount),
        ]
        entry = book(key, lines, day, description=f"Transaksi {ref} anggota")
        bank_day = day + dt.timedelta(days=rng.randrange(0, 4))
        text = f"TRSF {ref}" if rng.random() < 0.8 else "TRANSFER MASUK"
        rows.append((bank_day, text, sign * amount, i))
        expected[i] = entry.id
    for j in range(50):
        day = start + dt.timedelta(days=rng.randrange(0, 70))
        rows.append((day, f"TANPA PASANGAN {j}", 7_777_000 + j * 13, None))
    for k in range(30):
        day = start + dt.timedelta(days=rng.randrange(0, 70))
        book(f"orphan-{k}", [(bank, 3_333_000 + k), ("income:other", -(3_333_000 + k))], day)
    db.session.commit()
    rng.shuffle(rows)
    rows.sort(key=lambda r: r[0])
    csv_lines = ["Tanggal;Keterangan;Jumlah"]
    for day, text, amount, _i in rows:
        csv_lines.append(f"{day:%d/%m/%Y};{text};{amount}")
    return "\n".join(csv_lines).encode(), rows, expected


def test_automatic_matching_finds_95_percent_on_a_1000_line_statement():
    mapping = signed_mapping("Sintetis")
    data, rows, expected = _synthetic()
    bank = account_id(BANK)
    summary = import_bank_statement(bank, data, "sintetis.csv", f"mapping:{mapping.id}")
    assert summary.batch.new_count == 1000
    made = auto_match(bank)
    db.session.commit()
    # which bank line is which synthetic row: same order as imported (date, then file order)
    by_line = {}
    for match in db.session.scalars(select(BankMatch)):
        (line,) = match.lines
        (posting,) = match.postings
        by_line[line.bank_line_id] = db.session.get(Posting, posting.posting_id).entry_id
    stored = list(db.session.scalars(select(BankLine).order_by(BankLine.id)))
    assert len(stored) == len(rows)
    with_counterpart = [
        (line, row) for line, row in zip(stored, rows, strict=True) if row[3] is not None
    ]
    found = [line for line, row in with_counterpart if line.id in by_line]
    correct = [line for line, row in with_counterpart if by_line.get(line.id) == expected[row[3]]]
    assert len(found) / len(with_counterpart) >= 0.95
    # every automatic match is sound: same amount, dates at most 3 days apart
    for match in db.session.scalars(select(BankMatch)):
        line = db.session.get(BankLine, match.lines[0].bank_line_id)
        posting = db.session.get(Posting, match.postings[0].posting_id)
        assert line.amount_idr == posting.amount_idr
        assert abs((line.line_date - posting.entry_date).days) <= 3
    # and nearly always the very posting the line came from: only lines with no reference and
    # a common amount can swap with an equal line a day or two away (an equivalent match)
    assert len(correct) / len(with_counterpart) >= 0.9
    assert made == len(by_line)
    # the rest is listed on both sides
    open_lines = queries.unmatched_lines(bank, limit=5000)
    open_postings = queries.unmatched_postings(bank, limit=5000)
    assert len(open_lines) == 1000 - made
    assert {f"TANPA PASANGAN {j}" for j in range(50)} <= {b.description for b in open_lines}
    assert len(open_postings) == 950 + 30 - made
    orphans = {e.idempotency_key for _p, e in open_postings}
    assert {f"orphan-{k}" for k in range(30)} <= orphans


def test_manual_match_split_and_unmatch(client, login_as):
    bank = account_id(BANK)
    day = dt.date(2026, 3, 2)
    for i in range(3):
        book(f"wajib-{i}", [(BANK, 25_000), ("income:other", -25_000)], day, f"Setoran {i}")
    statement = b"Tanggal;Keterangan;Jumlah\n02/03/2026;SETORAN KOLEKTIF KELOMPOK;75000\n"
    mapping = signed_mapping("Satu")
    import_bank_statement(bank, statement, "s.csv", f"mapping:{mapping.id}")
    assert auto_match(bank) == 0  # no single posting of 75.000
    db.session.commit()
    line = db.session.scalar(select(BankLine))
    postings = [p for p, _e in queries.unmatched_postings(bank)]
    with pytest.raises(ReconcileError, match="Jumlah tidak sama"):
        match_manually(bank, [line.id], [postings[0].id])
    login_as("pengurus")
    page = client.get(f"/buku-besar/rekonsiliasi/rekening/{bank}?bulan=2026-03").get_data(
        as_text=True
    )
    assert 'name="line"' in page and page.count('name="posting"') == 3
    response = client.post(
        f"/buku-besar/rekonsiliasi/rekening/{bank}/cocokkan?bulan=2026-03",
        data={
            "csrf_token": csrf_from(page),
            "line": [str(line.id)],
            "posting": [str(p.id) for p in postings],
        },
    )
    assert response.status_code == 303
    match = db.session.scalar(select(BankMatch))
    assert (match.method, match.total_idr, len(match.postings)) == ("manual", 75_000, 3)
    assert queries.unmatched_lines(bank) == [] and queries.unmatched_postings(bank) == []
    wrong = client.post(
        f"/buku-besar/rekonsiliasi/rekening/{bank}/cocokkan?bulan=2026-03",
        data={
            "csrf_token": csrf_from(page),
            "line": [str(line.id)],
            "posting": [str(postings[0].id)],
        },
    )
    assert wrong.status_code == 409 and "sudah dicocokkan" in wrong.get_data(as_text=True)
    unmatch(match.id, bank)
    db.session.commit()
    assert len(queries.unmatched_postings(bank)) == 3
    login_as("pengawas")
    page = client.get(f"/buku-besar/rekonsiliasi/rekening/{bank}?bulan=2026-03").get_data(
        as_text=True
    )
    assert 'name="line"' not in page
    assert (
        client.post(
            f"/buku-besar/rekonsiliasi/rekening/{bank}/otomatis",
            data={"csrf_token": csrf_from(page)},
        ).status_code
        == 403
    )


def test_monthly_report_page_and_xlsx(client, login_as):
    bank = account_id(BANK)
    book("opening", [(BANK, 10_000_000), ("equity:grants", -10_000_000)], dt.date(2026, 2, 28))
    book(
        "kontribusi",
        [(BANK, 20_000_000), ("income:platform-fees", -20_000_000)],
        dt.date(2026, 3, 3),
        "Kontribusi PT Ojek Nusantara",
    )
    book(
        "sewa",
        [(BANK, -3_500_000), ("expense:operations", 3_500_000)],
        dt.date(2026, 3, 5),
        "Sewa kantor",
    )
    book(
        "belum",
        [(BANK, -1_000_000), ("expense:other", 1_000_000)],
        dt.date(2026, 3, 30),
        "Cek belum cair",
    )
    import_bank_statement(bank, sample("bni_mutasi_2026-03.csv"), "bni.csv", "bni")
    auto_match(bank)
    db.session.commit()
    report = queries.monthly_report(bank, 2026, 3)
    assert report.ledger_balance_idr == 25_500_000
    assert report.bank_balance_idr == 26_514_000
    # the opening deposit (before the first statement line) is not counted as open
    assert {line.amount_idr for line in report.open_bank_lines} == {25_000, -11_000}
    assert {p.amount_idr for p, _e in report.open_postings} == {-1_000_000}
    assert report.expected_bank_balance_idr == 25_500_000 + 1_000_000 + 14_000
    assert report.difference_idr == 26_514_000 - 26_514_000
    login_as("pengawas")
    html = client.get(f"/buku-besar/rekonsiliasi/rekening/{bank}/laporan?bulan=2026-03").get_data(
        as_text=True
    )
    assert "Rp 26.514.000" in html and 'data-testid="difference"' in html
    response = client.get(
        f"/buku-besar/rekonsiliasi/rekening/{bank}/laporan?bulan=2026-03&format=xlsx"
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert any(r[2] == "Saldo rekening koran akhir bulan" and r[3] == 26_514_000 for r in values)
    assert any(r[0] == "Di buku besar, belum di bank" and r[3] == -1_000_000 for r in values)
    assert (
        client.get(f"/buku-besar/rekonsiliasi/rekening/{bank}/laporan?bulan=13-2026").status_code
        == 400
    )


# --------------------------------------------------------------------------- Midtrans


@pytest.fixture
def fake(app):
    from kmp.payments.factory import DbFakeStore, set_gateway
    from kmp.payments.gateway import FakeGateway

    gateway = FakeGateway(
        "SB-Mid-server-TEST-ONLY-NOT-A-REAL-KEY", base_url="", store=DbFakeStore()
    )
    set_gateway(app, gateway)
    yield gateway
    set_gateway(app, None)


def settled_payment(fake, app, amount: int) -> str:
    """A real payment through the payments core (intent, checkout, settlement)."""
    from kmp.ledger.services import open_account
    from kmp.payments.factory import get_gateway
    from kmp.payments.services import apply_gateway_status, create_payment_intent, start_checkout

    open_account("liability:test-payments", "Akun uji", "liability")
    intent = create_payment_intent(
        900001, "wajib", amount, [("liability:test-payments", amount)], "Simpanan uji"
    )
    attempt = start_checkout(intent, get_gateway(app))
    fake.simulate(attempt.order_id, "settlement")
    apply_gateway_status(attempt, fake.get_status(attempt.order_id))
    db.session.commit()
    return attempt.order_id


def settlement_csv(rows) -> bytes:
    lines = [
        "Order ID,Transaction ID,Payment Type,Transaction Status,Gross Amount,Fee,Net Amount,"
        "Settlement Time,Payout ID"
    ]
    for order, gross, fee, day, payout in rows:
        lines.append(
            f"{order},trx-{order[-4:]},bank_transfer,settlement,{gross}.00,{fee},{gross - fee},"
            f"{day} 10:00:00,{payout}"
        )
    return ("\n".join(lines) + "\n").encode()


def test_midtrans_settlement_books_the_fees_once_per_batch(fake, app, client, login_as):
    orders = [settled_payment(fake, app, amount) for amount in (150_000, 25_000, 100_000)]
    assert natural(GATEWAY_CLEARING) == 275_000
    report = settlement_csv(
        [
            (orders[0], 150_000, 4_000, "2026-03-10", "PO-0310"),
            (orders[1], 25_000, 4_000, "2026-03-10", "PO-0310"),
            (orders[2], 100_000, 4_000, "2026-03-11", "PO-0311"),
            ("KOP-UNKNOWN-0001", 50_000, 4_000, "2026-03-11", "PO-0311"),
        ]
    )
    login_as("pengurus", "bendahara")
    page = client.get("/buku-besar/rekonsiliasi/midtrans").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "account": str(account_id(BANK))}
    response = client.post(
        "/buku-besar/rekonsiliasi/midtrans",
        data=form | {"file": (io.BytesIO(report), "settlement.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    entries = list(
        db.session.scalars(
            select(JournalEntry).where(JournalEntry.source_kind == "gateway_settlement")
        )
    )
    assert len(entries) == 2  # one per settlement batch
    first = next(e for e in entries if e.source_id == "PO-0310")
    assert {(p.account.code, p.amount_idr) for p in first.postings} == {
        (GATEWAY_CLEARING, -175_000),
        (BANK, 167_000),
        ("expense:gateway-fees", 8_000),
    }
    assert first.entry_date == dt.date(2026, 3, 10)
    assert natural(GATEWAY_CLEARING) == 0  # the clearing account matches what reached the bank
    assert natural("expense:gateway-fees") == 12_000 and natural(BANK) == 263_000
    unknown = db.session.scalar(
        select(GatewaySettlementRow).where(GatewaySettlementRow.order_id == "KOP-UNKNOWN-0001")
    )
    assert unknown.status == "unknown_order" and unknown.entry_id is None
    page = client.get("/buku-besar/rekonsiliasi/midtrans?tampil=problem").get_data(as_text=True)
    assert "KOP-UNKNOWN-0001" in page and orders[0] not in page
    # the same report again books nothing
    response = client.post(
        "/buku-besar/rekonsiliasi/midtrans",
        data=form | {"file": (io.BytesIO(report), "settlement.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert db.session.scalar(
        select(JournalEntry.id)
        .where(JournalEntry.source_kind == "gateway_settlement")
        .order_by(JournalEntry.id.desc())
    ) == max(e.id for e in entries)
    assert natural("expense:gateway-fees") == 12_000


def test_midtrans_rows_that_do_not_fit_are_listed_not_booked(fake, app):
    order = settled_payment(fake, app, 150_000)
    bank = account_id(BANK)
    summary = import_midtrans_settlement(
        settlement_csv([(order, 160_000, 4_000, "2026-03-10", "PO-1")]), "s.csv", bank
    )
    assert (summary.booked, summary.problems) == (0, 1)
    row = db.session.scalar(select(GatewaySettlementRow))
    assert row.status == "amount_mismatch" and "Rp 150.000" in row.message
    with pytest.raises(ReconcileError, match="gross harus sama dengan fee"):
        import_midtrans_settlement(
            b"Order ID,Gross Amount,Fee,Net Amount,Settlement Time\n"
            b"X,100000,5000,90000,2026-03-10\n",
            "bad.csv",
            bank,
        )
    with pytest.raises(ReconcileError, match="kolom Order ID"):
        import_midtrans_settlement(b"a,b,c\n1,2,3\n", "bad.csv", bank)
    # a later, correct report books it once
    summary = import_midtrans_settlement(
        settlement_csv([(order, 150_000, 4_000, "2026-03-10", "PO-1")]), "s.csv", bank
    )
    assert (summary.booked, summary.entries) == (1, 1)


def test_midtrans_settlement_into_a_closed_month_is_refused(fake, app):
    set_day = dt.date(2026, 2, 27)
    order = settled_payment(fake, app, 150_000)
    close_month(2026, 2)
    db.session.commit()
    with pytest.raises(PeriodClosed, match="Februari 2026 sudah ditutup"):
        import_midtrans_settlement(
            settlement_csv([(order, 150_000, 4_000, set_day.isoformat(), "PO-2")]),
            "s.csv",
            account_id(BANK),
        )
    db.session.rollback()
    assert count(GatewaySettlementRow) == 0
