"""Simpanan sukarela withdrawals: request, then approve-and-pay or reject (maker-checker).

* ``request_withdrawal``: the member (or the board for them) asks for an amount not above the
  available balance (sukarela balance minus requests still waiting).
* ``approve_withdrawal``: a bendahara who is NOT the requester (nor the member) pays it out in
  cash or by transfer (when every bendahara is conflicted, another pengurus -- or the pengawas
  if the AD says so -- decides: ``members.savings.guards``): ``sukarela +X / cash (bank) -X``.
  Concurrency: the request row is locked (``FOR UPDATE`` on PostgreSQL) so it is paid once,
  and ``post_entry`` locks the member's sukarela account row and refuses to take it below
  zero (the account's ``no_negative`` flag, backed by a CHECK constraint): of two approvals
  that together exceed the balance, the second fails with a clear message and writes nothing.
* ``reject_withdrawal``: with a reason.

Services flush, never commit. Automatic disbursement arrives with the payouts feature.
"""

from __future__ import annotations

from sqlalchemy import func, select

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import BANK, CASH, member_account_code
from kmp.ledger.services import Overdraft, post_entry
from kmp.money import format_rupiah
from kmp.timeutil import now_utc
from members.register.models import Member, PaymentMethod
from members.register.states import MemberStatus
from members.savings.guards import ensure_may_move_money
from members.savings.models import SukarelaWithdrawal, WithdrawalStatus

W = WithdrawalStatus
#: Member states that may still take sukarela out (an exiting member too).
MAY_WITHDRAW = frozenset(
    {MemberStatus.ACTIVE, MemberStatus.EXIT_REQUESTED, MemberStatus.DECEASED, MemberStatus.EXITED}
)


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def sukarela_balance(member: Member) -> int:
    if not member.member_no:
        return 0
    from kmp.ledger.models import Account

    row = db.session.execute(
        select(Account.balance_idr, Account.normal_sign).where(
            Account.code == member_account_code("sukarela", member.member_no)
        )
    ).first()
    return int(row[0] * row[1]) if row else 0


def pending_idr_query(member_id: int):
    """The SELECT of ``pending_idr`` (a page combines it with other sums)."""
    return select(func.coalesce(func.sum(SukarelaWithdrawal.amount_idr), 0)).where(
        SukarelaWithdrawal.member_id == member_id,
        SukarelaWithdrawal.status == W.REQUESTED,
    )


def pending_idr(member_id: int) -> int:
    return int(db.session.scalar(pending_idr_query(member_id)) or 0)


def available_idr(
    member: Member, balance_idr: int | None = None, pending: int | None = None
) -> int:
    """What the member may still ask for: balance minus requests waiting for a decision
    (``balance_idr`` / ``pending``: the sukarela balance and ``pending_idr`` when the caller
    already read them)."""
    if balance_idr is None:
        balance_idr = sukarela_balance(member)
    if pending is None:
        pending = pending_idr(member.id)
    return max(balance_idr - pending, 0)


def request_withdrawal(
    member: Member,
    amount_idr: int,
    *,
    by_user,
    request_token: str,
    note: str | None = None,
) -> SukarelaWithdrawal:
    existing = db.session.scalar(
        select(SukarelaWithdrawal).where(SukarelaWithdrawal.request_token == request_token)
    )
    if existing is not None:
        return existing
    if MemberStatus(member.status) not in MAY_WITHDRAW or not member.member_no:
        raise IllegalTransition(gettext("Penarikan simpanan sukarela hanya untuk anggota."))
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise DomainError(
            gettext("Jumlah harus lebih dari Rp 0."), code="bad_amount", field="amount"
        )
    if _is_pg():  # serialise this member's requests: lock the member row
        db.session.execute(
            select(Member.id).where(Member.id == member.id).with_for_update(key_share=True)
        )
    available = available_idr(member)
    if amount_idr > available:
        raise DomainError(
            gettext(
                "Jumlah melebihi saldo sukarela yang tersedia (%(available)s).",
                available=format_rupiah(available),
            ),
            code="insufficient_balance",
            field="amount",
        )
    note = (note or "").strip() or None
    if note and len(note) > 200:
        raise DomainError(gettext("Catatan maksimal 200 karakter."), code="note_long", field="note")
    from members.savings.payout_accounts import effective_account

    account = effective_account(member)
    withdrawal = SukarelaWithdrawal(
        member_id=member.id,
        amount_idr=amount_idr,
        status=W.REQUESTED,
        destination=account.describe() if account else None,
        note=note,
        request_token=request_token,
        requested_by_id=user_id_of(by_user),
    )
    db.session.add(withdrawal)
    db.session.flush()
    return withdrawal


