"""Arrears and portfolio quality, set-based (the daily job and ``flask loans age``).

``age_loans(on_date)`` runs, in one transaction:

1. **Penalties**: one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` of a ``loan_penalty``
   obligation per overdue instalment of an active loan: per day ``penalty_day_bp`` of what is
   overdue, capped at ``penalty_cap_bp`` of it (integer Rupiah, rounded down). It only ever
   grows, and reopens when it grew after being paid.
2. **Days past due and class**: loans that were late are reset, then one ``UPDATE ... FROM``
   sets days past due (the oldest open instalment due before the date) and the
   collectibility class (Lancar 0, DPK 1-90, Kurang Lancar 91-120, Diragukan 121-180, Macet
   over 180 — the AD defaults in ``policy.CLASSES``). Loans whose obligations are all closed
   become paid.
3. **PPAP**: the outstanding principal per class (one grouped query), the required
   allowance at the class's rate (1 / 5 / 15 / 50 / 100 %, rounded half up), and ONE entry
   bringing each class's allowance account to it against the loss expense.

No loan passes through Python. Reminders (``queue_loan_reminders``) are a separate step
that reads only the loans due soon or late.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import Integer, and_, case, cast, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kmp.db import Rupiah, UTCDateTime
from kmp.extensions import db
from kmp.ledger.models import Account
from kmp.ledger.services import post_entry
from kmp.timeutil import business_date, now_utc
from members.loans import policy
from members.loans.models import Loan, LoanAllowance, LoanProduct
from members.loans.schedule import round_half_up
from members.savings.models import Obligation


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _days(on_date: dt.date, column):
    if _is_pg():
        return literal(on_date) - column
    return cast(func.julianday(literal(on_date.isoformat())) - func.julianday(column), Integer)


@dataclass
class AgingResult:
    on_date: dt.date
    late_loans: int = 0
    paid_loans: int = 0
    penalties: int = 0
    by_class: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # n, out, required
    entry_id: int | None = None

    @property
    def outstanding_idr(self) -> int:
        return sum(v[1] for v in self.by_class.values())

    @property
    def required_idr(self) -> int:
        return sum(v[2] for v in self.by_class.values())


def _post_penalties(on_date: dt.date) -> int:
    o, loans, products = Obligation.__table__, Loan.__table__, LoanProduct.__table__
    late = (
        select(
            o.c.member_id,
            o.c.ref,
            o.c.period,
            func.min(o.c.due_date).label("due"),
            func.sum(o.c.amount_idr - o.c.paid_idr).label("open_idr"),
        )
        .where(
            o.c.kind.in_((policy.INTEREST, policy.PRINCIPAL)),
            o.c.is_open.is_(True),
            o.c.due_date < on_date,
        )
        .group_by(o.c.member_id, o.c.ref, o.c.period)
        .subquery("late")
    )
    days = _days(on_date, late.c.due)
    by_day = late.c.open_idr * products.c.penalty_day_bp * days // 10_000
    cap = late.c.open_idr * products.c.penalty_cap_bp // 10_000
    amount = cast(case((by_day < cap, by_day), else_=cap), Rupiah())
    columns = {
        "member_id": late.c.member_id,
        "kind": literal(policy.PENALTY),
        "period": late.c.period,
        "due_date": late.c.due,
        "ref": late.c.ref,
        "priority": literal(policy.PRIORITY[policy.PENALTY]),
        "account_code": literal(policy.PENALTY_INCOME),
        "description": literal("Denda keterlambatan angsuran"),
        "group_code": loans.c.group_code,
        "amount_idr": amount,
        "paid_idr": literal(0, Rupiah()),
        "is_open": literal(True),
        "created_at": literal(now_utc(), UTCDateTime()),
    }
    source = (
        select(*columns.values())
        .select_from(
            late.join(loans, loans.c.obligation_ref == late.c.ref).join(
                products, products.c.id == loans.c.product_id
            )
        )
        .where(loans.c.status == "active", products.c.penalty_day_bp > 0, amount > 0)
    )
    statement = (postgresql if _is_pg() else sqlite).insert(o).from_select(list(columns), source)
    new = statement.excluded.amount_idr
    statement = statement.on_conflict_do_update(
        index_elements=["member_id", "kind", "period", "ref"],
        set_={
            "amount_idr": case((new > o.c.amount_idr, new), else_=o.c.amount_idr),
            "is_open": case((new > o.c.paid_idr, literal(True)), else_=o.c.is_open),
            "settled_on": case((new > o.c.amount_idr, None), else_=o.c.settled_on),
        },
    )
    return db.session.execute(statement).rowcount or 0


def _class_case(days):
    whens = [(days >= lowest, literal(code)) for code, _l, lowest, _bp in reversed(policy.CLASSES)]
    return case(*whens, else_=literal("lancar"))


def _update_days(on_date: dt.date) -> tuple[int, int]:
    o, loans = Obligation.__table__, Loan.__table__
    db.session.execute(
        update(loans)
        .where(loans.c.status == "active", loans.c.days_past_due > 0)
        .values(days_past_due=0, collectibility="lancar")
    )
    late = (
        select(o.c.ref, func.min(o.c.due_date).label("oldest"))
        .where(o.c.kind.in_(policy.KINDS), o.c.is_open.is_(True), o.c.due_date < on_date)
        .group_by(o.c.ref)
        .subquery("late")
    )
    days = _days(on_date, late.c.oldest)
    late_count = (
        db.session.execute(
            update(loans)
            .where(loans.c.obligation_ref == late.c.ref, loans.c.status == "active")
            .values(days_past_due=days, collectibility=_class_case(days))
        ).rowcount
        or 0
    )
    still_open = exists().where(o.c.ref == loans.c.obligation_ref, o.c.is_open.is_(True))
    paid = (
        db.session.execute(
            update(loans)
            .where(loans.c.status == "active", ~still_open)
            .values(status="paid", closed_on=on_date, days_past_due=0, collectibility="lancar")
        ).rowcount
        or 0
    )
    return late_count, paid


def portfolio_by_class() -> dict[str, tuple[int, int]]:
    """``{class: (loans, outstanding principal)}`` of the active loans (one grouped query)."""
    o, loans = Obligation.__table__, Loan.__table__
    rows = db.session.execute(
        select(
            loans.c.collectibility,
            func.count(func.distinct(loans.c.id)),
            func.coalesce(func.sum(o.c.amount_idr - o.c.paid_idr), 0),
        )
        .select_from(
            loans.join(
                o,
                and_(
                    o.c.ref == loans.c.obligation_ref,
                    o.c.kind == policy.PRINCIPAL,
                    o.c.is_open.is_(True),
                ),
            )
        )
        .where(loans.c.status == "active")
        .group_by(loans.c.collectibility)
    )
    return {code: (int(n), int(out)) for code, n, out in rows}


def _post_allowance(on_date: dt.date, result: AgingResult) -> None:
    policy.install_loan_chart()
    by_class = portfolio_by_class()
    codes = [policy.allowance_account(c) for c, *_ in policy.CLASSES]
    balances = dict(
        db.session.execute(
            select(Account.code, Account.balance_idr).where(Account.code.in_(codes))
        ).all()
    )
    lines = []
    for code, _label, _lowest, bp in policy.CLASSES:
        count, outstanding = by_class.get(code, (0, 0))
        required = round_half_up(outstanding * bp / Fraction(10_000))
        result.by_class[code] = (count, outstanding, required)
        account = policy.allowance_account(code)
        held = -int(balances.get(account, 0))  # a contra-asset: its credit balance
        if required != held:
            lines.append((account, -(required - held)))
        row = db.session.scalar(
            select(LoanAllowance).where(
                LoanAllowance.on_date == on_date, LoanAllowance.collectibility == code
            )
        )
        if row is None:
            row = LoanAllowance(on_date=on_date, collectibility=code)
            db.session.add(row)
        row.loans, row.outstanding_idr, row.rate_bp, row.required_idr = (
            count,
            outstanding,
            bp,
            required,
        )
    if lines:
        total = -sum(amount for _, amount in lines)
        lines.append((policy.LOSS_EXPENSE, total))
        digest = hashlib.sha256(repr(lines).encode()).hexdigest()[:12]
        entry = post_entry(
            idempotency_key=f"loan-ppap:{on_date.isoformat()}:{digest}",
            description=f"Penyisihan penghapusan pinjaman (PPAP) per {on_date.isoformat()}",
            lines=lines,
            source_kind="loan_allowance",
            source_id=on_date.isoformat(),
            entry_date=on_date,
        )
        result.entry_id = entry.id
        for row in db.session.scalars(
            select(LoanAllowance).where(LoanAllowance.on_date == on_date)
        ):
            row.entry_id = entry.id
    db.session.flush()


def age_loans(on_date: dt.date | None = None) -> AgingResult:
    """Penalties, days past due, classes and the PPAP for ``on_date`` (idempotent: a second
    run the same day changes nothing)."""
    on_date = on_date or business_date()
    result = AgingResult(on_date)
    db.session.flush()
    result.penalties = _post_penalties(on_date)
    result.late_loans, result.paid_loans = _update_days(on_date)
    db.session.expire_all()
    _post_allowance(on_date, result)
    return result


REMIND_DAYS_BEFORE = 3


def queue_loan_reminders(on_date: dt.date | None = None) -> int:
    """A reminder ``REMIND_DAYS_BEFORE`` days before each due date, and a weekly one while a
    loan is late (also on each change of class). Deduplicated: the job may run twice."""
    from kmp.i18n import gettext as _
    from kmp.money import format_rupiah
    from kmp.notify import queue_notification, recipient_locale
    from members.loans.repayment import position

    on_date = on_date or business_date()
    soon = on_date + dt.timedelta(days=REMIND_DAYS_BEFORE)
    due_refs = select(Obligation.ref).where(
        Obligation.kind.in_(policy.KINDS),
        Obligation.is_open.is_(True),
        Obligation.due_date == soon,
    )
    loans = db.session.scalars(
        select(Loan).where(
            Loan.status == "active",
            (Loan.days_past_due > 0) | Loan.obligation_ref.in_(due_refs),
        )
    ).all()
    queued = 0
    for loan in loans:
        member = loan.member
        pos = position(loan, on_date)
        with recipient_locale(member.user):
            if loan.days_past_due > 0:
                key = f"loan-late:{loan.id}:{loan.collectibility}:{loan.days_past_due // 7}"
                subject = _("Angsuran pinjaman terlambat")
                body = _(
                    "Angsuran pinjaman #%(id)s terlambat %(days)s hari; tunggakan %(due)s. "
                    "Bayar dari halaman pinjaman atau ke bendahara.",
                    id=loan.id,
                    days=loan.days_past_due,
                    due=format_rupiah(pos.due_idr),
                )
            else:
                key = f"loan-due:{loan.id}:{soon.isoformat()}"
                subject = _("Pengingat angsuran pinjaman")
                body = _(
                    "Angsuran pinjaman #%(id)s sebesar %(amount)s jatuh tempo %(date)s.",
                    id=loan.id,
                    amount=format_rupiah(pos.next_due_idr),
                    date=soon.isoformat(),
                )
            if queue_notification(
                kind="loan_reminder",
                address=member.email or member.phone,
                subject=subject,
                body=body,
                user_id=member.user_id,
                member_id=member.id,
                dedupe_key=key,
            ):
                queued += 1
    db.session.flush()
    return queued
