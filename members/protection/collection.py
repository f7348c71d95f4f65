"""Collecting the monthly bill: one bill with simpanan wajib and every contribution as
separate lines, paid once — online, in cash, by sukarela auto-debit, or by platform check-off.

Every channel goes through the obligations allocator (``members.savings.allocator``), so each
line's money lands in its own account (wajib in the member's equity, each contribution in
its programme's trust liability):

* online: ``create_bill_intent`` builds ONE payment intent of purpose ``bpjs`` (the family of
  the contributions) whose ``meta["targets"]`` are the bill's obligations (wajib and
  contributions), the same way ``members.savings.services.create_savings_intent`` does for
  wajib; the allocator applies it when the money arrives (``allocate_payment`` in savings
  answers ``payment_allocation_requested`` for every registered family). An open checkout for
  the same bill is returned again; a different one is cancelled at the gateway first.
* cash / bank transfer at the bendahara: ``record_bill_receipt`` (a numbered receipt).
* sukarela auto-debit (opt-in on the enrolment): ``run_auto_debits`` pays the open bill from
  the member's available sukarela when it covers the whole bill (daily, idempotent per day).
* platform check-off: a remittance line with purpose ``bpjs`` (``members.partners``), the
  oldest open contributions first.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, tuple_

from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import BANK, CASH, member_account_code
from kmp.ledger.services import post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date, month_key
from members.protection.models import BillReceipt, Contribution, ProtectionEnrolment
from members.protection.rates import FAMILY, KINDS, PROGRAMME_OF_KIND, SHORT
from members.protection.states import EnrolmentStatus
from members.register.models import Member
from members.register.services import record_event
from members.register.states import MemberStatus
from members.savings import allocator, billing
from members.savings.models import Obligation, ObligationPayment

#: The kinds on the monthly bill, in the order of a month's lines.
BILL_KINDS = ("wajib", *KINDS.values())
PURPOSE = FAMILY


@dataclass(frozen=True)
class BillLine:
    obligation: Obligation
    label: str
    programme: str | None
    full_idr: int
    subsidy_idr: int

    @property
    def remaining_idr(self) -> int:
        return self.obligation.remaining_idr

    @property
    def period(self) -> dt.date:
        return self.obligation.period


@dataclass
class MonthlyBill:
    lines: list[BillLine] = field(default_factory=list)

    @property
    def total_idr(self) -> int:
        return sum(line.remaining_idr for line in self.lines)

    @property
    def subsidy_idr(self) -> int:
        return sum(line.subsidy_idr for line in self.lines)

    @property
    def months(self) -> list[str]:
        return list(dict.fromkeys(month_key(line.period) for line in self.lines))

    def by_month(self) -> list[tuple[str, list[BillLine]]]:
        grouped: dict[str, list[BillLine]] = {}
        for line in self.lines:
            grouped.setdefault(month_key(line.period), []).append(line)
        return list(grouped.items())

    @property
    def targets(self) -> list[list[int]]:
        return [[line.obligation.id, line.remaining_idr] for line in self.lines]


def _label(obligation: Obligation, persons: int | None) -> str:
    if obligation.kind == "wajib":
        return _("Simpanan wajib")
    programme = PROGRAMME_OF_KIND[obligation.kind]
    if programme == "jkn" and persons:
        return _("Iuran JKN (%(n)s orang)", n=persons)
    return _("Iuran %(p)s", p=SHORT[programme])


def member_bill(member: Member, on_date: dt.date | None = None) -> MonthlyBill:
    """Everything open on the member's monthly bill up to ``on_date`` (default today):
    wajib and contributions, oldest month first, with each contribution's subsidy."""
    obligations = billing.open_obligations(member.id, on_date, kinds=BILL_KINDS)
    keys = [
        (PROGRAMME_OF_KIND[o.kind], o.period) for o in obligations if o.kind in PROGRAMME_OF_KIND
    ]
    details: dict[tuple[str, dt.date], Contribution] = {}
    if keys:
        for row in db.session.scalars(
            select(Contribution).where(
                Contribution.member_id == member.id,
                tuple_(Contribution.programme, Contribution.period).in_(keys),
            )
        ):
            details[(row.programme, row.period)] = row
    lines = []
    for obligation in obligations:
        programme = PROGRAMME_OF_KIND.get(obligation.kind)
        detail = details.get((programme, obligation.period)) if programme else None
        lines.append(
            BillLine(
                obligation,
                _label(obligation, detail.persons if detail else None),
                programme,
                detail.full_idr if detail else obligation.amount_idr,
                detail.subsidy_idr if detail else 0,
            )
        )
    return MonthlyBill(lines)


