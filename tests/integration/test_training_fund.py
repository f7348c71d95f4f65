"""Issue 23, must show 4: paying a course from the education fund posts against the fund
(Dr liability:shu-fund:pendidikan, Cr bank) after a second board member approves it; the
fund's balance and its summary for the RAT book equal the ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kmp.errors import DomainError, Forbidden, IllegalTransition
from kmp.extensions import db
from kmp.ledger.chart import BANK, SHU_CURRENT, SHU_FUNDS
from kmp.ledger.models import JournalEntry, Posting
from kmp.ledger.queries import check_ledger, natural_balance
from kmp.ledger.services import get_account, post_entry
from kmp.timeutil import set_clock
from members.training import fund, services
from members.training.models import FundPayment
from tests.conftest import csrf_from
from tests.integration.training_support import board_user

FUND = SHU_FUNDS["dana_pendidikan"]
TODAY = dt.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def _clock():
    set_clock(lambda: dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))
    yield
    set_clock(None)


def allocate_shu(amount: int, day: dt.date, key: str) -> None:
    """What the SHU run posts for the dana pendidikan share (and money in the bank)."""
    post_entry(
        idempotency_key=key,
        description="Pembagian SHU: dana pendidikan",
        lines=[(SHU_CURRENT, amount), (FUND, -amount)],
        source_kind="shu-distribution",
        entry_date=day,
    )
    post_entry(
        idempotency_key=f"{key}:bank",
        description="Setoran ke bank",
        lines=[(BANK, amount), ("equity:opening-balance", -amount)],
        source_kind="test",
        entry_date=day,
    )


def course(title="Sertifikasi Pengurus Koperasi", cost=1_500_000):
    return services.create_programme(
        services.ProgrammeInput(
            title=title,
            kind="bnsp",
            skkni_ref="Kepmenaker 189/2019",
            provider="LSP Koperasi Jasa Keuangan",
            place="Jakarta",
            starts_on=TODAY + dt.timedelta(days=10),
            ends_on=TODAY + dt.timedelta(days=11),
            seats=10,
            cost_idr=cost,
            payer="fund",
        ),
        by_user=None,
    )


def pay(item, amount, maker, **extra):
    return fund.record_fund_payment(
        item,
        amount_idr=amount,
        paid_on=TODAY,
        money_account_id=get_account(BANK).id,
        counterparty="LSP Koperasi Jasa Keuangan",
        description="Biaya uji kompetensi 2 peserta",
        by_user=maker,
        **extra,
    )


def test_paying_a_course_posts_against_the_fund_after_a_second_member():
    allocate_shu(2_000_000, dt.date(2025, 7, 31), "shu-2024")
    allocate_shu(10_000_000, dt.date(2026, 1, 31), "shu-2025")
    maker, checker = board_user(name="Maker"), board_user("pengurus", "bendahara")
    pengawas = board_user("pengawas")
    item = course()
    payment = pay(item, 3_000_000, maker)
    db.session.commit()
    assert payment.status.value == "pending" and payment.entry_id is None
    assert fund.fund_balance_idr() == 12_000_000  # nothing moved yet

    with pytest.raises(Forbidden, match="Pembuat"):
        fund.approve_fund_payment(payment, by_user=maker)
    with pytest.raises(Forbidden):
        fund.approve_fund_payment(payment, by_user=pengawas)
    fund.approve_fund_payment(payment, by_user=checker)
    db.session.commit()

    entry = db.session.get(JournalEntry, payment.entry_id)
    lines = {
        p.account_id: p.amount_idr
        for p in db.session.scalars(select(Posting).where(Posting.entry_id == entry.id))
    }
    assert lines == {get_account(FUND).id: 3_000_000, get_account(BANK).id: -3_000_000}
    assert entry.source_kind == fund.SOURCE_KIND and entry.entry_date == TODAY
    with pytest.raises(IllegalTransition):
        fund.approve_fund_payment(payment, by_user=checker)
    db.session.rollback()

    ledger_balance = natural_balance(get_account(FUND))
    assert ledger_balance == fund.fund_balance_idr() == 9_000_000
    summary = fund.education_fund_summary(2026)
    assert (summary.opening_idr, summary.received_idr, summary.spent_idr) == (
        2_000_000,
        10_000_000,
        3_000_000,
    )
    assert summary.closing_idr == ledger_balance and summary.balances
    assert [(s.title, s.amount_idr) for s in summary.by_programme] == [(item.title, 3_000_000)]
    last_year = fund.education_fund_summary(2025)
    assert (last_year.opening_idr, last_year.closing_idr, last_year.spent_idr) == (
        0,
        2_000_000,
        0,
    )
    assert check_ledger().ok


def test_the_fund_cannot_be_overdrawn():
    allocate_shu(4_000_000, dt.date(2026, 1, 31), "shu")
    maker, checker = board_user(), board_user()
    item = course()
    with pytest.raises(DomainError) as refused:
        pay(item, 4_000_001, maker)
    assert refused.value.code == "fund_insufficient" and refused.value.field == "amount"
    first, second = pay(item, 3_000_000, maker), pay(item, 3_000_000, maker)  # each fits alone
    fund.approve_fund_payment(first, by_user=checker)
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        fund.approve_fund_payment(second, by_user=checker)
    assert refused.value.code == "fund_insufficient"
    db.session.rollback()
    fund.reject_fund_payment(second, by_user=checker, note="dana tidak cukup, tunda")
    db.session.commit()
    assert fund.fund_balance_idr() == 1_000_000


def test_payment_input_replay_and_reversal():
    allocate_shu(5_000_000, dt.date(2026, 1, 31), "shu")
    maker, checker = board_user(), board_user()
    item = course()
    for kwargs, field in (
        ({"amount_idr": 0}, "amount"),
        ({"paid_on": TODAY + dt.timedelta(days=1)}, "paid_on"),
        ({"money_account_id": get_account("asset:gateway-clearing").id}, "money_account"),
        ({"counterparty": " "}, "counterparty"),
        ({"description": "x"}, "description"),
    ):
        base = {
            "amount_idr": 1_000_000,
            "paid_on": TODAY,
            "money_account_id": get_account(BANK).id,
            "counterparty": "LSP",
            "description": "Biaya kursus",
        }
        base.update(kwargs)
        with pytest.raises(DomainError) as refused:
            fund.record_fund_payment(item, by_user=maker, **base)
        assert refused.value.field == field
    payment = pay(item, 1_000_000, maker, request_key="k-1")
    assert pay(item, 1_000_000, maker, request_key="k-1").id == payment.id  # double submit
    fund.approve_fund_payment(payment, by_user=checker)
    fund.reverse_fund_payment(payment, by_user=checker, reason="kursus dibatalkan, uang kembali")
    db.session.commit()
    assert payment.status.value == "reversed"
    summary = fund.education_fund_summary(2026)
    assert summary.spent_idr == 0 and summary.closing_idr == fund.fund_balance_idr() == 5_000_000
    assert db.session.query(FundPayment).count() == 1


def test_fund_pages(client, login_as):
    allocate_shu(5_000_000, dt.date(2026, 1, 31), "shu")
    item = course()
    maker = login_as("pengurus", "bendahara")
    db.session.commit()
    page = client.get("/pengurus/dana-pendidikan").get_data(as_text=True)
    assert "Rp 5.000.000" in page
    token = csrf_from(page)
    data = {
        "csrf_token": token,
        "programme": str(item.id),
        "amount": "1,5 jt",
        "paid_on": TODAY.isoformat(),
        "money_account": str(get_account(BANK).id),
        "counterparty": "LSP Koperasi",
        "description": "Uji kompetensi",
        "request_key": "page-1",
    }
    assert (
        client.post("/pengurus/dana-pendidikan", data={**data, "amount": "abc"}).status_code == 422
    )
    assert client.post("/pengurus/dana-pendidikan", data=data).status_code == 303
    payment = db.session.scalar(select(FundPayment))
    assert payment.amount_idr == 1_500_000 and payment.created_by_id == maker.id
    own = client.post(
        f"/pengurus/dana-pendidikan/{payment.id}/putuskan",
        data={"csrf_token": token, "action": "approve"},
        follow_redirects=True,
    )
    assert "Pembuat tidak dapat" in own.get_data(as_text=True)
    login_as("pengurus")
    page = client.get("/pengurus/dana-pendidikan").get_data(as_text=True)
    response = client.post(
        f"/pengurus/dana-pendidikan/{payment.id}/putuskan",
        data={"csrf_token": csrf_from(page), "action": "approve"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert fund.fund_balance_idr() == 3_500_000
    login_as("pengawas")
    assert client.get("/pengurus/dana-pendidikan").status_code == 200
    assert client.post("/pengurus/dana-pendidikan", data=data).status_code == 403
