"""A member's savings: balances, statement, 12-month chart, paying online, voiding receipts.

Read side: ``member_balances``, ``savings_statement`` (running balance per account, filters),
``statement_rows`` (for CSV/PDF), ``chart_months`` / ``chart_svg_geometry`` (the last 12
month-end balances, drawn as a server-side SVG).

Paying (the "Bayar" buttons): ``create_savings_intent(member, purpose, ...)`` builds the
payment intent (``kmp.payments.services.create_payment_intent``) for simpanan pokok (in full
or an instalment), wajib for the N oldest open months, or a sukarela deposit; the view then
calls ``start_checkout``. The payments core books the money (one receipt entry) and sends
``payment_settled``; ``on_savings_payment_settled`` (connected in ``members.handlers``)
settles wajib obligations and queues a receipt message. ``payment_reversed`` undoes them.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from kmp.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.ledger.chart import member_account_code
from kmp.ledger.models import Account, JournalEntry, Posting
from kmp.ledger.queries import member_statement
from kmp.ledger.services import LedgerError, reverse_entry
from kmp.money import format_rupiah
from kmp.timeutil import add_months, business_date, month_key
from members.register.models import Member, SavingsPurpose
from members.register.states import MemberStatus
from members.savings import billing
from members.savings.models import Receipt, ReceiptVoid

#: Account kinds a member sees, in page order.
KINDS = ("pokok", "wajib", "sukarela", "shu")
KIND_LABELS = {
    "pokok": _l("Simpanan pokok"),
    "wajib": _l("Simpanan wajib"),
    "sukarela": _l("Simpanan sukarela"),
    "shu": _l("SHU belum dibayar"),
}
PAY_PURPOSES = ("pokok", "wajib", "sukarela")
DEFAULT_SUKARELA_MIN_IDR = 10_000
DEFAULT_SUKARELA_MAX_IDR = 50_000_000
MAX_WAJIB_MONTHS = 24


def _refuse(message: str, field: str | None = None, code: str = "invalid") -> DomainError:
    return DomainError(message, code=code, field=field)


# --------------------------------------------------------------------------- balances


def member_balances(member: Member) -> dict[str, int]:
    """``{'pokok', 'wajib', 'sukarela', 'shu'}`` natural balances (0 before admission, except
    pokok paid as an applicant)."""
    from members.register.admission import pokok_paid_idr
    from members.savings.queries import savings_balances

    result = savings_balances(member)
    if not member.member_no:
        result["pokok"] = pokok_paid_idr(member)
    return {kind: int(result.get(kind, 0)) for kind in KINDS}


def member_account_ids(member: Member, kinds=KINDS) -> dict[str, int]:
    """``{kind: account id}`` of the member's savings accounts that exist."""
    if not member.member_no:
        return {}
    codes = {member_account_code(k, member.member_no): k for k in kinds}
    rows = db.session.execute(select(Account.code, Account.id).where(Account.code.in_(codes)))
    return {codes[code]: account_id for code, account_id in rows}


# --------------------------------------------------------------------------- statement


@dataclass(frozen=True)
class StatementFilter:
    kind: str = "sukarela"
    start: dt.date | None = None
    end: dt.date | None = None
    page: int = 1


def check_filter(kind: str | None, start: dt.date | None, end: dt.date | None) -> str:
    kind = kind or "sukarela"
    if kind not in KINDS:
        raise _refuse("Jenis rekening tidak dikenal.", "kind", "bad_kind")
    if start and end and start > end:
        raise _refuse("Tanggal awal harus sebelum tanggal akhir.", "start", "bad_range")
    return kind


def savings_statement(member: Member, f: StatementFilter, per_page: int = 50):
    """The ledger statement of one of the member's accounts (running balance per line)."""
    kind = check_filter(f.kind, f.start, f.end)
    ids = member_account_ids(member, (kind,))
    return member_statement(list(ids.values()), f.start, f.end, f.page, per_page=per_page)


def statement_rows(member: Member, kind: str, start: dt.date | None, end: dt.date | None):
    """All statement lines for a download: (date, description, in, out, balance)."""
    kind = check_filter(kind, start, end)
    ids = member_account_ids(member, (kind,))
    statement = member_statement(list(ids.values()), start, end, 1, per_page=1_000_000)
    for line in statement.lines:
        yield (
            line.entry_date,
            line.description,
            line.amount_idr if line.amount_idr > 0 else "",
            -line.amount_idr if line.amount_idr < 0 else "",
            line.balance_idr,
        )


# --------------------------------------------------------------------------- chart


@dataclass(frozen=True)
class ChartMonth:
    month: str  # YYYY-MM
    label: str  # "Jan", ...
    total_idr: int  # pokok + wajib + sukarela at the month's end


