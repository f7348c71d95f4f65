"""Ledger pages: who may open what, reports and their CSV/XLSX downloads, reversal and period
close forms, and a member's own history."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.chart import CASH, open_member_accounts
from kmp.ledger.models import ClosedPeriod, JournalEntry
from kmp.ledger.services import post_entry
from kmp.timeutil import set_clock

TODAY = dt.date(2026, 3, 15)

BOARD_PAGES = [
    "/buku-besar/",
    "/buku-besar/jurnal",
    "/buku-besar/neraca-saldo",
    "/buku-besar/neraca",
    "/buku-besar/hasil-usaha",
    "/buku-besar/tutup-buku",
    "/buku-besar/akun-anggota?jenis=liability:savings:voluntary",
]


@pytest.fixture(autouse=True)
def frozen_clock():
    set_clock(lambda: dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))


def deposit(
    code: str,
    amount: int,
    key: str,
    *,
    day: dt.date | None = None,
    description: str = "Setoran simpanan sukarela",
) -> JournalEntry:
    return post_entry(
        idempotency_key=key,
        description=description,
        lines=[(CASH, amount), (code, -amount)],
        source_kind="deposit",
        source_id=key,
        entry_date=day,
    )


@pytest.fixture
def books():
    """Two members with voluntary savings, some income and an expense; committed."""
    a = open_member_accounts(1, "A-0001")
    b = open_member_accounts(2, "A-0002")
    deposit("liability:savings:voluntary:A-0001", 500_000, "d1", day=dt.date(2026, 1, 5))
    deposit("liability:savings:voluntary:A-0002", 250_000, "d2", day=dt.date(2026, 2, 1))
    deposit("equity:savings:principal:A-0001", 100_000, "d3", day=dt.date(2026, 1, 5))
    post_entry(
        idempotency_key="fee1",
        description="Kontribusi mitra Januari",
        lines=[("asset:bank", 300_000), ("income:platform-fees", -300_000)],
        source_kind="platform_fee",
        entry_date=dt.date(2026, 1, 31),
    )
    post_entry(
        idempotency_key="ops1",
        description="Sewa kantor",
        lines=[("expense:operations", 120_000), ("asset:bank", -120_000)],
        source_kind="expense",
        entry_date=dt.date(2026, 2, 10),
    )
    db.session.commit()
    return {"a": a, "b": b}


# --- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["pengurus", "bendahara", "pengawas", "admin"])
def test_board_roles_open_every_ledger_page(client, login_as, books, role):  # noqa: ARG001
    login_as(role)
    for path in BOARD_PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    entry_id = db.session.scalar(select(func.min(JournalEntry.id)))
    account_id = books["a"]["sukarela"]
    assert client.get(f"/buku-besar/entri/{entry_id}").status_code == 200
    assert client.get(f"/buku-besar/akun/{account_id}").status_code == 200


@pytest.mark.parametrize("role", ["anggota", "partner"])
def test_members_and_partners_get_403_on_board_pages(client, login_as, books, role):  # noqa: ARG001
    login_as(role)
    entry_id = db.session.scalar(select(func.min(JournalEntry.id)))
    for path in [
        *BOARD_PAGES,
        f"/buku-besar/entri/{entry_id}",
        "/buku-besar/neraca-saldo?format=xlsx",
    ]:
        assert client.get(path).status_code == 403, path


def test_anonymous_is_sent_to_login(client):
    for path in [*BOARD_PAGES, "/buku-besar/saya"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/masuk" in response.headers["Location"]


def test_nav_shows_ledger_items_to_board_only(client, login_as):
    login_as("pengawas")
    html = client.get("/akun").get_data(as_text=True)
    assert 'data-nav="ledger.trial_balance"' in html
    assert "Neraca saldo" in html
    login_as("anggota")
    html = client.get("/akun").get_data(as_text=True)
    assert 'data-nav="ledger.trial_balance"' not in html
    assert 'data-nav="ledger.my_accounts"' in html


# --- chart of accounts, member accounts, account page ------------------------------------


def test_chart_summarises_member_accounts_per_kind(client, login_as, books):  # noqa: ARG001
    login_as("pengurus")
    html = client.get("/buku-besar/").get_data(as_text=True)
    assert "Simpanan sukarela (semua anggota)" in html
    assert "Rp 750.000" in html  # 500.000 + 250.000 voluntary savings
    assert "A-0001" not in html  # no individual member account on the chart
    html = client.get(
        "/buku-besar/akun-anggota?jenis=liability:savings:voluntary&q=A-0002"
    ).get_data(as_text=True)
    assert "A-0002" in html and "A-0001" not in html
    assert client.get("/buku-besar/akun-anggota?jenis=asset:cash").status_code == 404


def test_member_accounts_are_keyset_paginated(client, login_as):
    for n in range(120):
        open_member_accounts(1000 + n, f"B-{n:04d}")
    db.session.commit()
    login_as("pengurus")
    seen, url = [], "/buku-besar/akun-anggota?jenis=liability:shu-payable"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [c for c in (f"B-{n:04d}" for n in range(120)) if f"shu-payable:{c}<" in html]
        marker = 'rel="next" href="'
        url = (
            html.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
            if marker in html
            else None
        )
    assert seen == [f"B-{n:04d}" for n in range(120)]


def test_account_page_shows_running_balance(client, login_as, books):
    post_entry(
        idempotency_key="w1",
        description="Penarikan",
        lines=[("liability:savings:voluntary:A-0001", 200_000), (CASH, -200_000)],
        source_kind="withdrawal",
        entry_date=dt.date(2026, 3, 1),
    )
    db.session.commit()
    login_as("pengawas")
    html = client.get(f"/buku-besar/akun/{books['a']['sukarela']}").get_data(as_text=True)
    assert "Rp 500.000" in html and "Rp 300.000" in html  # after deposit, after withdrawal
    assert client.get("/buku-besar/akun/999999").status_code == 404


# --- journal -----------------------------------------------------------------------------


def test_journal_keyset_pagination_covers_everything_once(client, login_as):
    open_member_accounts(1, "A-0001")
    for n in range(120):
        deposit(
            "liability:savings:voluntary:A-0001",
            1000 + n,
            f"k{n}",
            day=dt.date(2026, 1, 1) + dt.timedelta(days=n % 40),
        )
    db.session.commit()
    login_as("pengurus")
    ids, url = [], "/buku-besar/jurnal"
    while url:
        html = client.get(url).get_data(as_text=True)
        ids += [int(part.split('"', 1)[0]) for part in html.split('href="/buku-besar/entri/')[1:]]
        marker = 'rel="next" href="'
        url = (
            html.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
            if marker in html
            else None
        )
    assert len(ids) == len(set(ids)) == 120
    rows = (
        db.session.execute(
            select(JournalEntry.id).order_by(JournalEntry.entry_date.desc(), JournalEntry.id.desc())
        )
        .scalars()
        .all()
    )
    assert ids == rows


def test_journal_filters(client, login_as, books):  # noqa: ARG001
    login_as("pengurus")

    def ids(query: str) -> set[str]:
        response = client.get("/buku-besar/jurnal" + query)
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        return {part.split('"', 1)[0] for part in html.split('href="/buku-besar/entri/')[1:]}

    by_key = {e.idempotency_key: str(e.id) for e in db.session.scalars(select(JournalEntry))}
    assert ids("?sumber=platform_fee") == {by_key["fee1"]}
    assert ids("?akun=asset:bank") == {by_key["fee1"], by_key["ops1"]}
    assert ids("?q=sewa") == {by_key["ops1"]}
    assert ids("?dari=2026-02-01&sampai=2026-02-28") == {by_key["d2"], by_key["ops1"]}
    assert ids("?q=d3") == {by_key["d3"]}  # source id
    assert client.get("/buku-besar/jurnal?akun=asset:nothing").status_code == 400
    assert client.get("/buku-besar/jurnal?dari=2026-13-01").status_code == 400
    assert client.get("/buku-besar/jurnal?sebelum=garbage").status_code == 400


def test_journal_csv_escapes_formulas(client, login_as):
    open_member_accounts(1, "A-0001")
    deposit(
        "liability:savings:voluntary:A-0001",
        10_000,
        "evil",
        description='=HYPERLINK("http://evil.example","klik")',
    )
    db.session.commit()
    login_as("pengurus")
    response = client.get("/buku-besar/jurnal?format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "No. entri"
    descriptions = {r[2] for r in rows[1:]}
    assert descriptions == {'\'=HYPERLINK("http://evil.example","klik")'}
    assert sum(int(r[7]) for r in rows[1:]) == sum(int(r[8]) for r in rows[1:]) == 10_000


# --- reports and downloads ---------------------------------------------------------------


def _xlsx_rows(response) -> list[tuple]:
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    return [tuple(row) for row in workbook.active.iter_rows(values_only=True)]


def test_trial_balance_page_and_downloads(client, login_as, books):  # noqa: ARG001
    login_as("pengurus")
    html = client.get("/buku-besar/neraca-saldo").get_data(as_text=True)
    assert 'data-testid="balanced"' in html
    assert "Rp 1.150.000" in html  # cash 850.000 + bank 180.000 + expense 120.000 debits

    rows = _xlsx_rows(client.get("/buku-besar/neraca-saldo?format=xlsx"))
    assert rows[0] == ("Kode akun", "Nama akun", "Jenis", "Debit (Rp)", "Kredit (Rp)")
    body, total = rows[1:-1], rows[-1]
    assert total[1] == "Jumlah" and total[3] == total[4] == 1_150_000
    assert sum(r[3] for r in body) == sum(r[4] for r in body) == 1_150_000
    by_code = {r[0]: r for r in body}
    assert by_code["liability:savings:voluntary"][4] == 750_000
    assert by_code["liability:shu-payable"][3:] == (0, 0)  # grouped, not one row per member

    response = client.get("/buku-besar/neraca-saldo?format=csv&per=2026-01-31")
    assert 'filename="neraca-saldo-2026-01-31.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[-1][3] == rows[-1][4] == "900000"  # d1 + d3 + fee1 as of 31 January
    assert client.get("/buku-besar/neraca-saldo?format=pptx").status_code == 400


def test_balance_sheet_and_income_statement_downloads(client, login_as, books):  # noqa: ARG001
    login_as("bendahara")
    html = client.get("/buku-besar/neraca?per=2026-03-15").get_data(as_text=True)
    assert 'data-testid="balanced"' in html
    rows = _xlsx_rows(client.get("/buku-besar/neraca?per=2026-03-15&format=xlsx"))
    totals = {r[2]: r[3] for r in rows[1:] if r[1] in ("", None)}
    assert totals["Jumlah aset"] == 1_030_000
    assert totals["Jumlah kewajiban"] == 750_000
    assert totals["Jumlah ekuitas"] == 100_000
    assert totals["Hasil usaha belum ditutup"] == 180_000
    assert totals["Jumlah kewajiban dan ekuitas"] == 1_030_000

    html = client.get("/buku-besar/hasil-usaha?dari=2026-01-01&sampai=2026-01-31").get_data(
        as_text=True
    )
    assert "Rp 300.000" in html and "Sewa" not in html
    rows = _xlsx_rows(
        client.get("/buku-besar/hasil-usaha?dari=2026-01-01&sampai=2026-03-31&format=xlsx")
    )
    assert rows[-1][2] == "Sisa hasil usaha (SHU)" and rows[-1][3] == 180_000
    response = client.get("/buku-besar/hasil-usaha?dari=2026-01-01&sampai=2026-03-31&format=csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[-1][3] == "180000"
    assert (
        client.get("/buku-besar/hasil-usaha?dari=2026-03-01&sampai=2026-01-01").status_code == 400
    )


def test_chart_download(client, login_as, books):  # noqa: ARG001
    login_as("admin")
    rows = _xlsx_rows(client.get("/buku-besar/?format=xlsx"))
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code["liability:savings:voluntary"][3:] == (2, 750_000)


# --- reversal ----------------------------------------------------------------------------


def _entry(key: str) -> JournalEntry:
    return db.session.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == key))


def test_reverse_entry_from_the_page(client, login_as, csrf_token, books):  # noqa: ARG001
    login_as("bendahara")
    target = _entry("ops1")
    path = f"/buku-besar/entri/{target.id}"
    token = csrf_token(path)
    response = client.post(path + "/batalkan", data={"csrf_token": token, "reason": ""})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 5

    response = client.post(
        path + "/batalkan", data={"csrf_token": token, "reason": "Salah catat nominal"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    reversal = db.session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == target.id))
    assert reversal is not None and "Salah catat nominal" in reversal.description
    html = client.get(path).get_data(as_text=True)
    assert 'data-testid="reversed-by"' in html and "Batalkan entri ini" not in html

    response = client.post(path + "/batalkan", data={"csrf_token": token, "reason": "Lagi dong"})
    assert response.status_code == 422
    assert "sudah dibatalkan" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 6


@pytest.mark.parametrize("role", ["pengawas", "admin", "anggota"])
def test_only_pengurus_and_bendahara_reverse(client, login_as, csrf_token, books, role):  # noqa: ARG001
    login_as(role)
    target = _entry("ops1")
    token = (
        csrf_token("/akun") if role == "anggota" else csrf_token(f"/buku-besar/entri/{target.id}")
    )
    if role != "anggota":
        html = client.get(f"/buku-besar/entri/{target.id}").get_data(as_text=True)
        assert "Batalkan entri ini" not in html
    response = client.post(
        f"/buku-besar/entri/{target.id}/batalkan",
        data={"csrf_token": token, "reason": "Coba batalkan"},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 5


# --- period close ------------------------------------------------------------------------


def test_close_period_page(client, login_as, csrf_token):
    open_member_accounts(1, "A-0001")
    deposit("liability:savings:voluntary:A-0001", 10_000, "old", day=dt.date(2024, 6, 1))
    db.session.commit()
    user = login_as("pengurus")
    token = csrf_token("/buku-besar/tutup-buku")
    assert (
        client.post(
            "/buku-besar/tutup-buku", data={"csrf_token": token, "fiscal_year": "2026"}
        ).status_code
        == 422
    )
    # 2024 holds an entry and is still open: 2025 cannot be closed before it
    response = client.post(
        "/buku-besar/tutup-buku",
        data={"csrf_token": token, "fiscal_year": "2025", "note": "BA RAT 2026/01"},
    )
    assert response.status_code == 422
    assert "2024 belum ditutup" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ClosedPeriod)) == 0
    for year in ("2024", "2025"):
        response = client.post(
            "/buku-besar/tutup-buku",
            data={"csrf_token": token, "fiscal_year": year, "note": "BA RAT 2026/01"},
        )
        assert response.status_code == 303
    html = client.get("/buku-besar/tutup-buku").get_data(as_text=True)
    assert user.full_name in html and "BA RAT 2026/01" in html
    assert '<option value="2025"' not in html and '<option value="2024"' not in html
    period = db.session.scalar(select(ClosedPeriod).where(ClosedPeriod.fiscal_year == 2025))
    assert (period.fiscal_year, period.month, period.closed_by_id) == (2025, 0, user.id)


@pytest.mark.parametrize("role", ["pengawas", "bendahara"])
def test_close_period_refused_for_other_board_roles(client, login_as, csrf_token, role):
    login_as(role)
    token = csrf_token("/buku-besar/tutup-buku")
    html = client.get("/buku-besar/tutup-buku").get_data(as_text=True)
    assert "Tutup tahun buku</button>" not in html
    response = client.post(
        "/buku-besar/tutup-buku", data={"csrf_token": token, "fiscal_year": "2025"}
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ClosedPeriod)) == 0


# --- a member's own history --------------------------------------------------------------


def test_my_accounts_without_hook_is_a_friendly_404(client, login_as):
    login_as("anggota")
    response = client.get("/buku-besar/saya")
    assert response.status_code == 404
    assert "Belum ada rekening simpanan" in response.get_data(as_text=True)


def test_member_sees_only_own_accounts(app, client, login_as, books, monkeypatch):
    mine = login_as("anggota")
    own = list(books["a"].values())
    from members.register import queries

    monkeypatch.setattr(
        queries, "member_account_ids", lambda user: own if user.id == mine.id else []
    )
    response = client.get("/buku-besar/saya")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Simpanan sukarela A-0001" in html and "Rp 500.000" in html
    assert "A-0002" not in html
    response = client.get(f"/buku-besar/saya?akun={books['a']['sukarela']}")
    assert response.status_code == 200
    assert client.get(f"/buku-besar/saya?akun={books['b']['sukarela']}").status_code == 404
    assert client.get("/buku-besar/neraca-saldo").status_code == 403
    login_as("anggota")  # another member: the hook gives nothing
    assert client.get("/buku-besar/saya").status_code == 404
