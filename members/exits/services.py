"""Leaving the cooperative: the refund quote, the request, approval, cancellation, payment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import BANK, CASH, REFUND_PAYABLE, member_account_code
from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account, post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date, now_utc
from members.ad.services import current_ad
from members.register.admission import _natural_balance
from members.register.models import ExitCase, ExitKind, ExitStatus, Member, PaymentMethod
from members.register.services import _refuse, _set_status, record_event
from members.register.states import MemberStatus


@dataclass(frozen=True)
class RefundQuote:
    """Domain decision 3: refund = pokok + wajib - every open obligation, never below 0.
    ``owed_idr`` is what the member still owes (wajib months, loan instalments due and the
    outstanding loan principal, contributions); ``arrears_idr`` the part the refund sets off
    (at most pokok + wajib); the rest stays owed (loans) or is waived (simpanan wajib)."""

    pokok_idr: int
    wajib_idr: int
    arrears_idr: int
    sukarela_idr: int  # paid out with the refund unless the member keeps it until a date
    owed_idr: int = 0

    @property
    def refund_idr(self) -> int:
        return self.pokok_idr + self.wajib_idr - self.arrears_idr


def member_arrears_idr(member: Member, on_date=None) -> int:
    """What the member still owes at exit: obligations due by ``on_date`` and the kinds the
    exit sets off before they are due (a loan's outstanding principal)."""
    from members.savings.allocator import exit_owed_idr

    return exit_owed_idr(member.id, on_date or business_date())


def compute_refund(member: Member) -> RefundQuote:
    if not member.member_no:
        return RefundQuote(0, 0, 0, 0)
    pokok = _natural_balance(member_account_code("pokok", member.member_no))
    wajib = _natural_balance(member_account_code("wajib", member.member_no))
    sukarela = _natural_balance(member_account_code("sukarela", member.member_no))
    owed = max(member_arrears_idr(member), 0)
    return RefundQuote(pokok, wajib, min(owed, pokok + wajib), sukarela, owed)


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
        raise DomainError(gettext("Jenis keluar tidak dikenal."))
    if open_exit_case(member) is not None:
        raise Conflict(
            gettext("Sudah ada pengajuan keluar yang menunggu keputusan pengurus."),
            code="exit_pending",
        )
    if kind is ExitKind.DEATH:
        heir_name = (heir_name or "").strip()
        if not heir_name:
            raise _refuse(gettext("Nama ahli waris wajib diisi."), "heir_name", "required")
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


def approve_exit(case: ExitCase, by_user, *, keep_sukarela: bool = False) -> ExitCase:
    """The board approves: in ONE entry pokok and wajib (and sukarela, unless the member keeps
    it) leave the member's accounts, what the member owes is set off (the obligations are
    closed by the allocator, their money credited where each belongs), and the rest moves
    to the refund payable. Simpanan wajib months the capital could not cover are waived; a
    loan balance beyond it stays owed. The membership ends (``exited``, the login read-only);
    the member number is never reused."""
    from members.savings.allocator import EXIT_SETOFF_ACCOUNT, allocate, waive_at_exit

    if case.status is not ExitStatus.REQUESTED:
        raise IllegalTransition(gettext("Pengajuan ini sudah diputuskan."), code="exit_decided")
    member = case.member
    today = business_date()
    quote = compute_refund(member)
    sukarela = 0 if keep_sukarela else quote.sukarela_idr
    case.pokok_idr, case.wajib_idr = quote.pokok_idr, quote.wajib_idr
    case.arrears_idr = quote.arrears_idr
    case.refund_idr = quote.refund_idr + sukarela
    case.sukarela_idr = sukarela
    lines = []
    if quote.pokok_idr:
        lines.append((member_account_code("pokok", member.member_no), quote.pokok_idr))
    if quote.wajib_idr:
        lines.append((member_account_code("wajib", member.member_no), quote.wajib_idr))
    if sukarela:
        lines.append((member_account_code("sukarela", member.member_no), sukarela))
    if quote.arrears_idr:
        open_account(
            EXIT_SETOFF_ACCOUNT,
            "Pendapatan penyelesaian kewajiban anggota keluar",
            AccountType.INCOME,
        )
        setoff = allocate(
            member,
            quote.arrears_idr,
            purpose="setoff",
            source=f"exit:{case.id}",
            paid_on=today,
            account_overrides={"wajib": EXIT_SETOFF_ACCOUNT},
            due_by=today,
        )
        lines += [(code, -amount) for code, amount in setoff.lines]
    if case.refund_idr:
        lines.append((REFUND_PAYABLE, -case.refund_idr))
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
    waive_at_exit(member.id, f"exit:{case.id}")
    case.status = ExitStatus.PAYABLE if case.refund_idr else ExitStatus.PAID
    case.decided_at = now_utc()
    case.decided_by_id = user_id_of(by_user)
    _set_status(member, MemberStatus.EXITED, by_user, "Keluar disetujui pengurus")
    member.exited_date = today
    db.session.flush()
    return case


def cancel_exit(case: ExitCase, by_user, reason: str) -> ExitCase:
    """The request is withdrawn or declined: the member is active again (not for a death)."""
    if case.status is not ExitStatus.REQUESTED:
        raise IllegalTransition(gettext("Pengajuan ini sudah diputuskan."), code="exit_decided")
    if case.kind is not ExitKind.EXIT:
        raise IllegalTransition(
            gettext("Laporan meninggal dunia tidak bisa dibatalkan di sini."),
            code="death_not_cancellable",
        )
    if not (reason or "").strip():
        raise _refuse(gettext("Alasan wajib diisi."), "reason", "reason_required")
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
            gettext("Tidak ada pengembalian yang menunggu dibayar untuk kasus ini."),
            code="not_payable",
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
    record_event(case.member, "refund_paid", by_user, format_rupiah(case.refund_idr))
    db.session.flush()
    return case