_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def chart_months(member: Member, today: dt.date | None = None, months: int = 12):
    """Month-end savings (pokok + wajib + sukarela) for the last ``months`` months, the
    current month last (its balance as of today). Two indexed queries on the member's
    accounts: the sum before the window, then the window's postings."""
    today = today or business_date()
    first = add_months(today.replace(day=1), -(months - 1))
    ids = list(member_account_ids(member, ("pokok", "wajib", "sukarela")).values())
    signs: dict[int, int] = {}
    if ids:
        rows = db.session.execute(
            select(Account.id, Account.normal_sign).where(Account.id.in_(ids))
        ).all()
        signs = {account_id: sign for account_id, sign in rows}
    opening = 0
    by_month: dict[str, int] = {}
    if ids:
        for account_id, total in db.session.execute(
            select(Posting.account_id, func.sum(Posting.amount_idr))
            .where(Posting.account_id.in_(ids), Posting.entry_date < first)
            .group_by(Posting.account_id)
        ):
            opening += int(total or 0) * signs[account_id]
        for account_id, day, amount in db.session.execute(
            select(Posting.account_id, Posting.entry_date, Posting.amount_idr).where(
                Posting.account_id.in_(ids),
                Posting.entry_date >= first,
                Posting.entry_date <= today,
            )
        ):
            key = month_key(day)
            by_month[key] = by_month.get(key, 0) + int(amount) * signs[account_id]
    result = []
    running = opening
    for i in range(months):
        day = add_months(first, i)
        key = month_key(day)
        running += by_month.get(key, 0)
        result.append(ChartMonth(key, _MONTH_ABBR[day.month - 1], running))
    return result


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str
    label_x: int
    title: str


def chart_svg_geometry(points: list[ChartMonth], width: int = 320, height: int = 160) -> dict:
    """Bar positions for the SVG (integer coordinates, a 20 px band for the labels)."""
    top, band = 14, 20
    plot = height - top - band
    biggest = max((p.total_idr for p in points), default=0)
    slot = width // max(len(points), 1)
    bar_width = max(slot - 6, 4)
    bars = []
    for i, p in enumerate(points):
        h = 0 if biggest <= 0 else round(plot * max(p.total_idr, 0) / biggest)
        x = i * slot + 3
        bars.append(
            Bar(
                x,
                top + plot - h,
                bar_width,
                h,
                p.label,
                x + bar_width // 2,
                f"{p.month}: {format_rupiah(p.total_idr)}",
            )
        )
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "label_y": height - 5,
        "axis_y": top + plot,
        "max_label": format_rupiah(biggest),
    }


# --------------------------------------------------------------------------- paying online


@dataclass(frozen=True)
class PayOption:
    purpose: str
    amount_idr: int
    months: tuple[str, ...] = ()


def wajib_options(member: Member, on_date: dt.date | None = None) -> list[PayOption]:
    """One option per number of oldest open months (1..N): the amount to pay for them."""
    options = []
    total = 0
    months: list[str] = []
    for obligation in billing.open_obligations(member.id, on_date)[:MAX_WAJIB_MONTHS]:
        total += obligation.remaining_idr
        months.append(month_key(obligation.period))
        options.append(PayOption("wajib", total, tuple(months)))
    return options


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def create_savings_intent(
    member: Member,
    purpose: str,
    *,
    by_user,
    months: int | None = None,
    amount_idr: int | None = None,
    finish_url: str | None = None,
):
    """The payment intent behind a "Bayar" button. Refusals are ``DomainError`` (4xx).

    * pokok: ``amount_idr`` (default the remaining pokok; an instalment when the AD allows);
    * wajib: ``months`` = how many of the oldest open months (amount = what they still owe);
    * sukarela: ``amount_idr`` between ``KMP_SUKARELA_MIN_IDR`` and ``KMP_SUKARELA_MAX_IDR``.
    """
    from kmp.payments.services import create_payment_intent
    from members.register.admission import pokok_status
    from members.savings.deposits import savings_credit_lines

    if purpose not in PAY_PURPOSES:
        raise _refuse("Jenis pembayaran tidak dikenal.", "purpose", "bad_purpose")
    status = MemberStatus(member.status)
    meta: dict = {}
    label = member.member_no or f"pendaftar #{member.id}"
    if purpose == "pokok":
        if status not in (MemberStatus.APPLIED, MemberStatus.APPROVED, MemberStatus.ACTIVE):
            raise IllegalTransition("Simpanan pokok tidak bisa dibayar saat ini.")
        remaining = pokok_status(member).remaining_idr
        if remaining <= 0:
            raise Conflict("Simpanan pokok Anda sudah lunas.", code="pokok_paid")
        amount = remaining if amount_idr is None else amount_idr
        meta["instalment"] = amount < remaining
        description = f"Simpanan pokok {label}" + (" (cicilan)" if meta["instalment"] else "")
    elif purpose == "wajib":
        if status is not MemberStatus.ACTIVE:
            raise IllegalTransition("Simpanan wajib hanya untuk anggota aktif.")
        options = wajib_options(member)
        if not options:
            raise Conflict("Tidak ada tagihan simpanan wajib yang perlu dibayar.", code="no_bills")
        if (
            months is None
            or isinstance(months, bool)
            or not isinstance(months, int)
            or not 1 <= months <= len(options)
        ):
            raise _refuse(
                f"Pilih jumlah bulan antara 1 dan {len(options)}.", "months", "bad_months"
            )
        option = options[months - 1]
        amount = option.amount_idr
        meta["months"] = list(option.months)
        description = f"Simpanan wajib {label} {option.months[0]}" + (
            f" s.d. {option.months[-1]}" if len(option.months) > 1 else ""
        )
    else:
        if status is not MemberStatus.ACTIVE:
            raise IllegalTransition("Simpanan sukarela hanya untuk anggota aktif.")
        low = _setting("KMP_SUKARELA_MIN_IDR", DEFAULT_SUKARELA_MIN_IDR)
        high = _setting("KMP_SUKARELA_MAX_IDR", DEFAULT_SUKARELA_MAX_IDR)
        if amount_idr is None or not low <= amount_idr <= high:
            raise _refuse(
                f"Setoran sukarela antara {format_rupiah(low)} dan {format_rupiah(high)}.",
                "amount",
                "bad_amount",
            )
        amount = amount_idr
        description = f"Simpanan sukarela {label}"
    lines = savings_credit_lines(member.id, purpose, amount)
    if finish_url:
        meta["finish_url"] = finish_url
    return create_payment_intent(
        member.id, purpose, amount, lines, description, metadata=meta, by_user=by_user
    )


