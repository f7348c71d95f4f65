"""Repaying a loan: every channel through the one allocator (``members.savings.allocator``).

The allocator pays the loan's obligations penalty, then interest, then principal, oldest
instalment first (the obligations' due date and priority). Channels:

* cash or bank transfer to the bendahara: ``record_loan_payment`` (idempotent per request
  token);
* online (Midtrans, from the loan page): ``create_loan_intent`` — a payment intent of
  purpose ``pinjaman`` whose targets are the loan's due obligations; the savings receiver of
  ``payment_allocation_requested`` allocates it when the money arrives;
* platform check-off: a partner remittance line with purpose ``pinjaman`` (the family is a
  remittance purpose as soon as the kinds are registered) — idempotent by the remittance;
* sukarela auto-debit (opt-in per loan): ``run_loan_auto_debits`` daily;
* early payoff: ``payoff_quote`` for any date, ``pay_off_loan`` (the product's rebate of the
  interest not yet due);
* the exit sets off the outstanding principal (``due_at_exit``) through ``exit_owed_idr``.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import BANK, CASH, member_account_code
from kmp.ledger.models import JournalEntry
from kmp.ledger.services import post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date
from members.loans import policy
from members.loans.models import Loan, LoanInstalment
from members.loans.states import LoanStatus, move
from members.savings import allocator
from members.savings.models import Obligation, ObligationPayment


def loan_obligations(loan: Loan, *, open_only: bool = True) -> list[Obligation]:
    if not loan.obligation_ref:
        return []
    query = (
        select(Obligation)
        .where(
            Obligation.member_id == loan.member_id,
            Obligation.ref == loan.obligation_ref,
            Obligation.kind.in_(policy.KINDS),
        )
        .order_by(Obligation.due_date, Obligation.priority, Obligation.id)
    )
    if open_only:
        query = query.where(Obligation.is_open.is_(True))
    return list(db.session.scalars(query))


@dataclass
class Position:
    """Where a loan stands on a date."""

    principal_idr: int  # outstanding principal
    due_idr: int  # open obligations due by the date (penalty, interest, principal)
    penalty_idr: int
    future_interest_idr: int  # interest of instalments due after the date
    next_due: dt.date | None
    next_due_idr: int

    @property
    def remaining_idr(self) -> int:
        return (
            self.principal_idr
            + self.penalty_idr
            + self.due_interest_idr
            + (self.future_interest_idr)
        )

    due_interest_idr: int = 0


def position(loan: Loan, on_date: dt.date | None = None) -> Position:
    on_date = on_date or business_date()
    pos = Position(0, 0, 0, 0, None, 0)
    for o in loan_obligations(loan):
        left = o.remaining_idr
        if o.kind == policy.PRINCIPAL:
            pos.principal_idr += left
        elif o.kind == policy.PENALTY:
            pos.penalty_idr += left
        elif o.due_date <= on_date:
            pos.due_interest_idr += left
        else:
            pos.future_interest_idr += left
        if o.due_date <= on_date:
            pos.due_idr += left
        elif pos.next_due is None or o.due_date == pos.next_due:
            pos.next_due = o.due_date
            pos.next_due_idr += left
    return pos


def payoff_quote(loan: Loan, on_date: dt.date | None = None) -> tuple[int, int]:
    """``(amount, rebate)`` to pay the loan off on ``on_date``: outstanding principal, what
    is due (penalty, interest), and the interest not yet due less the product's rebate."""
    pos = position(loan, on_date)
    rebate = pos.future_interest_idr * loan.product.rebate_pct // 100
    return pos.remaining_idr - rebate, rebate


