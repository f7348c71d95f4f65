"""Issue 18, must-shows 3 and 6: aging at 0, 1, 91, 121 and 181 days past due (class,
allowance entries, reminders, penalties), restructuring and write-off with maker-checker,
and the portfolio page and its XLSX agreeing with the ledger."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.ledger.queries import check_ledger
from kmp.ledger.services import get_account
from kmp.notify import Notification
from members.loans import actions, policy, repayment, reports
from members.loans.aging import age_loans, queue_loan_reminders
from members.loans.models import LoanAllowance
from members.loans.states import LoanStatus
from members.savings.models import Obligation
from tests.integration.loans_support import active_loan, borrower, make_product
from tests.integration.savings_support import login_member


@pytest.fixture
def board(make_user):
    return make_user("bendahara", "pengurus"), make_user("pengurus"), make_user("pengurus")


def balance(code: str) -> int:
    return get_account(code).natural_balance_idr


def allowance(code: str) -> int:
    return -get_account(policy.allowance_account(code)).balance_idr


@pytest.mark.parametrize(
    ("late", "cls", "rate_bp"),
    [
        (0, "lancar", 100),
        (1, "dpk", 500),
        (91, "kurang_lancar", 1500),
        (121, "diragukan", 5000),
        (181, "macet", 10000),
    ],
)
def test_aging_class_allowance_and_reminders(board, late, cls, rate_bp):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(1, bendahara, pengurus)
    loan = active_loan(member, product, other, bendahara)
    first_due = repayment.instalment_rows(loan)[0]["row"].due_date
    # Three days before the first due date: a reminder.
    assert queue_loan_reminders(first_due - dt.timedelta(days=3)) == 1
    db.session.commit()
    on = first_due + dt.timedelta(days=late)
    result = age_loans(on)
    reminders = queue_loan_reminders(on)
    db.session.commit()
    db.session.expire_all()
    assert (loan.days_past_due, loan.collectibility) == (late, cls)
    outstanding = 1_200_000
    required = outstanding * rate_bp // 10_000
    assert result.by_class[cls] == (1, outstanding, required)
    assert allowance(cls) == required
    others = [c for c, *_ in policy.CLASSES if c != cls]
    assert all(allowance(c) == 0 for c in others)
    assert balance(policy.LOSS_EXPENSE) == required
    row = db.session.scalar(
        select(LoanAllowance).where(
            LoanAllowance.on_date == on, LoanAllowance.collectibility == cls
        )
    )
    assert (row.outstanding_idr, row.rate_bp, row.required_idr) == (outstanding, rate_bp, required)
    assert row.entry_id is not None
    # The same day again: nothing more is posted, no second reminder.
    again = age_loans(on)
    assert again.entry_id is None and queue_loan_reminders(on) == 0
    db.session.commit()
    kinds = [
        n.dedupe_key.split(":")[0]
        for n in db.session.scalars(
            select(Notification)
            .where(Notification.kind == "loan_reminder")
            .order_by(Notification.id)
        )
    ]
    assert kinds == ["loan-due"] + (["loan-late"] if late else [])
    assert reminders == (1 if late else 0)
    penalties = db.session.scalars(
        select(Obligation).where(
            Obligation.kind == policy.PENALTY, Obligation.member_id == member.id
        )
    ).all()
    if late:
        # 0,1 % a day of what is overdue, capped at 10 % of it.
        first = min(118_000 * 10 * late // 10_000, 11_800)
        assert penalties[0].amount_idr == first
    else:
        assert penalties == []
    assert check_ledger().ok


def test_payment_goes_to_the_penalty_first_and_the_loan_recovers(board):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(2, bendahara, pengurus)
    loan = active_loan(member, product, other, bendahara)
    first_due = repayment.instalment_rows(loan)[0]["row"].due_date
    age_loans(first_due + dt.timedelta(days=10))
    db.session.commit()
    assert loan.collectibility == "dpk"
    penalty = 118_000 * 10 * 10 // 10_000
    repayment.record_loan_payment(
        loan, amount_idr=118_000 + penalty, method="cash", by_user=bendahara, request_token="x1"
    )
    db.session.commit()
    assert balance(policy.PENALTY_INCOME) == penalty
    age_loans(first_due + dt.timedelta(days=11))
    db.session.commit()
    db.session.expire_all()
    assert (loan.days_past_due, loan.collectibility) == (0, "lancar")


def test_restructuring_and_write_off_need_a_second_board_member(board):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(3, bendahara, pengurus)
    loan = active_loan(member, product, other, bendahara)
    first_due = repayment.instalment_rows(loan)[0]["row"].due_date
    age_loans(first_due + dt.timedelta(days=95))
    db.session.commit()
    assert loan.collectibility == "kurang_lancar"
    with pytest.raises(DomainError) as info:
        actions.request_action(loan, "restructure", reason="", months=18, by_user=pengurus)
    assert info.value.field == "reason"
    action = actions.request_action(
        loan, "restructure", reason="Motor rusak berat", months=18, by_user=pengurus
    )
    db.session.commit()
    with pytest.raises(DomainError) as info:
        actions.decide_action(action, approve=True, by_user=pengurus)
    assert info.value.code == "self_approval"
    db.session.rollback()
    actions.decide_action(
        action, approve=True, by_user=other, on_date=first_due + dt.timedelta(days=95)
    )
    db.session.commit()
    assert loan.obligation_ref == f"L{loan.id}R1" and loan.restructures == 1
    rows = repayment.instalment_rows(loan)
    assert len(rows) == 18 and sum(r["row"].principal_idr for r in rows) == 1_200_000
    age_loans(first_due + dt.timedelta(days=96))
    db.session.commit()
    db.session.expire_all()
    assert loan.collectibility == "lancar"
    # Write-off: asked by one, decided by another; the principal leaves the receivable.
    action = actions.request_action(
        loan, "write_off", reason="Anggota tidak bisa dihubungi", by_user=other
    )
    db.session.commit()
    with pytest.raises(DomainError):
        actions.decide_action(action, approve=True, by_user=other)
    db.session.rollback()
    loss_before = balance(policy.LOSS_EXPENSE)
    actions.decide_action(action, approve=True, by_user=pengurus)
    db.session.commit()
    assert loan.status is LoanStatus.WRITTEN_OFF
    assert balance(policy.receivable_code(member.member_no)) == 0
    assert balance(policy.LOSS_EXPENSE) == loss_before + 1_200_000
    actions.record_recovery(
        loan, amount_idr=200_000, method="cash", by_user=bendahara, request_token="r-1"
    )
    actions.record_recovery(
        loan, amount_idr=200_000, method="cash", by_user=bendahara, request_token="r-1"
    )
    db.session.commit()
    assert balance(policy.RECOVERY_INCOME) == 200_000 and loan.recovered_idr == 200_000
    # The next aging releases the allowance of the written-off loan.
    age_loans(first_due + dt.timedelta(days=97))
    db.session.commit()
    assert all(allowance(c) == 0 for c, *_ in policy.CLASSES)
    assert check_ledger().ok


def test_portfolio_page_and_xlsx_agree_with_the_ledger(board, client):
    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    loans = []
    for n in range(4, 7):
        member = borrower(n, bendahara, pengurus)
        loans.append(active_loan(member, product, other, bendahara, principal=600_000 * (n - 3)))
    repayment.record_loan_payment(
        loans[0], amount_idr=59_000, method="cash", by_user=bendahara, request_token="pf-1"
    )
    db.session.commit()
    first_due = repayment.instalment_rows(loans[1])[0]["row"].due_date
    # The other two are 95 days late.
    age_loans(first_due + dt.timedelta(days=95))
    db.session.commit()
    report = reports.portfolio()
    assert report.outstanding_idr == report.ledger_idr == 3_600_000 - 50_000
    assert report.loans == 3
    late = 1_200_000 + 1_800_000
    # loans[0] paid instalment 1 only: its instalment 2 is 64 days late (PAR30, not PAR90).
    assert 30 < loans[0].days_past_due <= 90
    assert report.par30_idr == 3_550_000
    assert report.par90_idr == report.npl_idr == late
    assert report.disbursed_month_idr == 3_600_000
    login_member(client, type("U", (), {"user": pengurus})())
    html = client.get("/pengurus/pinjaman/portofolio").get_data(as_text=True)
    assert 'data-testid="outstanding">Rp 3.550.000<' in html and 'data-testid="agrees"' in html
    response = client.get("/pengurus/pinjaman/portofolio?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = {(r[0], r[1]): r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert values[("ringkasan", "jumlah pinjaman")] == 3_550_000
    assert values[("ringkasan", "piutang di buku besar")] == 3_550_000
    by_class = sum(v for (part, _k), v in values.items() if part == "kolektibilitas")
    assert by_class == 3_550_000
    arrears = client.get("/pengurus/pinjaman/tunggakan").get_data(as_text=True)
    assert arrears.count("WhatsApp") >= 2
    assert client.get("/pengurus/pinjaman/portofolio?format=doc").status_code == 400


def test_a_member_with_a_loan_in_arrears_cannot_borrow_again(board):
    from kmp.timeutil import JAKARTA, set_clock
    from members.loans.services import apply_for_loan

    bendahara, pengurus, other = board
    product = make_product(pengurus, other)
    member = borrower(9, bendahara, pengurus, savings=2_000_000)
    loan = active_loan(member, product, other, bendahara)
    late = repayment.instalment_rows(loan)[0]["row"].due_date + dt.timedelta(days=5)
    set_clock(lambda: dt.datetime.combine(late, dt.time(10), JAKARTA).astimezone(dt.UTC))
    try:
        with pytest.raises(DomainError) as info:
            apply_for_loan(
                member,
                product,
                principal_idr=500_000,
                months=3,
                purpose="HP",
                by_user=member.user,
            )
        assert info.value.code == "loan_in_arrears"
        assert "menunggak" in info.value.message and "Rp 118.000" in info.value.message
    finally:
        set_clock(None)
