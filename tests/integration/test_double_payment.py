"""Issue 16, must show 5: one obligation is never paid twice, whatever arrives in what order.

1. A member taps "Bayar" twice for pokok: the second tap returns the same checkout; if two
   pages were paid anyway, the AD's pokok is booked once and the rest becomes sukarela, flagged.
2. An online checkout for April is open, April is paid in cash, then the online money
   arrives: it is not booked to April again — it pays May (or, before May is billed, becomes
   advance credit that pays May when it is billed), and the payment is flagged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.queries import check_ledger
from kmp.payments.factory import get_gateway, set_gateway
from kmp.payments.models import PaymentAttempt, PaymentIntent
from kmp.payments.services import start_checkout
from kmp.timeutil import add_months, business_date
from members.register.admission import approve_member, pokok_status
from members.register.services import new_request_token
from members.savings import allocator, billing
from members.savings import services as savings
from members.savings.deposits import record_receipt
from members.savings.models import Obligation
from tests.conftest import csrf_from
from tests.integration.members_support import apply_member
from tests.integration.savings_support import active_member, bill_months, login_member


@pytest.fixture(autouse=True)
def fake_gateway(app):
    set_gateway(app, None)
    yield
    set_gateway(app, None)


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


def _pay(client, data):
    page = client.get("/anggota/simpanan")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/anggota/simpanan/bayar", data={"csrf_token": token, **data})


def _simulate(client, location, outcome="settlement"):
    page = client.get(location)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(location, data={"csrf_token": token, "outcome": outcome})


def test_tapping_bayar_twice_returns_the_same_checkout(client, board):
    applicant = apply_member(1)
    approve_member(applicant, board[1])
    db.session.commit()
    login_member(client, applicant)
    first = _pay(client, {"purpose": "pokok"})
    second = _pay(client, {"purpose": "pokok"})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(PaymentIntent)) == 1
    assert db.session.scalar(select(func.count()).select_from(PaymentAttempt)) == 1
    page = client.get("/anggota/simpanan").get_data(as_text=True)
    assert 'data-testid="pending-payments"' in page and "Menunggu pembayaran" in page
    _simulate(client, first.headers["Location"])
    db.session.expire_all()
    assert applicant.status.value == "active"
    assert savings.member_balances(applicant)["pokok"] == 100_000


def test_two_paid_pokok_pages_book_the_pokok_once_and_the_rest_to_sukarela(app, client, board):
    applicant = apply_member(2)
    approve_member(applicant, board[1])
    db.session.commit()
    intent = savings.create_savings_intent(applicant, "pokok", by_user=applicant.user)
    gateway = get_gateway(app)
    pages = [start_checkout(intent, gateway), start_checkout(intent, gateway)]
    db.session.commit()
    login_member(client, applicant)
    for attempt in pages:
        _simulate(client, f"/payments/simulate/{attempt.order_id}")
    db.session.expire_all()
    balances = savings.member_balances(applicant)
    assert balances["pokok"] == 100_000 and balances["sukarela"] == 100_000
    assert pokok_status(applicant).paid_idr == 100_000
    flagged = db.session.scalars(
        select(PaymentAttempt).where(PaymentAttempt.flagged_for_review.is_(True))
    ).all()
    assert len(flagged) == 1
    assert check_ledger().ok


@pytest.mark.parametrize("may_billed", [True, False])
def test_a_late_online_payment_for_a_month_paid_in_cash_pays_the_next_month(
    client, board, may_billed
):
    member = active_member(3, *board)
    (april,) = bill_months(1, add_months(business_date(), -1))
    login_member(client, member)
    checkout = _pay(client, {"purpose": "wajib", "months": "1"})
    assert checkout.status_code == 303
    record_receipt(
        member,
        purpose="wajib",
        amount_idr=25_000,
        method="cash",
        by_user=board[0],
        request_token=new_request_token(),
    )
    db.session.commit()
    may = add_months(april, 1)
    if may_billed:
        billing.bill_wajib(may)
        db.session.commit()
    _simulate(client, checkout.headers["Location"])
    db.session.expire_all()
    if not may_billed:
        assert allocator.credit_balance(member.id) == 25_000
        billing.bill_wajib(may)
        db.session.commit()
    bills = db.session.scalars(
        select(Obligation).where(Obligation.member_id == member.id).order_by(Obligation.period)
    ).all()
    assert [(b.period, b.paid_idr, b.is_open) for b in bills] == [
        (april, 25_000, False),
        (may, 25_000, False),
    ]
    assert allocator.credit_balance(member.id) == 0
    assert savings.member_balances(member)["wajib"] == 50_000
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.flagged_for_review and "sudah lunas" in attempt.flag_reason
    assert check_ledger().ok