def instalment_rows(loan: Loan) -> list[dict]:
    """The current schedule with what is paid of each instalment."""
    rows = list(
        db.session.scalars(
            select(LoanInstalment)
            .where(
                LoanInstalment.loan_id == loan.id, LoanInstalment.schedule_no == loan.restructures
            )
            .order_by(LoanInstalment.no)
        )
    )
    ids = [i for r in rows for i in (r.principal_obligation_id, r.interest_obligation_id) if i]
    obligations = {
        o.id: o for o in db.session.scalars(select(Obligation).where(Obligation.id.in_(ids)))
    }
    result = []
    for row in rows:
        parts = [
            obligations[i]
            for i in (row.principal_obligation_id, row.interest_obligation_id)
            if i in obligations
        ]
        paid = sum(o.paid_idr for o in parts)
        closed = all(not o.is_open for o in parts)
        result.append(
            {
                "row": row,
                "total_idr": row.principal_idr + row.interest_idr,
                "paid_idr": paid,
                "settled": closed and paid >= row.principal_idr + row.interest_idr,
            }
        )
    return result


def _targets(loan: Loan, on_date: dt.date | None, *, everything: bool = False) -> list:
    obligations = loan_obligations(loan)
    if not everything and on_date is not None:
        obligations = [o for o in obligations if o.due_date <= on_date] or obligations[:2]
    return allocator.allocated_targets(obligations)


def refresh_status(loan: Loan, on_date: dt.date | None = None) -> Loan:
    """An active loan whose obligations are all closed is paid."""
    if LoanStatus(loan.status) is LoanStatus.ACTIVE and not loan_obligations(loan):
        move(loan, LoanStatus.PAID)
        loan.closed_on = on_date or business_date()
        loan.days_past_due = 0
        loan.collectibility = "lancar"
    return loan


def _check_active(loan: Loan) -> None:
    if LoanStatus(loan.status) is not LoanStatus.ACTIVE:
        raise Conflict(_("Pinjaman ini tidak sedang berjalan."), code="loan_not_active")


def _post(loan, allocation, debit: str, amount: int, key: str, what: str, on_date, by_user):
    return post_entry(
        idempotency_key=key,
        description=f"{what} pinjaman #{loan.id} {loan.member.member_no} {format_rupiah(amount)}",
        lines=[(debit, amount)] + [(code, -value) for code, value in allocation.lines],
        source_kind="loan_repayment",
        source_id=key[:80],
        entry_date=on_date,
        posted_by=by_user,
    )


def record_loan_payment(
    loan: Loan,
    *,
    amount_idr: int,
    method: str,
    by_user,
    request_token: str,
    paid_on: dt.date | None = None,
) -> JournalEntry:
    """The bendahara takes an instalment in cash or by transfer. The same request token
    returns the first entry (nothing applied twice)."""
    key = f"loan-pay:{request_token}"
    existing = db.session.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == key))
    if existing is not None:
        return existing
    _check_active(loan)
    if method not in ("cash", "bank"):
        raise DomainError(_("Cara bayar tidak dikenal."), field="method")
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise DomainError(_("Jumlah harus lebih dari Rp 0."), field="amount")
    paid_on = paid_on or business_date()
    allocation = allocator.allocate(
        loan.member,
        amount_idr,
        purpose=policy.FAMILY,
        source=key[:80],
        paid_on=paid_on,
        targets=_targets(loan, paid_on, everything=True),
    )
    entry = _post(
        loan,
        allocation,
        CASH if method == "cash" else BANK,
        amount_idr,
        key,
        "Angsuran",
        paid_on,
        by_user,
    )
    refresh_status(loan, paid_on)
    db.session.flush()
    return entry


def create_loan_intent(
    loan: Loan, *, by_user, amount_idr: int | None = None, finish_url: str | None = None
):
    """The "Bayar angsuran" button: what is due (or the next instalment), tied to the
    loan's obligations; the allocator applies it when the payment settles."""
    from kmp.payments.services import create_payment_intent

    _check_active(loan)
    pos = position(loan)
    amount = amount_idr or pos.due_idr or pos.next_due_idr
    if amount <= 0:
        raise Conflict(_("Tidak ada angsuran yang perlu dibayar."), code="nothing_due")
    member = loan.member
    targets = _targets(loan, None, everything=True)
    return create_payment_intent(
        member.id,
        policy.FAMILY,
        amount,
        [(policy.receivable_code(member.member_no), amount)],
        f"Angsuran pinjaman #{loan.id} {member.member_no}",
        metadata={"allocate": True, "targets": targets, "loan_id": loan.id}
        | ({"finish_url": finish_url} if finish_url else {}),
        by_user=by_user,
    )