def _credit_lines(member: Member, bill: MonthlyBill) -> list[tuple[str, int]]:
    """Provisional credit lines of the intent (the allocator decides the real ones)."""
    lines: dict[str, int] = {}
    for line in bill.lines:
        spec = allocator.KINDS.get(line.obligation.kind)
        if spec is not None and spec.account is not None:
            code = spec.account(member, line.obligation)
        else:
            code = line.obligation.account_code or member_account_code("wajib", member.member_no)
        lines[code] = lines.get(code, 0) + line.remaining_idr
    return list(lines.items())


def create_bill_intent(member: Member, *, by_user, finish_url: str | None = None, gateway=None):
    """The payment intent of the "Bayar tagihan" button: the whole open bill, tied to its
    obligations (an identical open checkout is returned; a different one replaced)."""
    from kmp.payments.services import create_payment_intent
    from members.savings.services import reuse_or_cancel_open

    if MemberStatus(member.status) is not MemberStatus.ACTIVE:
        raise Conflict(_("Tagihan hanya untuk anggota aktif."), code="member_not_active")
    bill = member_bill(member)
    if not bill.lines:
        raise Conflict(_("Tidak ada tagihan yang perlu dibayar."), code="no_bills")
    amount = bill.total_idr
    targets = bill.targets
    months = bill.months
    meta = {"allocate": True, "targets": targets, "months": months}
    if finish_url:
        meta["finish_url"] = finish_url
    reused = reuse_or_cancel_open(member, PURPOSE, amount, targets, gateway)
    if reused is not None:
        return reused
    span = months[0] + (f" s.d. {months[-1]}" if len(months) > 1 else "")
    description = f"Tagihan bulanan {member.member_no} {span} (wajib + BPJS)"
    return create_payment_intent(
        member.id,
        PURPOSE,
        amount,
        _credit_lines(member, bill),
        description[:200],
        metadata=meta,
        by_user=by_user,
    )


def bill_intent_for_member(member: Member, intent_id: int):
    from kmp.errors import NotFound
    from kmp.payments.models import PaymentIntent

    intent = db.session.get(PaymentIntent, intent_id) if 0 < intent_id < 2**31 else None
    if intent is None or intent.member_id != member.id or intent.purpose != PURPOSE:
        raise NotFound(_("Pembayaran tidak ditemukan."))
    return intent


def open_bill_checkouts(member: Member) -> list:
    from members.savings.services import open_checkouts

    return open_checkouts(member, (PURPOSE,))


def _allocate_bill(
    member: Member, amount_idr: int, source: str, paid_on: dt.date, bill: MonthlyBill | None = None
):
    """The allocator places ``amount_idr``: the bill's lines first (oldest month first)."""
    bill = bill or member_bill(member)
    return allocator.allocate(
        member,
        amount_idr,
        purpose=PURPOSE,
        source=source,
        paid_on=paid_on,
        targets=bill.targets,
    )


