"""The obligations allocator (issue 16): every payment, oldest obligation first, excess as
advance credit or sukarela, never more to an obligation than it owes, undone exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kmp.errors import Conflict
from kmp.extensions import db
from kmp.ledger.chart import CASH, member_account_code
from kmp.ledger.queries import check_ledger
from kmp.ledger.services import post_entry
from kmp.timeutil import add_months, business_date
from members.savings import allocator, billing
from members.savings.models import MemberCredit, Obligation
from tests.integration.members_support import apply_member
from tests.integration.savings_support import active_member, bill_months


@pytest.fixture
def board(make_user):
    return make_user("bendahara"), make_user("pengurus")


def _bills(member_id):
    return db.session.scalars(
        select(Obligation).where(Obligation.member_id == member_id).order_by(Obligation.period)
    ).all()


def test_oldest_first_then_advance_credit_then_next_bill_takes_it(board):
    member = active_member(1, *board)
    months = bill_months(2)
    today = business_date()
    first = allocator.allocate(member, 30_000, purpose="wajib", source="t:1", paid_on=today)
    assert first.applied_idr == 30_000 and first.credit_idr == 0 and not first.flagged
    assert [(b.paid_idr, b.is_open) for b in _bills(member.id)] == [(25_000, False), (5_000, True)]
    wajib = member_account_code("wajib", member.member_no)
    assert first.lines == [(wajib, 30_000)]
    # more than owed: the rest is advance credit (in the wajib account), not flagged
    second = allocator.allocate(member, 70_000, purpose="wajib", source="t:2", paid_on=today)
    assert second.applied_idr == 20_000 and second.credit_idr == 50_000
    assert second.lines == [(wajib, 70_000)] and not second.flagged
    assert allocator.credit_balance(member.id) == 50_000
    assert billing.arrears_months([member.id]) == {}
    # the next month's bill is paid by the credit as soon as it is billed
    nxt = add_months(months[-1], 1)
    billing.bill_wajib(nxt)
    bills = _bills(member.id)
    assert (bills[-1].period, bills[-1].paid_idr, bills[-1].is_open) == (nxt, 25_000, False)
    assert allocator.credit_balance(member.id) == 25_000


def test_the_same_source_twice_is_refused_and_unallocate_reopens_exactly(board):
    member = active_member(1, *board)
    bill_months(2)
    today = business_date()
    allocator.allocate(member, 30_000, purpose="wajib", source="t:1", paid_on=today)
    with pytest.raises(Conflict):
        allocator.allocate(member, 30_000, purpose="wajib", source="t:1", paid_on=today)
    allocator.allocate(member, 45_000, purpose="wajib", source="t:2", paid_on=today)  # 20k + 25k
    assert allocator.credit_balance(member.id) == 25_000
    assert allocator.unallocate("t:1") == 30_000
    assert [(b.paid_idr, b.is_open) for b in _bills(member.id)] == [(0, True), (20_000, True)]
    assert allocator.unallocate("t:1") == 0  # idempotent
    assert allocator.unallocate("t:2") == 45_000
    assert allocator.credit_balance(member.id) == 0
    assert [(b.paid_idr, b.is_open) for b in _bills(member.id)] == [(0, True), (0, True)]


def test_taking_back_credit_already_used_reopens_the_bill_it_paid(board):
    member = active_member(1, *board)
    months = bill_months(1)
    today = business_date()
    allocator.allocate(member, 50_000, purpose="wajib", source="t:1", paid_on=today)
    billing.bill_wajib(add_months(months[-1], 1))  # the credit pays next month
    assert all(not b.is_open for b in _bills(member.id))
    assert allocator.unallocate("t:1") == 50_000
    assert [(b.paid_idr, b.is_open) for b in _bills(member.id)] == [(0, True), (0, True)]
    assert allocator.credit_balance(member.id) == 0
    live = db.session.scalars(select(MemberCredit).where(MemberCredit.reversed_at.is_(None)))
    assert sum(c.amount_idr for c in live) == 0


def test_a_target_paid_meanwhile_diverts_its_share_and_flags(board):
    member = active_member(1, *board)
    months = bill_months(2)
    april, may = _bills(member.id)
    today = business_date()
    allocator.allocate(
        member,
        25_000,
        purpose="wajib",
        source="cash:1",
        targets=[[april.id, 25_000]],
        paid_on=today,
    )
    late = allocator.allocate(
        member,
        25_000,
        purpose="wajib",
        source="online:1",
        targets=[[april.id, 25_000]],
        paid_on=today,
    )
    assert late.flagged and late.applied == [(may.id, 25_000)]
    assert [b.is_open for b in _bills(member.id)] == [False, False]
    del months


def _pay(member, amount, purpose, source):
    alloc = allocator.allocate(
        member, amount, purpose=purpose, source=source, paid_on=business_date()
    )
    post_entry(
        idempotency_key=source,
        description=source,
        lines=[(CASH, amount)] + [(code, -value) for code, value in alloc.lines],
        source_kind="test",
    )
    return alloc


def test_pokok_is_never_booked_beyond_the_ad_amount(board):
    applicant = apply_member(7)
    first = _pay(applicant, 100_000, "pokok", "p:1")
    assert first.pokok_idr == 100_000 and not first.flagged
    second = _pay(applicant, 100_000, "pokok", "p:2")
    assert second.pokok_idr == 0 and second.sukarela_idr == 100_000 and second.flagged
    # admission: the AD's pokok becomes pokok, the excess the new member's sukarela
    from members.register.admission import approve_member, pokok_status
    from members.savings.services import member_balances

    approve_member(applicant, board[1])
    from members.register.admission import activate_if_ready

    activate_if_ready(applicant)
    assert pokok_status(applicant).paid_idr == 100_000
    balances = member_balances(applicant)
    assert balances["pokok"] == 100_000 and balances["sukarela"] == 100_000
    assert check_ledger().ok
