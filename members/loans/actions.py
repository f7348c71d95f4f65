"""Restructuring and write-off (hapus buku), each asked by one board member with a reason
and decided by another (maker-checker), and recoveries after a write-off.

* Restructuring: the open obligations of the current schedule are closed
  (``restructured``; unpaid penalty and interest due are waived) and the outstanding
  principal gets a new schedule of ``months`` from the decision date at the loan's rate,
  under a new obligation ref (``L<id>R<n>``).
* Write-off: the open obligations are closed (``written_off``) and ONE entry moves the
  outstanding principal from the member's receivable to the loss expense (the next aging
  run releases the class's allowance). The member still owes it outside the books.
* Recovery: money received for a written-off loan is income (``income:loan-recovery``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp.auth import Role, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import BANK, CASH
from kmp.ledger.services import post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date, now_utc
from members.loans import policy
from members.loans.disbursement import write_schedule
from members.loans.models import Loan, LoanAction
from members.loans.repayment import loan_obligations
from members.loans.schedule import build_schedule
from members.loans.states import ActionKind, ActionStatus, LoanStatus, move


def _board(by_user) -> None:
    if not by_user.has_role(Role.PENGURUS, Role.BENDAHARA):
        raise Forbidden(_("Hanya pengurus yang boleh melakukan ini."), code="not_board")


def request_action(
    loan: Loan, kind: ActionKind | str, *, reason: str, by_user, months: int | None = None
) -> LoanAction:
    from members.loans.services import related_user_ids

    kind = ActionKind(kind)
    _board(by_user)
    if LoanStatus(loan.status) is not LoanStatus.ACTIVE:
        raise Conflict(_("Pinjaman ini tidak sedang berjalan."), code="loan_not_active")
    if user_id_of(by_user) in related_user_ids(loan):
        raise Forbidden(_("Anda terkait dengan pinjaman ini."), code="self_dealing")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Alasan wajib diisi."), field="reason")
    if kind is ActionKind.RESTRUCTURE and (not months or not 1 <= months <= 120):
        raise DomainError(_("Jangka waktu baru 1 sampai 120 bulan."), field="months")
    pending = db.session.scalar(
        select(LoanAction.id).where(
            LoanAction.loan_id == loan.id, LoanAction.status == ActionStatus.REQUESTED
        )
    )
    if pending is not None:
        raise Conflict(_("Sudah ada usulan yang menunggu keputusan."), code="action_pending")
    action = LoanAction(
        loan_id=loan.id,
        kind=kind,
        status=ActionStatus.REQUESTED,
        reason=reason[:2000],
        months=months if kind is ActionKind.RESTRUCTURE else None,
        requested_by_id=user_id_of(by_user),
    )
    db.session.add(action)
    db.session.flush()
    return action


def decide_action(
    action: LoanAction, *, approve: bool, by_user, on_date: dt.date | None = None
) -> LoanAction:
    from members.loans.services import related_user_ids

    _board(by_user)
    if action.status is not ActionStatus.REQUESTED:
        raise Conflict(_("Usulan ini sudah diputuskan."), code="action_decided")
    if user_id_of(by_user) == action.requested_by_id:
        raise Forbidden(
            _("Usulan harus diputuskan pengurus lain, bukan pengusulnya."), code="self_approval"
        )
    loan = action.loan
    if user_id_of(by_user) in related_user_ids(loan):
        raise Forbidden(_("Anda terkait dengan pinjaman ini."), code="self_dealing")
    action.decided_by_id = user_id_of(by_user)
    action.decided_at = now_utc()
    if not approve:
        action.status = ActionStatus.REJECTED
        db.session.flush()
        return action
    on_date = on_date or business_date()
    if action.kind is ActionKind.RESTRUCTURE:
        _restructure(loan, action, on_date)
    else:
        _write_off(loan, action, on_date, by_user)
    action.status = ActionStatus.APPROVED
    db.session.flush()
    return action


def _close_open(loan: Loan, why: str) -> int:
    """Close the loan's open obligations; returns the principal that was outstanding."""
    outstanding = 0
    for o in loan_obligations(loan):
        if o.kind == policy.PRINCIPAL:
            outstanding += o.remaining_idr
        o.is_open = False
        o.closed_reason = f"{why}:loan:{loan.id}"
    db.session.flush()
    return outstanding


def _restructure(loan: Loan, action: LoanAction, on_date: dt.date) -> None:
    outstanding = _close_open(loan, "restructured")
    if outstanding <= 0:
        raise Conflict(_("Tidak ada sisa pokok untuk direstrukturisasi."), code="nothing_left")
    loan.restructures += 1
    loan.obligation_ref = f"L{loan.id}R{loan.restructures}"
    loan.days_past_due = 0
    loan.collectibility = "lancar"
    schedule = build_schedule(outstanding, loan.annual_rate_bp, action.months, loan.method, on_date)
    write_schedule(loan, schedule, loan.restructures)


def _write_off(loan: Loan, action: LoanAction, on_date: dt.date, by_user) -> None:
    outstanding = _close_open(loan, "written_off")
    policy.install_loan_chart()
    if outstanding > 0:
        entry = post_entry(
            idempotency_key=f"loan-write-off:{loan.id}",
            description=(
                f"Hapus buku pinjaman #{loan.id} {loan.member.member_no} "
                f"{format_rupiah(outstanding)}: {action.reason[:80]}"
            ),
            lines=[
                (policy.LOSS_EXPENSE, outstanding),
                (policy.receivable_code(loan.member.member_no), -outstanding),
            ],
            source_kind="loan_write_off",
            source_id=loan.id,
            entry_date=on_date,
            posted_by=by_user,
        )
        action.entry_id = entry.id
    move(loan, LoanStatus.WRITTEN_OFF)
    loan.closed_on = on_date


def record_recovery(
    loan: Loan, *, amount_idr: int, method: str, by_user, request_token: str
) -> None:
    """Money recovered on a written-off loan: income, once per request token."""
    from kmp.ledger.models import JournalEntry

    key = f"loan-recovery:{request_token}"
    if db.session.scalar(select(JournalEntry.id).where(JournalEntry.idempotency_key == key)):
        return
    if LoanStatus(loan.status) is not LoanStatus.WRITTEN_OFF:
        raise Conflict(_("Pinjaman ini tidak dihapusbukukan."), code="not_written_off")
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise DomainError(_("Jumlah harus lebih dari Rp 0."), field="amount")
    if method not in ("cash", "bank"):
        raise DomainError(_("Cara bayar tidak dikenal."), field="method")
    post_entry(
        idempotency_key=key,
        description=f"Pemulihan pinjaman #{loan.id} dihapusbukukan {format_rupiah(amount_idr)}",
        lines=[
            (CASH if method == "cash" else BANK, amount_idr),
            (policy.RECOVERY_INCOME, -amount_idr),
        ],
        source_kind="loan_recovery",
        source_id=loan.id,
        posted_by=by_user,
    )
    loan.recovered_idr += amount_idr
    db.session.flush()


def pending_actions() -> list[LoanAction]:
    return list(
        db.session.scalars(
            select(LoanAction)
            .where(LoanAction.status == ActionStatus.REQUESTED)
            .order_by(LoanAction.id)
        )
    )