def on_loan_payment_settled(sender, intent=None, member_id=None, purpose=None, **extra):  # noqa: ARG001
    """``payment_settled`` (sender ``pinjaman``): a loan paid in full is closed."""
    if purpose != policy.FAMILY or member_id is None:
        return
    for loan in db.session.scalars(
        select(Loan).where(Loan.member_id == member_id, Loan.status == LoanStatus.ACTIVE)
    ):
        refresh_status(loan)


def pay_off_loan(
    loan: Loan, *, method: str, by_user, request_token: str, on_date: dt.date | None = None
) -> JournalEntry:
    """Early payoff (pelunasan dipercepat) at the quote of ``on_date``: the interest not yet
    due is reduced by the product's rebate, the allocator pays everything, the loan is paid."""
    key = f"loan-payoff:{request_token}"
    existing = db.session.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == key))
    if existing is not None:
        return existing
    _check_active(loan)
    if method not in ("cash", "bank", "sukarela"):
        raise DomainError(_("Cara bayar tidak dikenal."), field="method")
    on_date = on_date or business_date()
    amount, rebate = payoff_quote(loan, on_date)
    if method == "sukarela":
        from members.savings.withdrawals import available_idr

        if available_idr(loan.member) < amount:
            raise DomainError(
                _("Simpanan sukarela tidak cukup untuk pelunasan %(a)s.", a=format_rupiah(amount)),
                code="sukarela_short",
            )
    left = rebate
    for o in reversed(loan_obligations(loan)):  # the furthest interest is waived first
        if left <= 0 or o.kind != policy.INTEREST or o.due_date <= on_date:
            continue
        cut = min(left, o.remaining_idr)
        left -= cut
        if o.amount_idr - cut == o.paid_idr:
            if o.paid_idr == 0:
                o.is_open = False
                o.closed_reason = f"rebate:loan:{loan.id}"
            else:
                o.amount_idr -= cut
                o.is_open = False
                o.settled_on = on_date
        else:
            o.amount_idr -= cut
    db.session.flush()
    debit = {
        "cash": CASH,
        "bank": BANK,
        "sukarela": member_account_code("sukarela", loan.member.member_no),
    }[method]
    allocation = allocator.allocate(
        loan.member,
        amount,
        purpose=policy.FAMILY,
        source=key[:80],
        paid_on=on_date,
        targets=_targets(loan, None, everything=True),
    )
    entry = _post(loan, allocation, debit, amount, key, "Pelunasan dipercepat", on_date, by_user)
    refresh_status(loan, on_date)
    db.session.flush()
    return entry


def run_loan_auto_debits(on_date: dt.date | None = None) -> int:
    """Loans with auto-debit on: what is due is paid from available sukarela when it covers
    it (a part is never taken). Idempotent per loan per day. Returns how many were paid."""
    from members.savings.withdrawals import available_idr

    on_date = on_date or business_date()
    paid = 0
    for loan in db.session.scalars(
        select(Loan).where(Loan.status == LoanStatus.ACTIVE, Loan.auto_debit.is_(True))
    ).all():
        key = f"loan-autodebit:{loan.id}:{on_date.isoformat()}"
        if db.session.scalar(select(JournalEntry.id).where(JournalEntry.idempotency_key == key)):
            continue
        due = position(loan, on_date).due_idr
        if due <= 0 or available_idr(loan.member) < due:
            continue
        allocation = allocator.allocate(
            loan.member,
            due,
            purpose=policy.FAMILY,
            source=key,
            paid_on=on_date,
            targets=_targets(loan, on_date),
        )
        code = member_account_code("sukarela", loan.member.member_no)
        _post(loan, allocation, code, due, key, "Debit otomatis sukarela", on_date, None)
        refresh_status(loan, on_date)
        paid += 1
    db.session.flush()
    return paid


