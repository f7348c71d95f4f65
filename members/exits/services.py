"""Leaving the cooperative: the refund quote, the request, approval, cancellation, payment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition
from kmp.extensions import db
from kmp.ledger.chart import BANK, CASH, REFUND_PAYABLE, member_account_code
from kmp.ledger.services import post_entry
from kmp.timeutil import business_date, now_utc
from members.ad.services import current_ad
from members.register.admission import _natural_balance
from members.register.models import ExitCase, ExitKind, ExitStatus, Member, PaymentMethod
from members.register.services import _refuse, _set_status, record_event
from members.register.states import MemberStatus
from members.savings.deposits import MEMBER_RECEIVABLE


@dataclass(frozen=True)
class RefundQuote:
    pokok_idr: int
    wajib_idr: int
    arrears_idr: int  # obligations deducted (at most pokok + wajib)
    sukarela_idr: int  # shown for information: withdrawn separately

    @property
    def refund_idr(self) -> int:
        return self.pokok_idr + self.wajib_idr - self.arrears_idr


def member_arrears_idr(member: Member) -> int:
    """Unpaid obligations (wajib arrears) from the savings feature's hook; 0 until it exists."""
    from members.savings import billing

    return int(billing.member_arrears_idr_hook(member))


def compute_refund(member: Member) -> RefundQuote:
    if not member.member_no:
        return RefundQuote(0, 0, 0, 0)
    pokok = _natural_balance(member_account_code("pokok", member.member_no))
    wajib = _natural_balance(member_account_code("wajib", member.member_no))
    sukarela = _natural_balance(member_account_code("sukarela", member.member_no))
    arrears = min(max(member_arrears_idr(member), 0), pokok + wajib)
    return RefundQuote(pokok, wajib, arrears, sukarela)


def open_exit_case(member: Member) -> ExitCase | None:
    return db.session.scalar(
        select(ExitCase).where(
            ExitCase.member_id == member.id,
            ExitCase.kind != ExitKind.APPLICATION,
            ExitCase.status == ExitStatus.REQUESTED,
        )
    )


def request_exit(
    member: Member,
    by_user,
    reason: str | None = None,
    *,
    kind: ExitKind | str = ExitKind.EXIT,
    heir_name: str | None = None,
    heir_relationship: str | None = None,
) -> ExitCase:
    """The member (or the board) asks to end the membership; death is reported by the board
    with the heir who receives the refund."""
    kind = ExitKind(kind)
    if kind is ExitKind.APPLICATION:
        raise DomainError("Jenis keluar tidak dikenal.")
    if open_exit_case(member) is not None:
        raise Conflict(
            "Sudah ada pengajuan keluar yang menunggu keputusan pengurus.", code="exit_pending"
        )
    if kind is ExitKind.DEATH:
        heir_name = (heir_name or "").strip()
        if not heir_name:
            raise _refuse("Nama ahli waris wajib diisi.", "heir_name", "required")
        _set_status(member, MemberStatus.DECEASED, by_user, reason or "Meninggal dunia")
    else:
        _set_status(member, MemberStatus.EXIT_REQUESTED, by_user, reason or "Mengajukan keluar")
    case = ExitCase(
        member_id=member.id,
        kind=kind,
        status=ExitStatus.REQUESTED,
        reason=(reason or "").strip() or None,
        heir_name=heir_name or None,
        heir_relationship=(heir_relationship or "").strip() or None,
        requested_by_id=user_id_of(by_user),
        ad_version_id=current_ad().version_id,
    )
    db.session.add(case)
    db.session.flush()
    return case


def approve_exit(case: ExitCase, by_user) -> ExitCase:
    """The board approves: refund = pokok + wajib - arrears moves to the refund payable; the
    membership ends (status ``exited``); the member number is never reused."""
    if case.status is not ExitStatus.REQUESTED:
        raise IllegalTransition("Pengajuan ini sudah diputuskan.", code="exit_decided")
    member = case.member
    quote = compute_refund(member)
    case.pokok_idr, case.wajib_idr = quote.pokok_idr, quote.wajib_idr
    case.arrears_idr, case.refund_idr = quote.arrears_idr, quote.refund_idr
    lines = []
    if quote.pokok_idr:
        lines.append((member_account_code("pokok", member.member_no), quote.pokok_idr))
    if quote.wajib_idr:
        lines.append((member_account_code("wajib", member.member_no), quote.wajib_idr))
    if quote.arrears_idr:
        lines.append((MEMBER_RECEIVABLE, -quote.arrears_idr))
    if quote.refund_idr:
        lines.append((REFUND_PAYABLE, -quote.refund_idr))
    if lines:
        who = "ahli waris" if case.kind is ExitKind.DEATH else "anggota keluar"
        entry = post_entry(
            idempotency_key=f"exit-payable:{case.id}",
            description=f"Pengembalian simpanan {member.member_no} kepada {who}",
            lines=lines,
            source_kind="exit_case",
            source_id=case.id,
            posted_by=by_user,
        )
        case.payable_entry_id = entry.id
    case.status = ExitStatus.PAYABLE if quote.refund_idr else ExitStatus.PAID
    case.decided_at = now_utc()
    case.decided_by_id = user_id_of(by_user)
    _set_status(member, MemberStatus.EXITED, by_user, "Keluar disetujui pengurus")
    member.exited_date = business_date()
    db.session.flush()
    return case


def cancel_exit(case: ExitCase, by_user, reason: str) -> ExitCase:
    """The request is withdrawn or declined: the member is active again (not for a death)."""
    if case.status is not ExitStatus.REQUESTED:
        raise IllegalTransition("Pengajuan ini sudah diputuskan.", code="exit_decided")
    if case.kind is not ExitKind.EXIT:
        raise IllegalTransition(
            "Laporan meninggal dunia tidak bisa dibatalkan di sini.", code="death_not_cancellable"
        )
    if not (reason or "").strip():
        raise _refuse("Alasan wajib diisi.", "reason", "reason_required")
    case.status = ExitStatus.CANCELLED
    case.decided_at = now_utc()
    case.decided_by_id = user_id_of(by_user)
    _set_status(case.member, MemberStatus.ACTIVE, by_user, reason.strip())
    return case


def pay_exit_refund(
    case: ExitCase, by_user, method: PaymentMethod | str, reference: str | None = None
) -> ExitCase:
    """The bendahara records paying out a refund (cash or transfer)."""
    if case.status is not ExitStatus.PAYABLE:
        raise IllegalTransition(
            "Tidak ada pengembalian yang menunggu dibayar untuk kasus ini.", code="not_payable"
        )
    method = PaymentMethod(method)
    entry = post_entry(
        idempotency_key=f"exit-paid:{case.id}",
        description=f"Pembayaran pengembalian simpanan (kasus #{case.id})",
        lines=[
            (REFUND_PAYABLE, case.refund_idr),
            (CASH if method is PaymentMethod.CASH else BANK, -case.refund_idr),
        ],
        source_kind="exit_case",
        source_id=case.id,
        posted_by=by_user,
    )
    case.payment_entry_id = entry.id
    case.payment_method = method
    case.payment_reference = (reference or "").strip() or None
    case.paid_at = now_utc()
    case.paid_by_id = user_id_of(by_user)
    case.status = ExitStatus.PAID
    record_event(case.member, "refund_paid", by_user, f"Rp {case.refund_idr:,}".replace(",", "."))
    db.session.flush()
    return case
