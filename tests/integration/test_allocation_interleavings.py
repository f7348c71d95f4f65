"""Issue 16, must show 2: random interleavings of checkouts, settlements (duplicated, out of
order, late), cash receipts, check-off lines and billing never leave money unapplied while an
obligation of the same member is open, and never book more to an obligation than it owes.

Each example gets a fresh member (the database is shared by the examples of the test); the
invariants are checked per member after every step:

- no advance credit while a wajib bill of that member is open;
- every bill's paid amount is within 0..amount (also a CHECK constraint) and the sum of what
  the allocator applied to it equals it;
- the member's wajib account holds exactly what was applied to wajib bills plus the credit;
- the ledger balances.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.queries import check_ledger
from kmp.payments.factory import get_gateway, set_gateway
from kmp.payments.services import apply_gateway_status, start_checkout
from kmp.timeutil import add_months, business_date
from members.partners import links as partners_links
from members.partners import remittances
from members.register.services import new_request_token
from members.savings import allocator, billing
from members.savings import services as savings
from members.savings.deposits import record_receipt
from members.savings.models import MemberCredit, Obligation, ObligationPayment
from tests.api.conftest import make_company
from tests.integration.members_support import admit, apply_member

_numbers = itertools.count(100)

OPS = st.one_of(
    st.tuples(st.just("bill"), st.integers(0, 5)),
    st.tuples(st.just("checkout"), st.integers(1, 3)),
    st.tuples(st.just("settle"), st.integers(0, 4)),
    st.tuples(st.just("settle_again"), st.integers(0, 4)),
    st.tuples(st.just("cash"), st.sampled_from([10_000, 25_000, 40_000, 75_000])),
    st.tuples(st.just("checkoff"), st.sampled_from([25_000, 30_000, 50_000])),
)


@pytest.fixture
def world(app, make_user):
    set_gateway(app, None)
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    company = make_company(1, "PT Ojek Nusantara", bendahara, pengurus)
    yield {"app": app, "bendahara": bendahara, "pengurus": pengurus, "company": company}
    set_gateway(app, None)


def _check(member) -> None:
    db.session.flush()
    bills = db.session.scalars(select(Obligation).where(Obligation.member_id == member.id)).all()
    for bill in bills:
        applied = db.session.scalar(
            select(func.coalesce(func.sum(ObligationPayment.amount_idr), 0)).where(
                ObligationPayment.obligation_id == bill.id,
                ObligationPayment.reversed_at.is_(None),
            )
        )
        assert 0 <= bill.paid_idr <= bill.amount_idr and applied == bill.paid_idr
        assert bill.is_open == (bill.paid_idr < bill.amount_idr)
    credit = allocator.credit_balance(member.id)
    assert credit >= 0
    if credit > 0:
        assert not any(b.is_open for b in bills), "credit left while a bill is open"
    # the wajib account: what bills took from it (not exit set-offs) plus the credit
    applied = sum(b.paid_idr for b in bills)
    assert savings.member_balances(member)["wajib"] == applied + credit
    assert (
        db.session.scalar(
            select(func.coalesce(func.sum(MemberCredit.amount_idr), 0)).where(
                MemberCredit.member_id == member.id, MemberCredit.reversed_at.is_(None)
            )
        )
        == credit
    )


@settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(OPS, min_size=3, max_size=14))
def test_interleavings_never_pay_twice_nor_leave_money_unapplied(world, ops):
    app, company = world["app"], world["company"]
    n = next(_numbers)
    member = admit(apply_member(n), world["bendahara"], world["pengurus"])
    start = add_months(business_date().replace(day=1), -5)
    member.joined_date = start
    worker_id = f"GJK-{n}"
    partners_links.link_worker(member, company, worker_id)
    db.session.commit()
    gateway = get_gateway(app)
    attempts = []
    for step, (op, arg) in enumerate(ops):
        if op == "bill":
            billing.bill_wajib(add_months(start, arg))
        elif op == "checkout":
            options = savings.wajib_options(member)
            if len(options) >= arg:
                intent = savings.create_savings_intent(
                    member, "wajib", by_user=member.user, months=arg, gateway=gateway
                )
                attempts.append(start_checkout(intent, gateway))
        elif op in ("settle", "settle_again") and attempts:
            attempt = attempts[arg % len(attempts)]
            gateway.simulate(attempt.order_id, "settlement")
            apply_gateway_status(attempt, gateway.get_status(attempt.order_id))
        elif op == "cash":
            record_receipt(
                member,
                purpose="wajib",
                amount_idr=arg,
                method="cash",
                by_user=world["bendahara"],
                request_token=new_request_token(),
            )
        elif op == "checkoff":
            remittances.submit_remittance(
                company,
                remittance_ref=f"R-{n}-{step}",
                total_idr=arg,
                lines=[remittances.RemittanceLineIn(worker_id, "wajib", arg)],
                source="test",
            )
        db.session.commit()
        _check(member)
    assert check_ledger().ok