def payment_history(loan: Loan) -> list[tuple[dt.date, str, int]]:
    """What was paid on the loan (every schedule), per payment: date, channel, Rupiah."""
    from sqlalchemy import func

    refs = [f"L{loan.id}"] + [f"L{loan.id}R{n}" for n in range(1, loan.restructures + 1)]
    rows = db.session.execute(
        select(
            ObligationPayment.paid_on,
            ObligationPayment.source,
            func.sum(ObligationPayment.amount_idr),
        )
        .join(Obligation, Obligation.id == ObligationPayment.obligation_id)
        .where(
            Obligation.member_id == loan.member_id,
            Obligation.ref.in_(refs),
            Obligation.kind.in_(policy.KINDS),
            ObligationPayment.reversed_at.is_(None),
        )
        .group_by(ObligationPayment.paid_on, ObligationPayment.source)
        .order_by(ObligationPayment.paid_on, ObligationPayment.source)
    ).all()
    return [(day, _channel(source), int(amount)) for day, source, amount in rows]


CHANNELS = (
    ("payment:", "online"),
    ("loan-pay:", "tunai/transfer ke bendahara"),
    ("loan-payoff:", "pelunasan dipercepat"),
    ("loan-autodebit:", "debit otomatis sukarela"),
    ("remittance:", "potongan platform (check-off)"),
    ("exit:", "kompensasi saat keluar"),
)


def _channel(source: str) -> str:
    for prefix, label in CHANNELS:
        if source.startswith(prefix):
            return label
    return source.split(":")[0]


def set_off_from_shu(
    member_rows: list[tuple[int, str, int]], *, source: str, on_date: dt.date
) -> int:
    """At the SHU distribution, with the AD's ``loan_shu_setoff`` on: each member's SHU just
    credited to sukarela (``(member_id, member_no, amount)``) first pays their loan
    obligations due by ``on_date``, through the allocator, in one entry per member
    (idempotent per ``source`` and member). Only members with something due are read
    individually. Returns the Rupiah set off."""
    from sqlalchemy import func

    from members.ad.services import current_ad

    if not member_rows or not current_ad().loan_shu_setoff:
        return 0
    credited = {member_id: (no, amount) for member_id, no, amount in member_rows}
    due = db.session.execute(
        select(Obligation.member_id, func.sum(Obligation.amount_idr - Obligation.paid_idr))
        .where(
            Obligation.member_id.in_(list(credited)),
            Obligation.kind.in_(policy.KINDS),
            Obligation.is_open.is_(True),
            Obligation.due_date <= on_date,
        )
        .group_by(Obligation.member_id)
    ).all()
    total = 0
    for member_id, owed in due:
        no, amount = credited[member_id]
        take = min(int(owed), amount)
        key = f"loan-shu-setoff:{source}:{member_id}"
        if take <= 0 or db.session.scalar(
            select(JournalEntry.id).where(JournalEntry.idempotency_key == key)
        ):
            continue
        allocation = allocator.allocate(
            member_id, take, purpose=policy.FAMILY, source=key[:80], paid_on=on_date, due_by=on_date
        )
        post_entry(
            idempotency_key=key,
            description=f"SHU {no} untuk angsuran pinjaman yang jatuh tempo",
            lines=[(member_account_code("sukarela", no), take)]
            + [(code, -value) for code, value in allocation.lines],
            source_kind="loan_shu_setoff",
            source_id=key[:80],
            entry_date=on_date,
        )
        total += take
    db.session.flush()
    return total
