"""Helpers for the loan tests (not a test module)."""

from __future__ import annotations

from kmp.extensions import db
from kmp.ledger.chart import member_account_code
from kmp.ledger.services import post_entry
from members.loans.disbursement import disburse_loan
from members.loans.services import apply_for_loan, approve_product, create_product, decide_loan
from tests.integration.savings_support import active_member

PRODUCT = {
    "name": "Pinjaman uji",
    "min_principal_idr": 500_000,
    "max_principal_idr": 6_000_000,
    "min_months": 3,
    "max_months": 12,
    "annual_rate_bp": 1800,
    "method": "flat",
    "admin_fee_idr": 10_000,
    "provisi_bp": 100,
    "penalty_day_bp": 10,
    "penalty_cap_bp": 1000,
    "savings_multiple": 5,
    "min_active_months": 3,
    "max_arrears_idr": 0,
    "guarantors": 0,
    "rebate_pct": 100,
    "single_approval_max_idr": 3_000_000,
}


def make_product(maker, checker, code="uji", **overrides):
    product = create_product(code, {**PRODUCT, **overrides}, by_user=maker)
    approve_product(product, by_user=checker)
    db.session.commit()
    return product


def give_sukarela(member, amount: int, key: str = "") -> None:
    post_entry(
        idempotency_key=f"uji-sukarela-{member.id}-{amount}-{key}",
        description="Setoran sukarela (uji)",
        lines=[
            ("asset:cash", amount),
            (member_account_code("sukarela", member.member_no), -amount),
        ],
        source_kind="test",
    )
    db.session.commit()


def borrower(n, bendahara, pengurus, savings: int = 1_000_000):
    member = active_member(n, bendahara, pengurus)
    give_sukarela(member, savings)
    return member


def active_loan(member, product, approver, disburser, *, principal=1_200_000, months=12):
    loan = apply_for_loan(
        member,
        product,
        principal_idr=principal,
        months=months,
        purpose="Servis motor",
        by_user=member.user,
    )
    decide_loan(loan, by_user=approver, approve=True)
    disburse_loan(loan, method="sukarela", by_user=disburser)
    db.session.commit()
    return loan
