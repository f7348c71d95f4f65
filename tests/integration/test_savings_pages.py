"""The member's savings pages: Bayar (fake gateway), receipt, statement, chart, downloads;
the board's bills/arrears page and receipt PDF / void by reversal."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import JournalEntry
from kmp.notify import Notification
from kmp.payments.factory import set_gateway
from kmp.payments.models import PaymentIntent
from kmp.timeutil import business_date
from members.register.services import new_request_token
from members.savings import billing
from members.savings import services as savings
from members.savings.deposits import record_receipt
from members.savings.models import Obligation, ReceiptVoid
from tests.conftest import csrf_from
from tests.integration.savings_support import active_member, bill_months, login_member


@pytest.fixture(autouse=True)
def fake_gateway(app):
    set_gateway(app, None)
    yield
    set_gateway(app, None)


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


@pytest.fixture
def driver(board):
    bendahara, pengurus = board
    member = active_member(1, bendahara, pengurus)
    return member


def _pay(client, data):
    page = client.get("/anggota/simpanan")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/anggota/simpanan/bayar", data={"csrf_token": token, **data})


def _simulate(client, location, outcome="settlement"):
    page = client.get(location)
    assert page.status_code == 200 and "SIMULASI" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(location, data={"csrf_token": token, "outcome": outcome})


def test_pay_two_months_of_wajib_through_the_fake(client, driver):
    bill_months(3)
    login_member(client, driver)
    html = client.get("/anggota/simpanan").get_data(as_text=True)
    assert 'data-testid="arrears-months">3<' in html
    assert "<script>" not in html and 'style="' not in html
    response = _pay(client, {"purpose": "wajib", "months": "2"})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/payments/simulate/")
    intent = db.session.scalar(select(PaymentIntent))
    assert intent.amount_idr == 50_000 and intent.purpose == "wajib"
    assert len(intent.meta["months"]) == 2
    done = _simulate(client, location)
    assert done.status_code == 303
    back = client.get(done.headers["Location"])  # /anggota/simpanan/kembali?order_id=...
    assert back.status_code == 303 and "/anggota/simpanan/pembayaran/" in back.headers["Location"]
    receipt = client.get(back.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="payment-paid"' in receipt and "Rp 50.000" in receipt
    db.session.expire_all()
    assert billing.arrears_months([driver.id]) == {driver.id: 1}
    oldest = db.session.scalars(select(Obligation).order_by(Obligation.period)).all()
    assert [o.is_open for o in oldest] == [False, False, True]
    assert savings.member_balances(driver)["wajib"] == 50_000
    message = db.session.scalar(select(Notification).where(Notification.kind == "payment_receipt"))
    assert message is not None and "Rp 50.000" in message.body
    assert message.member_id == driver.id
    html = client.get("/anggota/simpanan").get_data(as_text=True)
    assert 'data-testid="arrears-months">1<' in html
    statement = client.get("/anggota/simpanan/mutasi?kind=wajib").get_data(as_text=True)
    assert "Midtrans" in statement and "Rp 50.000" in statement


def test_pay_refusals_write_nothing(client, driver):
    login_member(client, driver)
    bill_months(1)
    for data, text in (
        # the open bill and months ahead up to 24 in all are offered; a 25th is not
        ({"purpose": "wajib", "months": "25"}, "Pilih jumlah bulan"),
        ({"purpose": "sukarela", "amount": "5"}, "Setoran sukarela antara"),
        ({"purpose": "sukarela", "amount": "sepuluh"}, "Tulis jumlah dalam Rupiah"),
        ({"purpose": "pokok"}, "sudah lunas"),
        ({"purpose": "emas"}, "tidak dikenal"),
    ):
        response = _pay(client, data)
        assert response.status_code == 422, data
        assert text in response.get_data(as_text=True), data
    # no CSRF token
    assert client.post("/anggota/simpanan/bayar", data={"purpose": "wajib"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(PaymentIntent)) == 0


def test_sukarela_deposit_and_statement_downloads(client, driver):
    login_member(client, driver)
    response = _pay(client, {"purpose": "sukarela", "amount": "150.000"})
    assert response.status_code == 303
    _simulate(client, response.headers["Location"])
    db.session.expire_all()
    assert savings.member_balances(driver)["sukarela"] == 150_000
    page = client.get("/anggota/simpanan/mutasi?kind=sukarela").get_data(as_text=True)
    assert 'data-testid="running-balance">Rp 150.000' in page
    csv = client.get("/anggota/simpanan/mutasi?kind=sukarela&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "150000" in csv.get_data(as_text=True)
    pdf = client.get("/anggota/simpanan/mutasi?kind=sukarela&format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    today = business_date().isoformat()
    filtered = client.get(f"/anggota/simpanan/mutasi?kind=sukarela&start={today}&end={today}")
    assert "Rp 150.000" in filtered.get_data(as_text=True)
    assert client.get("/anggota/simpanan/mutasi?kind=emas").status_code == 400
    assert client.get("/anggota/simpanan/mutasi?start=kemarin").status_code == 400
    bad_range = client.get("/anggota/simpanan/mutasi?start=2026-05-01&end=2026-01-01")
    assert bad_range.status_code == 400
    assert client.get("/anggota/simpanan/mutasi?format=xml").status_code == 400
    # the chart: 12 bars, the last one the current total
    points = savings.chart_months(driver)
    assert len(points) == 12 and points[-1].total_idr == 100_000 + 150_000
    html = client.get("/anggota/simpanan").get_data(as_text=True)
    assert html.count('data-testid="chart-bar"') == 12


def test_running_balance_and_chart_history(driver, board):
    bendahara, _ = board
    for amount in (20_000, 30_000):
        record_receipt(
            driver,
            purpose="sukarela",
            amount_idr=amount,
            method="cash",
            by_user=bendahara,
            request_token=new_request_token(),
        )
    db.session.commit()
    result = savings.savings_statement(driver, savings.StatementFilter("sukarela"))
    assert [line.balance_idr for line in result.lines] == [20_000, 50_000]
    rows = list(savings.statement_rows(driver, "sukarela", None, None))
    assert [r[4] for r in rows] == [20_000, 50_000]


def test_member_pages_need_the_member_role(client, login_as):
    login_as("pengurus")
    assert client.get("/anggota/simpanan").status_code == 403
    client.get("/keluar")
    fresh = client.application.test_client()
    assert fresh.get("/anggota/simpanan").status_code in (302, 401)


def test_board_arrears_page_and_billing_form(client, board, driver, login_as):
    bendahara, _ = board
    bill_months(2)
    login_as(user=bendahara)
    html = client.get("/pengurus/simpanan/tagihan").get_data(as_text=True)
    assert driver.member_no in html and "Rp 50.000" in html
    token = csrf_from(html)
    ok = client.post("/pengurus/simpanan/tagihan", data={"csrf_token": token, "month": "2020-01"})
    assert ok.status_code == 303  # before the member joined: nobody billed
    for bad in ("2020-13", "januari", "2999-01"):
        response = client.post(
            "/pengurus/simpanan/tagihan", data={"csrf_token": token, "month": bad}
        )
        assert response.status_code == 422, bad
    assert db.session.scalar(select(func.count()).select_from(Obligation)) == 2


def test_pengawas_reads_arrears_but_cannot_bill(client, login_as, csrf_token):
    login_as("pengawas")
    assert client.get("/pengurus/simpanan/tagihan").status_code == 200
    token = csrf_token("/pengurus/simpanan/tagihan")
    response = client.post(
        "/pengurus/simpanan/tagihan", data={"csrf_token": token, "month": "2026-01"}
    )
    assert response.status_code == 403


def test_receipt_pdf_and_void_by_a_second_board_member(client, board, driver, login_as):
    bendahara, pengurus = board
    bill_months(2)
    receipt = record_receipt(
        driver,
        purpose="wajib",
        amount_idr=50_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    db.session.commit()
    assert billing.arrears_months([driver.id]) == {}
    login_as(user=bendahara)
    page = client.get(f"/kwitansi/{receipt.number}")
    assert 'data-testid="receipt-pdf"' in page.get_data(as_text=True)
    pdf = client.get(f"/kwitansi/{receipt.number}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    token = csrf_from(page.get_data(as_text=True))
    # the one who recorded it cannot void it
    same = client.post(
        f"/kwitansi/{receipt.number}/batal", data={"csrf_token": token, "reason": "salah"}
    )
    assert same.status_code == 403 and "pengurus lain" in same.get_data(as_text=True)
    login_as(user=pengurus)
    token = csrf_from(client.get(f"/kwitansi/{receipt.number}").get_data(as_text=True))
    empty = client.post(
        f"/kwitansi/{receipt.number}/batal", data={"csrf_token": token, "reason": " "}
    )
    assert empty.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(ReceiptVoid)) == 0
    done = client.post(
        f"/kwitansi/{receipt.number}/batal", data={"csrf_token": token, "reason": "Uang palsu"}
    )
    assert done.status_code == 303
    db.session.expire_all()
    void = db.session.scalar(select(ReceiptVoid))
    assert void.reason == "Uang palsu" and void.voided_by_id == pengurus.id
    reversal = db.session.get(JournalEntry, void.reversal_entry_id)
    assert reversal.reverses_id == receipt.entry_id
    assert savings.member_balances(driver)["wajib"] == 0
    assert billing.arrears_months([driver.id]) == {driver.id: 2}
    again = client.post(
        f"/kwitansi/{receipt.number}/batal", data={"csrf_token": token, "reason": "lagi"}
    )
    assert again.status_code == 409
    html = client.get(f"/kwitansi/{receipt.number}").get_data(as_text=True)
    assert 'data-testid="receipt-void"' in html
    from kmp.ledger.queries import check_ledger

    assert check_ledger().ok


def test_member_cannot_see_another_members_payment(client, board, driver):
    bendahara, pengurus = board
    other = active_member(2, bendahara, pengurus)
    bill_months(1)
    login_member(client, driver)
    response = _pay(client, {"purpose": "wajib", "months": "1"})
    assert response.status_code == 303
    intent = db.session.scalar(select(PaymentIntent))
    login_member(client, other)
    assert client.get(f"/anggota/simpanan/pembayaran/{intent.id}").status_code == 404
    assert re.search(r"\d", str(intent.id))


def test_a_reversed_wajib_payment_reopens_the_bills(client, driver):
    bill_months(2)
    login_member(client, driver)
    response = _pay(client, {"purpose": "wajib", "months": "2"})
    location = response.headers["Location"]
    _simulate(client, location, "settlement")
    db.session.expire_all()
    assert billing.arrears_months([driver.id]) == {}
    _simulate(client, location, "deny")  # e.g. Indomaret: settlement reversed within minutes
    db.session.expire_all()
    assert billing.arrears_months([driver.id]) == {driver.id: 2}
    assert savings.member_balances(driver)["wajib"] == 0
    intent = db.session.scalar(select(PaymentIntent))
    assert intent.status.value == "open"
    from kmp.ledger.queries import check_ledger

    assert check_ledger().ok


def test_applicant_pays_pokok_in_instalments_online(client, board):
    from members.register.admission import approve_member, pokok_status
    from tests.integration.members_support import apply_member

    _, pengurus = board
    applicant = apply_member(9)
    approve_member(applicant, pengurus)
    db.session.commit()
    login_member(client, applicant)
    html = client.get("/anggota/simpanan").get_data(as_text=True)
    assert 'data-testid="pay-pokok"' in html and 'data-testid="pay-wajib"' not in html
    too_much = _pay(client, {"purpose": "pokok", "amount": "150000"})
    assert too_much.status_code == 422 and "melebihi sisa" in too_much.get_data(as_text=True)
    first = _pay(client, {"purpose": "pokok", "amount": "40.000"})
    assert first.status_code == 303
    _simulate(client, first.headers["Location"])
    db.session.expire_all()
    assert pokok_status(applicant).paid_idr == 40_000
    assert applicant.status.value == "approved"
    rest = _pay(client, {"purpose": "pokok"})  # default: the remaining Rp 60.000
    _simulate(client, rest.headers["Location"])
    db.session.expire_all()
    assert applicant.status.value == "active" and applicant.member_no
    assert savings.member_balances(applicant)["pokok"] == 100_000
    bodies = db.session.scalars(
        select(Notification.body).where(
            Notification.member_id == applicant.id, Notification.kind == "payment_receipt"
        )
    ).all()
    assert len(bodies) == 2 and any("cicilan" in b for b in bodies)
