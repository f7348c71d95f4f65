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


@pytest.mark.parametrize(
    ("ad_on", "product_counts", "counted"),
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_interest_paid_counts_as_patronage_when_the_ad_and_the_product_say_so(
    board, ad_on, product_counts, counted
):
    from tests.integration.governance_factories import set_ad

    bendahara, pengurus, other = board
    if ad_on:
        set_ad(loan_interest_is_patronage=True)
    fy = fiscal_year()
    borrower = shu_member("pengemudi", wajib=200_000, trips=100)
    saver = shu_member("pengemudi", wajib=200_000, trips=100)
    product = make_product(
        pengurus,
        other,
        savings_multiple=0,
        min_active_months=0,
        interest_is_patronage=product_counts,
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


@pytest.mark.parametrize("allowed", [True, False])
def test_shu_paid_to_sukarela_sets_off_overdue_instalments_when_the_ad_allows(
    board, make_user, allowed
):
    from kmp.auth import Role
    from kmp.ledger.queries import check_ledger
    from kmp.ledger.services import get_account
    from kmp.timeutil import business_date
    from members.loans import policy
    from payouts import posting, transfers
    from payouts.models import DistributionRun
    from tests.integration.governance_factories import set_ad
    from tests.integration.payouts_support import shu_ballot

    bendahara, pengurus, other = board
    members = [
        shu_member("pengemudi", wajib=100_000, trips=10, user=make_user(Role.ANGGOTA))
        for _ in range(3)
    ]
    book_surplus(10_000_000)
    if allowed:
        set_ad(loan_shu_setoff=True)
    product = make_product(pengurus, other, savings_multiple=0, min_active_months=0)
    loan = apply_for_loan(
        members[0],
        product,
        principal_idr=1_200_000,
        months=12,
        purpose="Motor",
        by_user=members[0].user,
    )
    decide_loan(loan, by_user=other, approve=True)
    disburse_loan(
        loan, method="cash", by_user=bendahara, on_date=business_date() - dt.timedelta(days=45)
    )
    db.session.commit()
    run = shu.create_run(fiscal_year(), None)
    shu.compute_run(run, by_user=None)
    db.session.commit()
    shu_ballot(run, members, option="yes", by_user=pengurus)
    db.session.commit()
    db.session.expire_all()
    run = db.session.get(DistributionRun, run.id)
    posting.post_run(run)
    db.session.commit()
    line = transfers.member_line(run, members[0].id)
    assert line.total_idr > 118_000
    transfers.pay_sukarela(run)
    db.session.commit()
    receivable = get_account(policy.receivable_code(members[0].member_no)).natural_balance_idr
    sukarela = get_account(f"liability:savings:voluntary:{members[0].member_no}")
    if allowed:
        # The overdue first instalment (100.000 + 18.000 interest) came out of the SHU.
        assert receivable == 1_100_000
        assert sukarela.natural_balance_idr == line.total_idr - 118_000
    else:
        assert receivable == 1_200_000
        assert sukarela.natural_balance_idr == line.total_idr
    assert check_ledger().ok