def intent_for_member(member: Member, intent_id: int):
    from kmp.payments.models import PaymentIntent

    intent = db.session.get(PaymentIntent, intent_id)
    if intent is None or intent.member_id != member.id or intent.purpose not in PAY_PURPOSES:
        raise NotFound("Pembayaran tidak ditemukan.")
    return intent


# --------------------------------------------------------------------------- receivers


def _address(member: Member) -> str | None:
    return member.email or member.phone


def on_savings_payment_settled(
    sender, payment=None, intent=None, member_id=None, purpose=None, amount_idr=None, **_
):  # noqa: ARG001
    """``payment_settled``: settle wajib bills (oldest first), queue the receipt message."""
    if purpose not in PAY_PURPOSES or member_id is None or intent is None:
        return
    member = db.session.get(Member, member_id)
    if member is None:
        return
    paid_on = business_date(payment.paid_at) if payment is not None and payment.paid_at else None
    paid_on = paid_on or business_date()
    applied = 0
    if purpose == SavingsPurpose.WAJIB.value:
        applied = billing.settle_obligations(
            member_id, int(amount_idr), paid_on=paid_on, source=f"payment:{intent.id}"
        )
    from kmp.notify import queue_notification

    order = payment.order_id if payment is not None else f"intent-{intent.id}"
    body = (
        f"Terima kasih, {member.display_name}. Pembayaran {intent.description} sebesar "
        f"{format_rupiah(int(amount_idr))} sudah kami terima (no. {order})."
    )
    if applied:
        body += f" Tagihan simpanan wajib terbayar: {format_rupiah(applied)}."
    queue_notification(
        kind="payment_receipt",
        address=_address(member),
        subject="Bukti pembayaran simpanan",
        body=body,
        user_id=member.user_id,
        member_id=member.id,
        dedupe_key=f"payment-receipt:{order}",
    )


def on_savings_payment_reversed(
    sender, payment=None, intent=None, member_id=None, purpose=None, amount_idr=None, **_
):  # noqa: ARG001
    if purpose not in PAY_PURPOSES or intent is None:
        return
    if purpose == SavingsPurpose.WAJIB.value:
        billing.unsettle_obligations(f"payment:{intent.id}")


# --------------------------------------------------------------------------- receipts


def void_receipt(receipt: Receipt, by_user, reason: str) -> ReceiptVoid:
    """Cancel a cash receipt by a reversal entry: a second board member (not the one who
    recorded it), with a reason. Wajib bills it paid are open again."""
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("Alasan pembatalan wajib diisi.", "reason", "reason_required")
    if len(reason) > 500:
        raise _refuse("Alasan terlalu panjang (maks. 500 karakter).", "reason", "reason_long")
    user_id = getattr(by_user, "id", by_user)
    if user_id == receipt.recorded_by_id:
        raise Forbidden(
            "Kwitansi hanya bisa dibatalkan oleh pengurus lain, bukan yang mencatatnya.",
            code="same_person",
        )
    if db.session.scalar(select(ReceiptVoid.id).where(ReceiptVoid.receipt_id == receipt.id)):
        raise Conflict("Kwitansi ini sudah dibatalkan.", code="already_void")
    entry = db.session.get(JournalEntry, receipt.entry_id)
    try:
        reversal = reverse_entry(
            entry, f"Kwitansi {receipt.number} dibatalkan: {reason}", posted_by=by_user
        )
    except LedgerError as error:
        raise Conflict(
            f"Kwitansi tidak bisa dibatalkan: {error.message}", code="void_failed"
        ) from error
    if receipt.purpose is SavingsPurpose.WAJIB:
        billing.unsettle_obligations(f"receipt:{receipt.number}")
    void = ReceiptVoid(
        receipt_id=receipt.id,
        reason=reason,
        reversal_entry_id=reversal.id,
        voided_by_id=user_id,
    )
    db.session.add(void)
    db.session.flush()
    return void
