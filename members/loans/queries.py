"""Read-only loan queries other features use (payouts reads the interest patronage)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from members.loans import policy
from members.loans.models import Loan, LoanProduct
from members.savings.models import Obligation, ObligationPayment


def interest_patronage_query(fiscal_year: int):
    """Interest members paid in ``fiscal_year`` on loans whose product (approved by the
    pengurus, per the AD) counts interest as patronage for the SHU jasa usaha: columns
    ``member_id, total`` (one grouped query)."""
    p, o = ObligationPayment.__table__, Obligation.__table__
    loans, products = Loan.__table__, LoanProduct.__table__
    counted = (
        select(loans.c.obligation_ref)
        .join(products, products.c.id == loans.c.product_id)
        .where(products.c.interest_is_patronage.is_(True), loans.c.obligation_ref.is_not(None))
    )
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