def _locked(withdrawal_id: int) -> SukarelaWithdrawal:
    query = (
        select(SukarelaWithdrawal)
        .where(SukarelaWithdrawal.id == withdrawal_id)
        .execution_options(populate_existing=True)
    )
    if _is_pg():
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(gettext("Pengajuan penarikan tidak ditemukan."))
    return row


def _check_decider(withdrawal: SukarelaWithdrawal, by_user) -> None:
    """Not the member, its company's staff or the requester; a bendahara, or another
    pengurus when no bendahara can (``members.savings.guards``)."""
    ensure_may_move_money(withdrawal.member, by_user, requested_by_id=withdrawal.requested_by_id)
    if withdrawal.status is not W.REQUESTED:
        raise IllegalTransition(gettext("Pengajuan ini sudah diputuskan."), code="already_decided")


def approve_withdrawal(
    withdrawal: SukarelaWithdrawal,
    by_user,
    *,
    method: PaymentMethod | str,
    reference: str | None = None,
) -> SukarelaWithdrawal:
    withdrawal = _locked(withdrawal.id)
    _check_decider(withdrawal, by_user)
    method = PaymentMethod(method)
    member = withdrawal.member
    try:
        entry = post_entry(
            idempotency_key=f"sukarela-withdrawal:{withdrawal.id}",
            description=f"Penarikan simpanan sukarela {member.member_no} (pengajuan "
            f"#{withdrawal.id}, {'tunai' if method is PaymentMethod.CASH else 'transfer'})",
            lines=[
                (member_account_code("sukarela", member.member_no), withdrawal.amount_idr),
                (CASH if method is PaymentMethod.CASH else BANK, -withdrawal.amount_idr),
            ],
            source_kind="sukarela_withdrawal",
            source_id=withdrawal.id,
            posted_by=by_user,
        )
    except Overdraft as error:
        raise Conflict(
            gettext(
                "Saldo simpanan sukarela tidak cukup untuk penarikan %(amount_idr)s.",
                amount_idr=format_rupiah(withdrawal.amount_idr),
            ),
            code="insufficient_balance",
        ) from error
    withdrawal.status = W.PAID
    withdrawal.method = method
    withdrawal.reference = (reference or "").strip()[:120] or None
    withdrawal.entry_id = entry.id
    withdrawal.decided_by_id = user_id_of(by_user)
    withdrawal.decided_at = now_utc()
    db.session.flush()
    return withdrawal


def reject_withdrawal(withdrawal: SukarelaWithdrawal, by_user, reason: str) -> SukarelaWithdrawal:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            gettext("Alasan penolakan wajib diisi."), code="reason_required", field="reason"
        )
    withdrawal = _locked(withdrawal.id)
    _check_decider(withdrawal, by_user)
    withdrawal.status = W.REJECTED
    withdrawal.decision_reason = reason[:500]
    withdrawal.decided_by_id = user_id_of(by_user)
    withdrawal.decided_at = now_utc()
    db.session.flush()
    return withdrawal


def cancel_withdrawal(withdrawal: SukarelaWithdrawal, by_user) -> SukarelaWithdrawal:  # noqa: ARG001
    """The member takes back a request the bendahara has not decided yet (idempotent)."""
    withdrawal = _locked(withdrawal.id)
    if withdrawal.status is W.CANCELLED:
        return withdrawal
    if withdrawal.status is not W.REQUESTED:
        raise IllegalTransition(
            gettext("Penarikan ini sudah diputuskan bendahara, jadi tidak bisa dibatalkan."),
            code="already_decided",
        )
    withdrawal.status = W.CANCELLED  # by the member: decided_by stays empty (maker-checker)
    withdrawal.decided_at = now_utc()
    db.session.flush()
    return withdrawal


def withdrawal_queue(status: str | None = "requested", limit: int = 200):
    stmt = select(SukarelaWithdrawal).order_by(SukarelaWithdrawal.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(SukarelaWithdrawal.status == WithdrawalStatus(status))
    return list(db.session.scalars(stmt))


def member_withdrawals(member: Member, limit: int = 20):
    return list(
        db.session.scalars(
            select(SukarelaWithdrawal)
            .where(SukarelaWithdrawal.member_id == member.id)
            .order_by(SukarelaWithdrawal.id.desc())
            .limit(limit)
        )
    )
