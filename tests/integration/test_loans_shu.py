"""Issue 18, must-show 5 (second part): with the option on (the loan product, approved by
the pengurus per the AD), the interest a borrower paid raises their jasa usaha in the SHU."""

from __future__ import annotations

import datetime as dt

import pytest

from kmp.extensions import db
from members.loans import repayment
from members.loans.disbursement import disburse_loan
from members.loans.services import apply_for_loan, decide_loan
from payouts import services as shu
from tests.integration.loans_support import make_product
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_member


@pytest.fixture
def board(make_user):
    return make_user("bendahara", "pengurus"), make_user("pengurus"), make_user("pengurus")


def _usaha(fy) -> dict[str, int]:
    group = shu.compute_allocation(fy).result.group("pengemudi")
    return dict(zip(group.member_no, group.jasa_usaha_idr, strict=True))


@pytest.mark.parametrize("counted", [True, False])
def test_interest_paid_counts_as_patronage_when_the_product_says_so(board, counted):
    bendahara, pengurus, other = board
    fy = fiscal_year()
    borrower = shu_member("pengemudi", wajib=200_000, trips=100)
    saver = shu_member("pengemudi", wajib=200_000, trips=100)
    product = make_product(
        pengurus, other, savings_multiple=0, min_active_months=0, interest_is_patronage=counted
    )
    loan = apply_for_loan(
        borrower,
        product,
        principal_idr=1_200_000,
        months=12,
        purpose="Motor",
        by_user=borrower.user or bendahara,
    )
    decide_loan(loan, by_user=other, approve=True)
    disburse_loan(loan, method="cash", by_user=bendahara, on_date=dt.date(fy, 3, 1))
    repayment.record_loan_payment(
        loan,
        amount_idr=236_000,
        method="cash",
        by_user=bendahara,
        request_token="shu-1",
        paid_on=dt.date(fy, 5, 1),
    )
    book_surplus(10_000_000)
    db.session.commit()
    shares = _usaha(fy)
    mine, theirs = shares[borrower.member_no], shares[saver.member_no]
    if counted:
        # patronage 100 + 36.000 interest against 100
        assert mine > 300 * theirs and mine + theirs > 0
    else:
        assert abs(mine - theirs) <= 1  # equal patronage (largest-remainder rounding)
