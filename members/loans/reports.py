"""The board's loan reports, set-based: the portfolio (outstanding, disbursed this month,
PAR30, PAR90, NPL ratio, per class, group and product), the arrears list, the XLSX rows,
and the ledger's side of the same figures (the receivable accounts) so they can be compared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import and_, func, literal_column, select

from kmp.extensions import db
from kmp.ledger.models import Account
from kmp.timeutil import business_date
from members.loans import policy
from members.loans.models import Loan, LoanProduct
from members.loans.states import LoanStatus
from members.register.models import Member
from members.savings.models import Obligation

NPL_CLASSES = ("kurang_lancar", "diragukan", "macet")


@dataclass
class Portfolio:
    loans: int = 0
    outstanding_idr: int = 0
    disbursed_month_idr: int = 0
    disbursed_month_loans: int = 0
    par30_idr: int = 0
    par90_idr: int = 0
    npl_idr: int = 0
    by_class: dict[str, list[int]] = field(default_factory=dict)  # code -> [loans, outstanding]
    by_group: dict[str, list[int]] = field(default_factory=dict)
    by_product: dict[str, list[int]] = field(default_factory=dict)
    ledger_idr: int = 0

    def ratio(self, part: int) -> Fraction:
        return Fraction(part, self.outstanding_idr) if self.outstanding_idr else Fraction(0)

    @property
    def agrees(self) -> bool:
        return self.ledger_idr == self.outstanding_idr


def _rows():
    o, loans, products = Obligation.__table__, Loan.__table__, LoanProduct.__table__
    outstanding = (
        select(o.c.ref, func.sum(o.c.amount_idr - o.c.paid_idr).label("out"))
        .where(o.c.kind == policy.PRINCIPAL, o.c.is_open.is_(True))
        .group_by(o.c.ref)
        .subquery("out")
    )
    group = func.coalesce(loans.c.group_code, literal_column("''"))
    over30 = loans.c.days_past_due > literal_column("30")
    over90 = loans.c.days_past_due > literal_column("90")
    keys = (loans.c.collectibility, group, products.c.code, over30, over90)
    return db.session.execute(
        select(*keys, func.count(), func.coalesce(func.sum(outstanding.c.out), 0))
        .select_from(
            loans.join(outstanding, outstanding.c.ref == loans.c.obligation_ref).join(
                products, products.c.id == loans.c.product_id
            )
        )
        .where(loans.c.status == LoanStatus.ACTIVE.value)
        .group_by(*keys)
    ).all()


def ledger_receivable_idr() -> int:
    """The loans receivable in the books: every member's receivable account."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Account.balance_idr), 0)).where(
            Account.code.like(policy.RECEIVABLE_PREFIX + ":%")
        )
    )
    return int(total or 0)


def portfolio(on_date: dt.date | None = None) -> Portfolio:
    on_date = on_date or business_date()
    result = Portfolio(by_class={code: [0, 0] for code, *_ in policy.CLASSES})
    for cls, group, product, over30, over90, count, out in _rows():
        out, count = int(out), int(count)
        result.loans += count
        result.outstanding_idr += out
        result.by_class.setdefault(cls, [0, 0])
        for bucket, key in ((result.by_class, cls), (result.by_group, group or "-")):
            bucket.setdefault(key, [0, 0])
            bucket[key][0] += count
            bucket[key][1] += out
        result.by_product.setdefault(product, [0, 0])
        result.by_product[product][0] += count
        result.by_product[product][1] += out
        if over30:
            result.par30_idr += out
        if over90:
            result.par90_idr += out
        if cls in NPL_CLASSES:
            result.npl_idr += out
    start = on_date.replace(day=1)
    count, amount = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Loan.principal_idr), 0)).where(
            Loan.disbursed_on >= start, Loan.disbursed_on <= on_date
        )
    ).one()
    result.disbursed_month_loans, result.disbursed_month_idr = int(count), int(amount)
    result.ledger_idr = ledger_receivable_idr()
    return result


def last_aging_date() -> dt.date | None:
    from members.loans.models import LoanAllowance

    return db.session.scalar(select(func.max(LoanAllowance.on_date)))


def arrears_list(
    on_date: dt.date | None = None, limit: int = 500
) -> list[tuple[Loan, Member, int]]:
    """Active loans past due at the last aging run (or ``on_date``), longest first, with
    what is overdue."""
    on_date = on_date or last_aging_date() or business_date()
    overdue = (
        select(Obligation.ref, func.sum(Obligation.amount_idr - Obligation.paid_idr).label("due"))
        .where(
            Obligation.kind.in_(policy.KINDS),
            Obligation.is_open.is_(True),
            Obligation.due_date < on_date,
        )
        .group_by(Obligation.ref)
        .subquery()
    )
    rows = db.session.execute(
        select(Loan, Member, overdue.c.due)
        .join(Member, Member.id == Loan.member_id)
        .join(overdue, and_(overdue.c.ref == Loan.obligation_ref))
        .where(Loan.status == LoanStatus.ACTIVE, Loan.days_past_due > 0)
        .order_by(Loan.days_past_due.desc(), Loan.id)
        .limit(limit)
    ).all()
    return [(loan, member, int(due)) for loan, member, due in rows]


def export_rows(report: Portfolio):
    """The XLSX sheet: one line per measure, then per class, group and product."""
    yield ("ringkasan", "jumlah pinjaman", report.loans, report.outstanding_idr)
    yield (
        "ringkasan",
        "dicairkan bulan ini",
        report.disbursed_month_loans,
        report.disbursed_month_idr,
    )
    yield ("ringkasan", "PAR30", "", report.par30_idr)
    yield ("ringkasan", "PAR90", "", report.par90_idr)
    yield ("ringkasan", "NPL", "", report.npl_idr)
    yield ("ringkasan", "piutang di buku besar", "", report.ledger_idr)
    for title, bucket in (
        ("kolektibilitas", report.by_class),
        ("kelompok", report.by_group),
        ("produk", report.by_product),
    ):
        for key, (count, out) in bucket.items():
            yield (title, policy.CLASS_LABELS.get(key, key), count, out)


EXPORT_HEADERS = ("bagian", "baris", "pinjaman", "outstanding_idr")
