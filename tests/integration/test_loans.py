"""Issue 18: applications, maker-checker, disbursement and repayment through the one
allocator from every channel (must-shows 2 through HTTP without a browser, 4 and 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.ledger.queries import check_ledger
from kmp.ledger.services import get_account
from kmp.payments.factory import set_gateway
from kmp.payments.models import PaymentIntent
from kmp.timeutil import business_date
from members.loans import policy, repayment, services
from members.loans.disbursement import disburse_loan
from members.loans.models import LoanProduct
from members.loans.states import LoanStatus
from members.partners import links as partners_links
from members.partners import remittances as partners_remittances
from members.savings.models import Obligation, ObligationPayment
from tests.api.conftest import make_company
from tests.conftest import csrf_from
from tests.integration.loans_support import active_loan, borrower, make_product
from tests.integration.savings_support import active_member, bill_months, login_member


@pytest.fixture(autouse=True)
def fake_gateway(app):
    set_gateway(app, None)
    yield
    set_gateway(app, None)


@pytest.fixture
def board(make_user):
    return make_user("bendahara", "pengurus"), make_user("pengurus"), make_user("pengurus")


def balance(code: str) -> int:
    return get_account(code).natural_balance_idr


def _refused(code: str, fn, *args, **kwargs) -> str:
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    db.session.rollback()
    assert info.value.code == code, (info.value.code, info.value.message)
    return info.value.message


def _simulate(client, location, outcome="settlement"):
    page = client.get(location)
    assert page.status_code == 200 and "SIMULASI" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(location, data={"csrf_token": token, "outcome": outcome})


def test_products_are_versioned_and_approved_by_another_pengurus(board):
    bendahara, pengurus, other = board
    draft = services.create_product("uji", dict(_product()), by_user=pengurus)
    db.session.commit()
    assert services.offered_products() == []
    _refused("self_approval", services.approve_product, draft, by_user=pengurus)
    draft = db.session.get(LoanProduct, draft.id)
    services.approve_product(draft, by_user=other)
    second = services.create_product("uji", dict(_product(annual_rate_bp=1500)), by_user=other)
    services.approve_product(second, by_user=pengurus)
    db.session.commit()
    assert second.version == 2
    assert [p.id for p in services.offered_products()] == [second.id]
    assert db.session.get(LoanProduct, draft.id).status.value == "retired"


def _product(**overrides):
    from tests.integration.loans_support import PRODUCT

    return {**PRODUCT, **overrides}


def test_refusals_with_clear_messages(board, client):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other, guarantors=0)
    member = borrower(1, bendahara, pengurus, savings=100_000)
    apply = services.apply_for_loan
    kwargs = {"months": 6, "purpose": "HP baru", "by_user": member.user}
    message = _refused("outside_product", apply, member, product, principal_idr=7_000_000, **kwargs)
    assert "Rp 6.000.000" in message
    # Savings: pokok + wajib + sukarela; five times that is the ceiling.
    savings = services.own_savings_idr(member)
    message = _refused(
        "savings_multiple", apply, member, product, principal_idr=savings * 5 + 1, **kwargs
    )
    assert "5 kali simpanan" in message
    # A member in arrears (unpaid simpanan wajib due) is refused.
    bill_months(2, business_date().replace(day=1))
    late = active_member(2, bendahara, pengurus)
    bill_months(2)
    message = _refused("member_in_arrears", apply, late, product, principal_idr=500_000, **kwargs)
    assert "Tunggakan" in message
    # Self-approval, guarantor approval, second disbursement.
    board_member = borrower(3, bendahara, pengurus, savings=2_000_000)
    from kmp.auth import grant_role

    grant_role(board_member.user, "pengurus")
    db.session.commit()
    guarantor = borrower(4, bendahara, pengurus)
    grant_role(guarantor.user, "pengurus")
    db.session.commit()
    loan = apply(
        board_member,
        product,
        principal_idr=1_000_000,
        months=6,
        purpose="Usaha",
        by_user=board_member.user,
        guarantor_nos=(guarantor.member_no,),
    )
    db.session.commit()
    message = _refused(
        "self_approval", services.decide_loan, loan, by_user=board_member.user, approve=True
    )
    assert "sendiri" in message
    message = _refused(
        "guarantor_approval", services.decide_loan, loan, by_user=guarantor.user, approve=True
    )
    assert "Penjamin" in message
    services.decide_loan(loan, by_user=other, approve=True)
    disburse_loan(loan, method="sukarela", by_user=bendahara)
    db.session.commit()
    message = _refused("already_disbursed", disburse_loan, loan, method="cash", by_user=bendahara)
    assert "sudah dicairkan" in message
    # Through the page: a refused application is a 422 with the message, nothing written.
    login_member(client, member)
    page = client.get("/anggota/pinjaman/ajukan")
    response = client.post(
        "/anggota/pinjaman/ajukan",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "product": product.id,
            "principal": "abc",
            "months": "6",
            "purpose": "x",
        },
    )
    assert response.status_code == 422 and "Tulis jumlah pinjaman" in response.get_data(
        as_text=True
    )
    assert db.session.scalar(select(func.count()).where(services.Loan.member_id == member.id)) == 0


def test_two_approvals_above_the_limit_and_a_rejection_the_member_reads(board, client):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(5, bendahara, pengurus, savings=2_000_000)
    big = services.apply_for_loan(
        member, product, principal_idr=4_000_000, months=12, purpose="Motor", by_user=member.user
    )
    assert big.approvals_needed == 2
    services.decide_loan(big, by_user=pengurus, approve=True)
    db.session.commit()
    assert big.status is LoanStatus.APPLIED
    _refused("already_decided", services.decide_loan, big, by_user=pengurus, approve=True)
    services.decide_loan(big, by_user=other, approve=True)
    assert big.status is LoanStatus.APPROVED
    services.withdraw_loan(big, by_user=member.user)
    small = services.apply_for_loan(
        member, product, principal_idr=600_000, months=3, purpose="HP", by_user=member.user
    )
    db.session.commit()
    _refused("invalid", services.decide_loan, small, by_user=other, approve=False, note="")
    services.decide_loan(small, by_user=other, approve=False, note="Penghasilan belum cukup")
    db.session.commit()
    login_member(client, member)
    html = client.get(f"/anggota/pinjaman/{small.id}").get_data(as_text=True)
    assert "Penghasilan belum cukup" in html and "Ditolak" in html


def test_apply_on_the_phone_approve_disburse_pay_online_twice_and_by_check_off(board, client):
    """Must-show 2 through HTTP: the schedule before submitting, another officer approves,
    disbursed to sukarela, two instalments online, one by check-off sent twice."""
    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(6, bendahara, pengurus)
    sukarela_before = balance(f"liability:savings:voluntary:{member.member_no}")
    login_member(client, member)
    page = client.get(f"/anggota/pinjaman/ajukan?produk={product.id}")
    form = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "product": product.id,
        "principal": "1.200.000",
        "months": "12",
        "purpose": "Servis motor",
    }
    preview = client.post("/anggota/pinjaman/ajukan", data={**form, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert html.count('data-testid="schedule-row"') == 12
    assert 'data-testid="quote-total">Rp 1.416.000<' in html  # 12 x 118.000
    assert 'data-testid="quote-cost">Rp 238.000<' in html  # interest 216.000 + fees 22.000
    assert 'data-testid="quote-effective">' in html and "rupiah terdekat" in html
    assert db.session.scalar(select(func.count()).select_from(services.Loan)) == 0
    done = client.post("/anggota/pinjaman/ajukan", data={**form, "action": "submit"})
    assert done.status_code == 303
    loan = db.session.scalar(select(services.Loan))
    # A different officer approves and the bendahara disburses, on the board pages.
    login_member(client, type("U", (), {"user": other})())
    case = client.get(f"/pengurus/pinjaman/{loan.id}")
    token = csrf_from(case.get_data(as_text=True))
    assert (
        client.post(
            f"/pengurus/pinjaman/{loan.id}/putuskan",
            data={"csrf_token": token, "decision": "approve"},
        ).status_code
        == 303
    )
    login_member(client, type("U", (), {"user": bendahara})())
    token = csrf_from(client.get(f"/pengurus/pinjaman/{loan.id}").get_data(as_text=True))
    assert (
        client.post(
            f"/pengurus/pinjaman/{loan.id}/cairkan",
            data={"csrf_token": token, "method": "sukarela"},
        ).status_code
        == 303
    )
    again = client.post(
        f"/pengurus/pinjaman/{loan.id}/cairkan", data={"csrf_token": token, "method": "cash"}
    )
    assert again.status_code == 409 and "sudah dicairkan" in again.get_data(as_text=True)
    db.session.expire_all()
    no = member.member_no
    assert balance(f"liability:savings:voluntary:{no}") == sukarela_before + 1_200_000 - 22_000
    assert balance(policy.receivable_code(no)) == 1_200_000
    assert balance(policy.FEE_INCOME) == 22_000
    # Two instalments online.
    login_member(client, member)
    for _ in range(2):
        html = client.get(f"/anggota/pinjaman/{loan.id}").get_data(as_text=True)
        response = client.post(
            f"/anggota/pinjaman/{loan.id}/bayar", data={"csrf_token": csrf_from(html)}
        )
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
        _simulate(client, response.headers["Location"])
    intents = db.session.scalars(select(PaymentIntent).order_by(PaymentIntent.id)).all()
    assert [(i.purpose, i.amount_idr) for i in intents] == [("pinjaman", 118_000)] * 2
    # One instalment by check-off, sent twice, applied once.
    company = make_company(1, "PT Ojek Nusantara", bendahara, pengurus)
    partners_links.link_worker(member, company, None)
    db.session.commit()
    lines = [partners_remittances.RemittanceLineIn(member.platform_worker_id, "pinjaman", 118_000)]
    for _ in range(2):
        partners_remittances.submit_remittance(
            company, remittance_ref="CO-LOAN-1", total_idr=118_000, lines=lines
        )
        db.session.commit()
    db.session.expire_all()
    applied = db.session.scalar(
        select(func.sum(ObligationPayment.amount_idr)).where(
            ObligationPayment.member_id == member.id,
            ObligationPayment.reversed_at.is_(None),
        )
    )
    assert applied == 3 * 118_000
    assert balance(policy.receivable_code(no)) == 900_000
    assert balance(policy.INTEREST_INCOME) == 54_000
    html = client.get(f"/anggota/pinjaman/{loan.id}").get_data(as_text=True)
    assert 'data-testid="remaining-principal">Rp 900.000<' in html
    assert html.count(">lunas<") == 3
    assert html.count('data-testid="history-row"') == 3 and "check-off" in html
    assert check_ledger().ok


def test_cash_payment_oldest_first_penalty_interest_principal_and_payoff(board):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other, rebate_pct=50)
    member = borrower(7, bendahara, pengurus)
    loan = active_loan(member, product, other, bendahara)
    first = repayment.record_loan_payment(
        loan, amount_idr=20_000, method="cash", by_user=bendahara, request_token="t-1"
    )
    same = repayment.record_loan_payment(
        loan, amount_idr=20_000, method="cash", by_user=bendahara, request_token="t-1"
    )
    db.session.commit()
    assert same.id == first.id
    paid = db.session.execute(
        select(Obligation.kind, Obligation.due_date, Obligation.paid_idr)
        .where(Obligation.member_id == member.id, Obligation.paid_idr > 0)
        .order_by(Obligation.due_date, Obligation.priority)
    ).all()
    # Interest of the first instalment (18.000), then its principal (2.000).
    assert [(k, p) for k, _d, p in paid] == [("loan_interest", 18_000), ("loan_principal", 2_000)]
    amount, rebate = repayment.payoff_quote(loan)
    assert rebate == 11 * 18_000 // 2  # half the interest not yet due
    assert amount == 1_198_000 + 11 * 18_000 - rebate
    # A quote for a later date: the interest of the instalments due by then is owed in full.
    third_due = repayment.instalment_rows(loan)[2]["row"].due_date
    later, later_rebate = repayment.payoff_quote(loan, third_due)
    assert later_rebate == 9 * 18_000 // 2
    assert later == 1_198_000 + 2 * 18_000 + 9 * 18_000 - later_rebate
    repayment.pay_off_loan(loan, method="cash", by_user=bendahara, request_token="p-1")
    db.session.commit()
    assert loan.status is LoanStatus.PAID
    assert balance(policy.receivable_code(member.member_no)) == 0
    assert check_ledger().ok


def test_interest_income_in_the_income_statement_and_the_exit_deducts_the_principal(board):
    from kmp.ledger.queries import income_statement
    from members.exits import services as exits

    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(8, bendahara, pengurus, savings=300_000)
    loan = active_loan(member, product, other, bendahara, principal=600_000, months=6)
    repayment.record_loan_payment(
        loan, amount_idr=109_000, method="cash", by_user=bendahara, request_token="i-1"
    )
    db.session.commit()
    today = business_date()
    statement = income_statement(today.replace(month=1, day=1), today)
    income = {code: amount for code, _name, amount in statement["income"].rows}
    assert income[policy.INTEREST_INCOME] == 9_000  # 600.000 x 1,5 % (flat), one month paid
    assert income[policy.FEE_INCOME] == 10_000 + 6_000
    owed = exits.member_arrears_idr(member)
    assert owed == 500_000  # the outstanding principal, before it is due
    quote = exits.compute_refund(member)
    capital = quote.pokok_idr + quote.wajib_idr
    assert quote.owed_idr == 500_000 and quote.arrears_idr == min(500_000, capital)
    case = exits.request_exit(member, member.user, "Pindah kota")
    exits.approve_exit(case, pengurus)
    db.session.commit()
    # The capital sets off the principal (oldest instalment first); the rest stays owed.
    assert case.arrears_idr == min(500_000, capital)
    assert balance(policy.receivable_code(member.member_no)) == 500_000 - case.arrears_idr
    assert repayment.position(loan).principal_idr == 500_000 - case.arrears_idr
    assert check_ledger().ok
