"""The education fund (dana pendidikan, ``liability:shu-fund:pendidikan``).

The fund is filled by the SHU allocation (``payouts`` posts the year's ``dana_pendidikan``
share to it) and used for training. Paying a course from it is maker-checker, always: a
board member records the payment (``record_fund_payment``), a second one approves it
(``approve_fund_payment``) and only then it posts one entry::

    Dr liability:shu-fund:pendidikan   amount     (the fund shrinks)
    Cr asset:cash / asset:bank[:...]   amount     (the money leaves)

A payment larger than the fund's balance is refused (checked again after posting, under the
ledger's account locks, so two approvals cannot overdraw it together). A posted payment is
corrected by a reversal entry. ``education_fund_summary(fiscal_year)`` is what the RAT book
shows: opening balance, what came in, what was spent on which programme, closing balance --
all read from the ledger, so it equals the ledger by construction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select

from kmp.errors import DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.books.approval import ApprovalState, check_checker, check_transition
from kmp.ledger.chart import GATEWAY_CLEARING, SHU_FUNDS
from kmp.ledger.models import Account, JournalEntry, Posting
from kmp.ledger.queries import natural_balance
from kmp.ledger.services import get_account, period_lock_message, post_entry, reverse_entry
from kmp.timeutil import business_date, now_utc
from members.training.models import FundPayment, Programme

FUND_CODE = SHU_FUNDS["dana_pendidikan"]
SOURCE_KIND = "education_fund"


class FundError(DomainError):
    code = "fund_invalid"


def fund_account() -> Account:
    return get_account(FUND_CODE)


def fund_balance_idr(as_of: dt.date | None = None) -> int:
    """What the fund holds (its natural, credit-side balance)."""
    return natural_balance(fund_account(), as_of)


def money_accounts() -> list[Account]:
    """Cash and bank accounts a course can be paid from (not the gateway clearing)."""
    from kmp.ledger.books.services import money_accounts as books_money_accounts

    return [a for a in books_money_accounts() if a.code != GATEWAY_CLEARING]


def _locked(payment: FundPayment) -> FundPayment:
    query = (
        select(FundPayment)
        .where(FundPayment.id == payment.id)
        .execution_options(populate_existing=True)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(_("Pembayaran tidak ditemukan."))
    return row


def _refuse_over_balance(amount_idr: int) -> None:
    balance = fund_balance_idr()
    if amount_idr > balance:
        raise FundError(
            _(
                "Saldo dana pendidikan Rp %(b)s tidak cukup untuk membayar Rp %(a)s.",
                b=f"{balance:,}".replace(",", "."),
                a=f"{amount_idr:,}".replace(",", "."),
            ),
            code="fund_insufficient",
            field="amount",
        )


def record_fund_payment(
    programme: Programme,
    *,
    amount_idr: int,
    paid_on: dt.date,
    money_account_id: int,
    counterparty: str,
    description: str,
    by_user,
    reference: str | None = None,
    request_key: str | None = None,
) -> FundPayment:
    """The maker: a payment for ``programme`` from the fund, waiting for a second member."""
    if request_key:
        replay = db.session.scalar(
            select(FundPayment).where(FundPayment.request_key == request_key)
        )
        if replay is not None:
            return replay
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise FundError(_("Jumlah harus Rupiah bulat lebih dari Rp 0."), field="amount")
    if paid_on > business_date():
        raise FundError(_("Tanggal tidak boleh di masa depan."), field="paid_on")
    message = period_lock_message(paid_on)
    if message:
        raise FundError(message, code="period_closed", field="paid_on")
    if money_account_id not in {a.id for a in money_accounts()}:
        raise FundError(_("Pilih kas atau rekening bank."), field="money_account")
    counterparty = " ".join((counterparty or "").split())[:200]
    if not counterparty:
        raise FundError(_("Penerima pembayaran wajib diisi."), field="counterparty")
    description = (description or "").strip()
    if len(description) < 3:
        raise FundError(
            _("Keterangan wajib diisi (paling sedikit 3 karakter)."), field="description"
        )
    if programme.cancelled_at is not None:
        raise FundError(_("Program ini dibatalkan."), field="programme")
    _refuse_over_balance(amount_idr)
    payment = FundPayment(
        programme_id=programme.id,
        amount_idr=amount_idr,
        paid_on=paid_on,
        money_account_id=money_account_id,
        counterparty=counterparty,
        description=description,
        reference=(reference or "").strip()[:60] or None,
        status=ApprovalState.PENDING,
        created_by_id=by_user.id,
        request_key=request_key,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def approve_fund_payment(payment: FundPayment, *, by_user, note: str | None = None) -> FundPayment:
    """The checker (a pengurus or bendahara other than the maker): the payment posts."""
    payment = _locked(payment)
    check_transition(payment.status, ApprovalState.POSTED)
    check_checker(payment.created_by_id, by_user)
    message = period_lock_message(payment.paid_on)
    if message:
        raise FundError(message, code="period_closed")
    _refuse_over_balance(payment.amount_idr)
    reference = f" [{payment.reference}]" if payment.reference else ""
    entry = post_entry(
        idempotency_key=f"{SOURCE_KIND}:{payment.id}",
        description=(
            f"Dana pendidikan: {payment.programme.title} — {payment.counterparty}{reference}"
        ),
        lines=[(FUND_CODE, payment.amount_idr), (payment.money_account_id, -payment.amount_idr)],
        source_kind=SOURCE_KIND,
        source_id=payment.id,
        entry_date=payment.paid_on,
        posted_by=by_user,
    )
    if fund_balance_idr() < 0:  # a concurrent approval got there first (the ledger locked)
        raise FundError(_("Saldo dana pendidikan tidak cukup."), code="fund_insufficient")
    payment.entry_id = entry.id
    payment.status = ApprovalState.POSTED
    payment.decided_by_id = by_user.id
    payment.decided_at = now_utc()
    payment.decision_note = (note or "").strip() or None
    db.session.flush()
    return payment


def reject_fund_payment(payment: FundPayment, *, by_user, note: str) -> FundPayment:
    payment = _locked(payment)
    check_transition(payment.status, ApprovalState.REJECTED)
    check_checker(payment.created_by_id, by_user)
    if not (note or "").strip():
        raise FundError(_("Alasan penolakan wajib diisi."), field="note")
    payment.status = ApprovalState.REJECTED
    payment.decided_by_id = by_user.id
    payment.decided_at = now_utc()
    payment.decision_note = note.strip()
    db.session.flush()
    return payment


def reverse_fund_payment(payment: FundPayment, *, by_user, reason: str) -> JournalEntry:
    """Undo a posted payment (refund from the provider, a mistake): one reversal entry."""
    payment = _locked(payment)
    check_transition(payment.status, ApprovalState.REVERSED)
    if not (reason or "").strip():
        raise FundError(_("Alasan pembatalan wajib diisi."), field="reason")
    reversal = reverse_entry(
        db.session.get(JournalEntry, payment.entry_id), reason, posted_by=by_user
    )
    payment.status = ApprovalState.REVERSED
    payment.reversal_entry_id = reversal.id
    payment.reversed_by_id = by_user.id
    payment.reversed_at = now_utc()
    payment.reversal_reason = reason.strip()
    db.session.flush()
    return reversal


# =========================================================================== the summary


@dataclass(frozen=True)
class ProgrammeSpending:
    programme_id: int
    title: str
    amount_idr: int


@dataclass(frozen=True)
class FundSummary:
    """The education fund in one fiscal year, from the ledger (the RAT book's section)."""

    fiscal_year: int
    opening_idr: int  # balance at the end of the previous year
    received_idr: int  # credits in the year (the SHU allocation, reversals of payments)
    spent_idr: int  # debits in the year (courses paid, net of their reversals)
    closing_idr: int  # balance at 31 December (= opening + received - spent)
    by_programme: tuple[ProgrammeSpending, ...]
    pending_idr: int  # recorded payments still waiting for approval

    @property
    def balances(self) -> bool:
        return self.opening_idr + self.received_idr - self.spent_idr == self.closing_idr


def education_fund_summary(fiscal_year: int) -> FundSummary:
    """The fund's balance and use in ``fiscal_year`` (1 January - 31 December, Jakarta
    dates), read from its ledger postings: what the RAT book shows."""
    account = fund_account()
    start, end = dt.date(fiscal_year, 1, 1), dt.date(fiscal_year, 12, 31)
    opening = natural_balance(account, start - dt.timedelta(days=1))
    closing = natural_balance(account, end)
    # Fund postings are credit-normal: a negative amount fills the fund, a positive spends it.
    # Reversals of course payments net against spending (they carry the payment's source).
    reversed_ids = select(JournalEntry.id).where(
        JournalEntry.reverses_id.in_(
            select(JournalEntry.id).where(JournalEntry.source_kind == SOURCE_KIND)
        )
    )
    is_use = (JournalEntry.source_kind == SOURCE_KIND) | JournalEntry.id.in_(reversed_ids)
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((is_use, Posting.amount_idr), else_=0)), 0),
            func.coalesce(func.sum(case((is_use, 0), else_=-Posting.amount_idr)), 0),
        )
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Posting.account_id == account.id,
            Posting.entry_date >= start,
            Posting.entry_date <= end,
        )
    ).one()
    spent, received = int(row[0]), int(row[1])
    posted = (
        select(FundPayment.programme_id, func.sum(FundPayment.amount_idr))
        .where(
            FundPayment.status == ApprovalState.POSTED,
            FundPayment.paid_on >= start,
            FundPayment.paid_on <= end,
        )
        .group_by(FundPayment.programme_id)
    )
    titles = dict(db.session.execute(select(Programme.id, Programme.title)).all())
    by_programme = tuple(
        ProgrammeSpending(pid, titles.get(pid, "–"), int(total))
        for pid, total in sorted(db.session.execute(posted).all(), key=lambda r: -r[1])
    )
    pending = db.session.scalar(
        select(func.coalesce(func.sum(FundPayment.amount_idr), 0)).where(
            FundPayment.status == ApprovalState.PENDING
        )
    )
    return FundSummary(
        fiscal_year, opening, received, spent, closing, by_programme, int(pending or 0)
    )


def fund_payments(limit: int = 200) -> list[FundPayment]:
    return list(
        db.session.scalars(select(FundPayment).order_by(FundPayment.id.desc()).limit(limit))
    )
