"""Money into savings: receipt numbers, which account a deposit credits, cash receipts."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from kmp.auth import user_id_of
from kmp.errors import Conflict, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import BANK, CASH, member_account_code
from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account, post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date
from members.register.admission import (
    APPLICANT_PRINCIPAL_PREFIX,
    activate_if_ready,
    applicant_account_code,
    pokok_status,
)
from members.register.identity import format_member_no
from members.register.models import Member, PaymentMethod, SavingsPurpose
from members.register.services import _refuse, record_event, reserve_numbers
from members.register.states import MemberStatus
from members.savings.models import Receipt

MEMBER_RECEIVABLE = "asset:receivable:members"


RECEIPT_PREFIX = "KWT"


def next_receipt_number(on: dt.date) -> str:
    return format_member_no(RECEIPT_PREFIX, on.year, reserve_numbers(RECEIPT_PREFIX, on.year))


def savings_account_code(member: Member, purpose: SavingsPurpose | str) -> str:
    """The account a deposit of ``purpose`` for ``member`` is credited to (see module doc)."""
    purpose = SavingsPurpose(purpose)
    status = MemberStatus(member.status)
    if purpose is SavingsPurpose.POKOK and status in (MemberStatus.APPLIED, MemberStatus.APPROVED):
        return applicant_account_code(member)
    if status is not MemberStatus.ACTIVE or not member.member_no:
        raise IllegalTransition(
            gettext(
                "Simpanan %(purpose)s tidak bisa diterima: status keanggotaan '%(status)s'.",
                purpose=purpose.value,
                status=status.label,
            ),
            code="member_not_active",
        )
    return member_account_code(purpose.value, member.member_no)


def _check_deposit(member: Member, purpose: SavingsPurpose, amount_idr: int) -> str:
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise _refuse(gettext("Jumlah harus lebih dari Rp 0."), "amount_idr", "invalid_amount")
    code = savings_account_code(member, purpose)
    if purpose is SavingsPurpose.POKOK:
        status = pokok_status(member)
        if status.remaining_idr == 0:
            raise Conflict(
                gettext("Simpanan pokok anggota ini sudah lunas."),
                code="pokok_paid",
                field="amount_idr",
            )
        if amount_idr > status.remaining_idr:
            raise _refuse(
                _(
                    "Jumlah melebihi sisa simpanan pokok (sisa %(rest)s).",
                    rest=format_rupiah(status.remaining_idr),
                ),
                "amount_idr",
                "pokok_overpaid",
            )
        if not status.instalments_allowed and amount_idr != status.remaining_idr:
            raise _refuse(
                _(
                    "Simpanan pokok kelompok ini harus dibayar lunas sekaligus: %(rest)s.",
                    rest=format_rupiah(status.remaining_idr),
                ),
                "amount_idr",
                "pokok_in_full",
            )
    if code.startswith(APPLICANT_PRINCIPAL_PREFIX):
        ensure_applicant_account(member)
    return code


def ensure_applicant_account(member: Member) -> str:
    """The applicant's pokok deposit account (a liability until admission), opened once."""
    code = applicant_account_code(member)
    open_account(
        code,
        f"Titipan simpanan pokok pendaftar #{member.id}",
        AccountType.LIABILITY,
        owner_id=member.id,
        no_negative=True,
    )
    return code


def savings_credit_lines(
    member_id: int, purpose: SavingsPurpose | str, amount_idr: int
) -> list[tuple[str, int]]:
    """For a payment intent: the credit line(s) of a deposit, checked (pokok not overpaid,
    instalments as the AD allows, member in a state that may deposit) and the applicant
    account opened."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound(gettext("Anggota tidak ditemukan."))
    return [(_check_deposit(member, SavingsPurpose(purpose), amount_idr), amount_idr)]


def credit_savings(
    member: Member,
    purpose: SavingsPurpose | str,
    amount_idr: int,
    *,
    debit_account: str,
    idempotency_key: str,
    source_kind: str,
    source: str,
    source_id: str | int | None = None,
    by_user=None,
    entry_date: dt.date | None = None,
    description: str | None = None,
):
    """Money in for ``member``: the allocator decides where each Rupiah goes (pokok up to the
    AD amount, the oldest wajib bills, advance credit, sukarela), one entry debits
    ``debit_account`` and credits those lines, and the member is admitted if this completes
    pokok. Returns ``(entry, allocation)``."""
    from members.savings.allocator import allocate

    purpose = SavingsPurpose(purpose)
    if purpose is not SavingsPurpose.POKOK:
        savings_account_code(member, purpose)  # refuses members who may not deposit
    allocation = allocate(
        member,
        amount_idr,
        purpose=purpose.value,
        source=source,
        paid_on=entry_date or business_date(),
    )
    label = member.member_no or f"pendaftar #{member.id}"
    entry = post_entry(
        idempotency_key=idempotency_key,
        description=description or f"Simpanan {purpose.value} {label}",
        lines=[(debit_account, amount_idr)] + [(c, -a) for c, a in allocation.lines],
        source_kind=source_kind,
        source_id=source_id,
        entry_date=entry_date,
        posted_by=by_user,
    )
    activate_if_ready(member, by_user)
    return entry, allocation


def record_receipt(
    member: Member,
    *,
    purpose: SavingsPurpose | str,
    amount_idr: int,
    method: PaymentMethod | str,
    by_user,
    request_token: str,
    reference: str | None = None,
    received_on: dt.date | None = None,
) -> Receipt:
    """The bendahara records money received in cash or by bank transfer: a numbered receipt
    and its ledger entry. The same ``request_token`` twice returns the first receipt."""
    existing = db.session.scalar(select(Receipt).where(Receipt.request_token == request_token))
    if existing is not None:
        return existing
    purpose, method = SavingsPurpose(purpose), PaymentMethod(method)
    today = business_date()
    received_on = received_on or today
    if received_on > today:
        raise _refuse(
            gettext("Tanggal terima tidak boleh di masa depan."), "received_on", "future_date"
        )
    number = next_receipt_number(received_on)
    label = member.member_no or f"pendaftar #{member.id}"
    _check_deposit(member, purpose, amount_idr)
    entry, _allocation = credit_savings(
        member,
        purpose,
        amount_idr,
        debit_account=CASH if method is PaymentMethod.CASH else BANK,
        idempotency_key=f"receipt:{request_token}",
        source_kind="receipt",
        source=f"receipt:{number}",
        source_id=number,
        by_user=by_user,
        entry_date=received_on,
        description=f"Kwitansi {number}: simpanan {purpose.value} {label} "
        f"({'tunai' if method is PaymentMethod.CASH else 'transfer bank'})",
    )
    receipt = Receipt(
        number=number,
        request_token=request_token,
        member_id=member.id,
        purpose=purpose,
        method=method,
        amount_idr=amount_idr,
        reference=(reference or "").strip() or None,
        received_on=received_on,
        recorded_by_id=user_id_of(by_user),
        entry_id=entry.id,
    )
    db.session.add(receipt)
    record_event(
        member,
        "receipt",
        by_user,
        f"{number}: simpanan {purpose.value} {format_rupiah(amount_idr)}",
    )
    db.session.flush()
    return receipt
