"""Read-only loan queries other features use (payouts reads the interest patronage)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import false, func, select

from members.loans import policy
from members.loans.models import Loan, LoanProduct
from members.savings.models import Obligation, ObligationPayment


def interest_patronage_query(fiscal_year: int):
    """Interest members paid in ``fiscal_year`` on loans whose product (approved by the
    pengurus) counts interest as patronage for the SHU jasa usaha, when the AD's
    ``loan_interest_is_patronage`` is on: columns
    ``member_id, total`` (one grouped query)."""
    from members.ad.services import current_ad

    p, o = ObligationPayment.__table__, Obligation.__table__
    loans, products = Loan.__table__, LoanProduct.__table__
    counted = (
        select(loans.c.obligation_ref)
        .join(products, products.c.id == loans.c.product_id)
        .where(products.c.interest_is_patronage.is_(True), loans.c.obligation_ref.is_not(None))
    )
    if not current_ad().loan_interest_is_patronage:  # the AD's switch, off by default
        counted = counted.where(false())
    return (
        select(p.c.member_id, func.sum(p.c.amount_idr).label("total"))
        .join(o, o.c.id == p.c.obligation_id)
        .where(
            o.c.kind == policy.INTEREST,
            o.c.ref.in_(counted),
            p.c.reversed_at.is_(None),
            p.c.paid_on >= dt.date(fiscal_year, 1, 1),
            p.c.paid_on <= dt.date(fiscal_year, 12, 31),
        )
        .group_by(p.c.member_id)
    )