def record_bill_receipt(
    member: Member,
    *,
    amount_idr: int,
    method: str,
    by_user,
    request_token: str,
    reference: str | None = None,
    received_on: dt.date | None = None,
) -> BillReceipt:
    """The bendahara took money for the member's bill in cash or by transfer: the allocator
    places it (the bill's lines, oldest first; any excess as sukarela), one entry debits cash
    or bank, a numbered receipt is kept. The same ``request_token`` returns the first one."""
    from members.savings.deposits import next_receipt_number

    existing = db.session.scalar(
        select(BillReceipt).where(BillReceipt.request_token == request_token)
    )
    if existing is not None:
        return existing
    if method not in ("cash", "bank"):
        raise DomainError(_("Cara bayar tidak dikenal."), field="method")
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise DomainError(_("Jumlah harus lebih dari Rp 0."), field="amount")
    if MemberStatus(member.status) is not MemberStatus.ACTIVE or not member.member_no:
        raise DomainError(_("Tagihan hanya untuk anggota aktif."), code="member_not_active")
    today = business_date()
    received_on = received_on or today
    if received_on > today:
        raise DomainError(_("Tanggal terima tidak boleh di masa depan."), field="received_on")
    number = next_receipt_number(received_on)
    allocation = _allocate_bill(member, amount_idr, f"receipt:{number}", received_on)
    label = "tunai" if method == "cash" else "transfer bank"
    entry = post_entry(
        idempotency_key=f"bill-receipt:{request_token}",
        description=f"Kwitansi {number}: tagihan bulanan {member.member_no} ({label})",
        lines=[(CASH if method == "cash" else BANK, amount_idr)]
        + [(code, -amount) for code, amount in allocation.lines],
        source_kind="bill_receipt",
        source_id=number,
        entry_date=received_on,
        posted_by=by_user,
    )
    receipt = BillReceipt(
        number=number,
        request_token=request_token,
        member_id=member.id,
        amount_idr=amount_idr,
        method=method,
        reference=(reference or "").strip()[:120] or None,
        received_on=received_on,
        entry_id=entry.id,
        recorded_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(receipt)
    record_event(
        member, "receipt", by_user, f"{number}: tagihan bulanan {format_rupiah(amount_idr)}"
    )
    db.session.flush()
    return receipt


@dataclass
class AutoDebitResult:
    paid: int = 0
    amount_idr: int = 0
    short: int = 0


def run_auto_debits(on_date: dt.date | None = None) -> AutoDebitResult:
    """Pay the open bill of every participant who opted in, from their available sukarela,
    when it covers the whole bill (a part is never taken). Idempotent per member per day."""
    from members.savings.withdrawals import available_idr

    on_date = on_date or business_date()
    result = AutoDebitResult()
    member_ids = list(
        db.session.scalars(
            select(ProtectionEnrolment.member_id)
            .join(Member, Member.id == ProtectionEnrolment.member_id)
            .where(
                ProtectionEnrolment.auto_debit.is_(True),
                ProtectionEnrolment.status == EnrolmentStatus.CONFIRMED,
                Member.status == MemberStatus.ACTIVE,
            )
            .order_by(ProtectionEnrolment.member_id)
        )
    )
    for member_id in member_ids:
        source = f"autodebit:{member_id}:{on_date.isoformat()}"
        if db.session.scalar(
            select(ObligationPayment.id).where(ObligationPayment.source == source).limit(1)
        ):
            continue
        member = db.session.get(Member, member_id)
        bill = member_bill(member, on_date)
        total = bill.total_idr  # (read before the allocator pays the bill's obligations)
        if total <= 0:
            continue
        if available_idr(member) < total:
            result.short += 1
            continue
        allocation = _allocate_bill(member, total, source, on_date, bill)
        post_entry(
            idempotency_key=f"bpjs-{source}",
            description=f"Debit otomatis sukarela {member.member_no}: tagihan bulanan",
            lines=[(member_account_code("sukarela", member.member_no), total)]
            + [(code, -amount) for code, amount in allocation.lines],
            source_kind="bpjs_autodebit",
            source_id=source,
            entry_date=on_date,
        )
        result.paid += 1
        result.amount_idr += total
    db.session.flush()
    return result


def on_bill_payment_settled(
    sender, payment=None, intent=None, member_id=None, purpose=None, amount_idr=None, **extra
):  # noqa: ARG001
    """``payment_settled`` (sender ``bpjs``): the allocator has placed the money; send the
    receipt message."""
    if purpose != PURPOSE or member_id is None or intent is None:
        return
    member = db.session.get(Member, member_id)
    if member is None:
        return
    from kmp.notify import queue_notification, recipient_locale

    order = payment.order_id if payment is not None else f"intent-{intent.id}"
    with recipient_locale(member.user):
        body = _(
            "Terima kasih, %(name)s. Pembayaran %(what)s sebesar %(amount)s sudah kami terima "
            "(no. %(order)s). Perlindungan BPJS Anda diperbarui.",
            name=member.display_name,
            what=intent.description,
            amount=format_rupiah(int(amount_idr)),
            order=order,
        )
        queue_notification(
            kind="payment_receipt",
            address=member.email or member.phone,
            subject=_("Bukti pembayaran tagihan bulanan"),
            body=body,
            user_id=member.user_id,
            member_id=member.id,
            dedupe_key=f"payment-receipt:{order}",
        )
