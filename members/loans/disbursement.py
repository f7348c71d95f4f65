"""Disbursing an approved loan, exactly once, and writing its schedule as obligations.

ONE entry: debit the member's loans receivable (``asset:loans:receivable:<no>``) with the
principal; credit what the member receives (the principal less the admin fee and provisi)
to their sukarela, to cash or to the bank, and the fees to fee income. The schedule's
instalments become obligations of the ``pinjaman`` family (interest credited to interest
income, principal to the receivable), so every payment channel pays them through the one
allocator. A second disbursement is refused (state machine, the unique entry column and the
entry's idempotency key).
"""

from __future__ import annotations

import datetime as dt

from kmp.auth import Role, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import BANK, CASH, member_account_code
from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account, post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date
from members.loans import policy
from members.loans.models import Loan, LoanInstalment
from members.loans.schedule import Schedule, build_schedule
from members.loans.states import LoanStatus, move
from members.savings.models import Obligation

METHODS = ("sukarela", "cash", "bank")


def open_receivable(loan: Loan) -> str:
    member = loan.member
    code = policy.receivable_code(member.member_no)
    open_account(
        code,
        f"Piutang pinjaman {member.member_no}",
        AccountType.ASSET,
        owner_id=member.id,
        no_negative=True,
    )
    return code


def write_schedule(loan: Loan, schedule: Schedule, schedule_no: int) -> None:
    """The instalments of ``schedule`` as rows and obligations under ``loan.obligation_ref``."""
    member = loan.member
    receivable = policy.receivable_code(member.member_no)
    for row in schedule.rows:
        period = row.due_date.replace(day=1)
        ids: dict[str, int | None] = {policy.INTEREST: None, policy.PRINCIPAL: None}
        for kind, amount, account, label in (
            (policy.INTEREST, row.interest_idr, policy.INTEREST_INCOME, "bunga"),
            (policy.PRINCIPAL, row.principal_idr, receivable, "pokok"),
        ):
            if amount <= 0:
                continue
            obligation = Obligation(
                member_id=member.id,
                kind=kind,
                period=period,
                due_date=row.due_date,
                ref=loan.obligation_ref,
                priority=policy.PRIORITY[kind],
                account_code=account,
                description=f"Angsuran {row.no} pinjaman #{loan.id}: {label}",
                group_code=member.group_code,
                amount_idr=amount,
                paid_idr=0,
                is_open=True,
            )
            db.session.add(obligation)
            db.session.flush()
            ids[kind] = obligation.id
        db.session.add(
            LoanInstalment(
                loan_id=loan.id,
                schedule_no=schedule_no,
                no=row.no,
                due_date=row.due_date,
                principal_idr=row.principal_idr,
                interest_idr=row.interest_idr,
                balance_idr=row.balance_idr,
                principal_obligation_id=ids[policy.PRINCIPAL],
                interest_obligation_id=ids[policy.INTEREST],
            )
        )
    db.session.flush()


def disburse_loan(
    loan: Loan, *, method: str, by_user, on_date: dt.date | None = None, reference: str = ""
) -> Loan:
    """Pay out an approved loan (bendahara or pengurus, not the borrower)."""
    from members.loans.services import related_user_ids

    if LoanStatus(loan.status) is LoanStatus.ACTIVE or loan.disbursement_entry_id is not None:
        raise Conflict(_("Pinjaman ini sudah dicairkan."), code="already_disbursed")
    if LoanStatus(loan.status) is not LoanStatus.APPROVED:
        raise Conflict(_("Pinjaman belum disetujui."), code="not_approved")
    if method not in METHODS:
        raise DomainError(_("Cara pencairan tidak dikenal."), field="method")
    if not by_user.has_role(Role.BENDAHARA, Role.PENGURUS):
        raise Forbidden(_("Hanya bendahara atau pengurus yang mencairkan pinjaman."))
    if user_id_of(by_user) in related_user_ids(loan):
        raise Forbidden(
            _("Anda tidak bisa mencairkan pinjaman Anda sendiri atau yang Anda jamin."),
            code="self_disbursement",
        )
    on_date = on_date or business_date()
    member = loan.member
    fees = loan.admin_fee_idr + loan.provisi_idr
    net = loan.principal_idr - fees
    receivable = open_receivable(loan)
    policy.install_loan_chart()
    target = {
        "sukarela": member_account_code("sukarela", member.member_no),
        "cash": CASH,
        "bank": BANK,
    }[method]
    lines = [(receivable, loan.principal_idr), (target, -net)]
    if fees:
        lines.append((policy.FEE_INCOME, -fees))
    entry = post_entry(
        idempotency_key=f"loan-disburse:{loan.id}",
        description=(
            f"Pencairan pinjaman #{loan.id} {member.member_no} {format_rupiah(loan.principal_idr)}"
            f" ({method}{', ' + reference.strip()[:60] if reference.strip() else ''})"
        ),
        lines=lines,
        source_kind="loan_disbursement",
        source_id=loan.id,
        entry_date=on_date,
        posted_by=by_user,
    )
    loan.disbursement_entry_id = entry.id
    loan.disbursement_method = method
    loan.disbursed_on = on_date
    loan.disbursed_by_id = user_id_of(by_user)
    loan.obligation_ref = f"L{loan.id}"
    move(loan, LoanStatus.ACTIVE)
    schedule = build_schedule(
        loan.principal_idr, loan.annual_rate_bp, loan.months, loan.method, on_date
    )
    write_schedule(loan, schedule, 0)
    from members.loans.services import _event, _notify

    _event(member, by_user, f"Pinjaman #{loan.id} dicairkan ({method})")
    _notify(
        loan,
        _("Pinjaman dicairkan"),
        _(
            "Pinjaman %(amount)s dicairkan; diterima %(net)s. Angsuran pertama %(first)s pada "
            "%(date)s.",
            amount=format_rupiah(loan.principal_idr),
            net=format_rupiah(net),
            first=format_rupiah(schedule.first_instalment_idr),
            date=schedule.rows[0].due_date.isoformat(),
        ),
        "disbursed",
    )
    db.session.flush()
    return loan
