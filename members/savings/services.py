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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from kmp.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import member_account_code
from kmp.ledger.models import Account, JournalEntry, Posting
from kmp.ledger.queries import member_statement
from kmp.ledger.services import LedgerError, reverse_entry
from kmp.money import format_rupiah
from kmp.timeutil import add_months, business_date, month_key
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings import billing
from members.savings.models import ObligationPayment, Receipt, ReceiptVoid

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


@dataclass(frozen=True)
class MemberAccount:
    id: int
    code: str
    balance_idr: int  # natural (the account's normal side positive)
    normal_sign: int


def member_accounts(member: Member) -> dict[str, MemberAccount]:
    """The member's own ledger accounts by code, in one indexed query: a page reads them once
    and passes them to ``member_balances`` and ``chart_months``."""
    rows = db.session.execute(
        select(Account.id, Account.code, Account.balance_idr, Account.normal_sign).where(
            Account.owner_id == member.id
        )
    )
    return {code: MemberAccount(i, code, b * sign, sign) for i, code, b, sign in rows}


def member_balances(
    member: Member, accounts: dict[str, MemberAccount] | None = None
) -> dict[str, int]:
    """``{'pokok', 'wajib', 'sukarela', 'shu'}`` natural balances (0 before admission, except
    pokok paid as an applicant); ``accounts``: ``member_accounts`` when already read."""
    from members.register.admission import pokok_paid_idr
    from members.savings.queries import savings_balances

    by_code = None if accounts is None else {c: a.balance_idr for c, a in accounts.items()}
    result = savings_balances(member, by_code)
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
        raise _refuse(gettext("Jenis rekening tidak dikenal."), "kind", "bad_kind")
    if start and end and start > end:
        raise _refuse(gettext("Tanggal awal harus sebelum tanggal akhir."), "start", "bad_range")
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


def chart_months(
    member: Member,
    today: dt.date | None = None,
    months: int = 12,
    accounts: dict[str, MemberAccount] | None = None,
):
    """Month-end savings (pokok + wajib + sukarela) for the last ``months`` months, the
    current month last (its balance as of today). The accounts' balances (``accounts``:
    ``member_accounts`` when already read) less the postings from the window's first day
    on give the opening; one indexed query reads those postings."""
    today = today or business_date()
    first = add_months(today.replace(day=1), -(months - 1))
    if accounts is None:
        accounts = member_accounts(member)
    mine = []
    if member.member_no:
        codes = {member_account_code(k, member.member_no) for k in ("pokok", "wajib", "sukarela")}
        mine = [a for code, a in accounts.items() if code in codes]
    signs = {a.id: a.normal_sign for a in mine}
    opening = sum(a.balance_idr for a in mine)
    by_month: dict[str, int] = {}
    if signs:
        for account_id, day, amount in db.session.execute(
            select(Posting.account_id, Posting.entry_date, Posting.amount_idr).where(
                Posting.account_id.in_(list(signs)), Posting.entry_date >= first
            )
        ):
            natural = int(amount) * signs[account_id]
            opening -= natural
            if day <= today:
                key = month_key(day)
                by_month[key] = by_month.get(key, 0) + natural
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
    #: ``((obligation id, amount), ...)``: the bills this option pays (none for months ahead).
    targets: tuple[tuple[int, int], ...] = ()
    ahead: int = 0  # months paid ahead of billing (kept as advance credit)


def wajib_options(
    member: Member,
    on_date: dt.date | None = None,
    *,
    bills: list | None = None,
    credit: int | None = None,
    last_billed: dt.date | None = None,
) -> list[PayOption]:
    """One option per number of months (1..MAX_WAJIB_MONTHS): the oldest open bills first,
    then months not billed yet (paid ahead: advance credit that the next bills take).
    ``bills`` (``billing.open_obligations``), ``credit`` (``credit_balance``) and
    ``last_billed`` (``billing.last_billed_period``): when the page already read them."""
    from members.ad.services import current_ad
    from members.savings.allocator import credit_balance

    on_date = on_date or business_date()
    if bills is None:
        bills = billing.open_obligations(member.id, on_date)
    options = []
    total = 0
    months: list[str] = []
    targets: list[tuple[int, int]] = []
    for obligation in bills[:MAX_WAJIB_MONTHS]:
        total += obligation.remaining_idr
        months.append(month_key(obligation.period))
        targets.append((obligation.id, obligation.remaining_idr))
        options.append(PayOption("wajib", total, tuple(months), tuple(targets)))
    group = current_ad().get_group(member.group_code)
    if (
        group is None
        or group.wajib_idr <= 0
        or MemberStatus(member.status) is not (MemberStatus.ACTIVE)
    ):
        return options
    if last_billed is None:
        last_billed = billing.last_billed_period(member.id)
    last = last_billed or add_months(on_date.replace(day=1), -1)
    if credit is None:
        credit = credit_balance(member.id)
    ahead = 0
    month = add_months(last, 1)
    while len(options) < MAX_WAJIB_MONTHS:
        ahead += 1
        needed = group.wajib_idr * ahead - credit
        if needed > 0:
            months.append(month_key(month))
            options.append(
                PayOption("wajib", total + needed, tuple(months), tuple(targets), ahead=ahead)
            )
        month = add_months(month, 1)
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
    gateway=None,
):
    """The payment intent behind a "Bayar" button (an identical open one is returned; a
    different open one of the same purpose is cancelled at ``gateway`` first). Refusals are
    ``DomainError`` (4xx).

    * pokok: ``amount_idr`` (default the remaining pokok; an instalment when the AD allows);
    * wajib: ``months`` = how many of the oldest open months (amount = what they still owe);
    * sukarela: ``amount_idr`` between ``KMP_SUKARELA_MIN_IDR`` and ``KMP_SUKARELA_MAX_IDR``.
    """
    from kmp.payments.services import create_payment_intent
    from members.register.admission import pokok_status
    from members.savings.deposits import savings_credit_lines

    if purpose not in PAY_PURPOSES:
        raise _refuse(gettext("Jenis pembayaran tidak dikenal."), "purpose", "bad_purpose")
    status = MemberStatus(member.status)
    meta: dict = {}
    label = member.member_no or f"pendaftar #{member.id}"
    if purpose == "pokok":
        if status not in (MemberStatus.APPLIED, MemberStatus.APPROVED, MemberStatus.ACTIVE):
            raise IllegalTransition(gettext("Simpanan pokok tidak bisa dibayar saat ini."))
        remaining = pokok_status(member).remaining_idr
        if remaining <= 0:
            raise Conflict(gettext("Simpanan pokok Anda sudah lunas."), code="pokok_paid")
        amount = remaining if amount_idr is None else amount_idr
        meta["instalment"] = amount < remaining
        description = f"Simpanan pokok {label}" + (" (cicilan)" if meta["instalment"] else "")
    elif purpose == "wajib":
        if status is not MemberStatus.ACTIVE:
            raise IllegalTransition(gettext("Simpanan wajib hanya untuk anggota aktif."))
        options = wajib_options(member)
        if not options:
            raise Conflict(
                _("Tidak ada tagihan simpanan wajib yang perlu dibayar."), code="no_bills"
            )
        if (
            months is None
            or isinstance(months, bool)
            or not isinstance(months, int)
            or not 1 <= months <= len(options)
        ):
            raise _refuse(
                gettext("Pilih jumlah bulan antara 1 dan %(options)s.", options=len(options)),
                "months",
                "bad_months",
            )
        option = options[months - 1]
        amount = option.amount_idr
        meta["months"] = list(option.months)
        meta["targets"] = [list(t) for t in option.targets]
        meta["ahead"] = option.ahead
        description = f"Simpanan wajib {label} {option.months[0]}" + (
            f" s.d. {option.months[-1]}" if len(option.months) > 1 else ""
        )
    else:
        if status is not MemberStatus.ACTIVE:
            raise IllegalTransition(gettext("Simpanan sukarela hanya untuk anggota aktif."))
        low = _setting("KMP_SUKARELA_MIN_IDR", DEFAULT_SUKARELA_MIN_IDR)
        high = _setting("KMP_SUKARELA_MAX_IDR", DEFAULT_SUKARELA_MAX_IDR)
        if amount_idr is None or not low <= amount_idr <= high:
            raise _refuse(
                gettext(
                    "Setoran sukarela antara %(low)s dan %(high)s.",
                    low=format_rupiah(low),
                    high=format_rupiah(high),
                ),
                "amount",
                "bad_amount",
            )
        amount = amount_idr
        description = f"Simpanan sukarela {label}"
    lines = savings_credit_lines(member.id, purpose, amount)
    meta["allocate"] = True  # the allocator decides the lines when the money arrives
    if finish_url:
        meta["finish_url"] = finish_url
    reused = reuse_or_cancel_open(member, purpose, amount, meta.get("targets"), gateway)
    if reused is not None:
        return reused
    return create_payment_intent(
        member.id, purpose, amount, lines, description, metadata=meta, by_user=by_user
    )


def open_checkouts(member: Member, purposes: tuple[str, ...] = PAY_PURPOSES) -> list:
    """The member's checkouts of ``purposes`` still waiting for the money ("menunggu
    pembayaran")."""
    from kmp.payments.models import IntentStatus, PaymentIntent

    return list(
        db.session.scalars(
            select(PaymentIntent)
            .where(
                PaymentIntent.member_id == member.id,
                PaymentIntent.status == IntentStatus.OPEN,
                PaymentIntent.purpose.in_(purposes),
            )
            .order_by(PaymentIntent.id)
        )
    )


def reuse_or_cancel_open(member: Member, purpose: str, amount: int, targets, gateway):
    """One open checkout per purpose: the same one again is returned (the member pressed
    "Bayar" twice); a different one replaces it, the old page cancelled at the gateway first
    so it cannot be paid as well. (Also used by ``members.protection`` for the monthly bill.)"""
    from kmp.payments.services import cancel_checkout

    for intent in open_checkouts(member, (purpose,)):
        same_targets = ((intent.meta or {}).get("targets") or None) == (targets or None)
        if intent.amount_idr == amount and same_targets:
            return intent
        if gateway is not None:
            cancel_checkout(intent, gateway, _("Diganti pembayaran baru oleh anggota."))
        else:
            from kmp.payments.services import close_payment_intent

            close_payment_intent(intent, _("Diganti pembayaran baru oleh anggota."))
    return None


def intent_for_member(member: Member, intent_id: int):
    from kmp.payments.models import PaymentIntent

    intent = db.session.get(PaymentIntent, intent_id)
    if intent is None or intent.member_id != member.id or intent.purpose not in PAY_PURPOSES:
        raise NotFound(gettext("Pembayaran tidak ditemukan."))
    return intent


# --------------------------------------------------------------------------- receivers


def _address(member: Member) -> str | None:
    return member.email or member.phone


def allocate_payment(
    sender, intent=None, attempt=None, amount_idr=None, paid_on=None, **extra
) -> tuple[list[tuple[str, int]], list[str]]:
    """``payment_allocation_requested``: where the money of a settling gateway payment goes.
    Members' purposes go through the allocator (the checkout's targets first); any other
    purpose keeps the lines the intent was created with."""
    from members.savings.allocator import allocate, remittance_purposes

    meta = (intent.meta or {}) if intent is not None else {}
    if intent is None or intent.purpose not in remittance_purposes() or not meta.get("allocate"):
        return list(intent.credit_pairs), []
    allocation = allocate(
        intent.member_id,
        int(amount_idr),
        purpose=intent.purpose,
        source=f"payment:{attempt.order_id}",
        paid_on=paid_on,
        targets=meta.get("targets") or (),
    )
    # the receipt message says what was applied (``on_savings_payment_settled``, in this
    # transaction): kept so that it is not summed again from the rows just written
    db.session.info.setdefault(_APPLIED_KEY, {})[allocation.source] = allocation.applied_idr
    return allocation.lines, allocation.notes


_APPLIED_KEY = "kmp_applied_by_source"


def _forget_applied(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_APPLIED_KEY, None)


event.listen(Session, "after_transaction_end", _forget_applied)


def on_savings_payment_settled(
    sender, payment=None, intent=None, member_id=None, purpose=None, amount_idr=None, **extra
):  # noqa: ARG001
    """``payment_settled``: the allocator has applied the money; queue the receipt message."""
    if purpose not in PAY_PURPOSES or member_id is None or intent is None:
        return
    member = db.session.get(Member, member_id)
    if member is None:
        return
    from kmp.notify import queue_notification, recipient_locale
    from kmp.notify.services import user_locale

    order = payment.order_id if payment is not None else f"intent-{intent.id}"
    applied = db.session.info.get(_APPLIED_KEY, {}).pop(f"payment:{order}", None)
    if applied is None:
        applied = int(
            db.session.scalar(
                select(func.coalesce(func.sum(ObligationPayment.amount_idr), 0)).where(
                    ObligationPayment.source == f"payment:{order}"
                )
            )
            or 0
        )
    with recipient_locale(user_locale(member.user_id)):  # the locale only, not the login
        body = _(
            "Terima kasih, %(name)s. Pembayaran %(what)s sebesar %(amount)s sudah kami terima "
            "(no. %(order)s).",
            name=member.display_name,
            what=intent.description,
            amount=format_rupiah(int(amount_idr)),
            order=order,
        )
        if applied:
            body += " " + _("Tagihan terbayar: %(amount)s.", amount=format_rupiah(applied))
        queue_notification(
            kind="payment_receipt",
            address=_address(member),
            subject=_("Bukti pembayaran simpanan"),
            body=body,
            user_id=member.user_id,
            member_id=member.id,
            dedupe_key=f"payment-receipt:{order}",
        )


def on_savings_payment_reversed(sender, payment=None, **extra):  # noqa: ARG001
    """``payment_reversed``: what the reversed payment paid is open again."""
    from members.savings.allocator import unallocate

    if payment is not None:
        unallocate(f"payment:{payment.order_id}")


# --------------------------------------------------------------------------- receipts


def void_receipt(receipt: Receipt, by_user, reason: str) -> ReceiptVoid:
    """Cancel a cash receipt by a reversal entry: a second board member (not the one who
    recorded it), with a reason. Wajib bills it paid are open again."""
    reason = (reason or "").strip()
    if not reason:
        raise _refuse(gettext("Alasan pembatalan wajib diisi."), "reason", "reason_required")
    if len(reason) > 500:
        raise _refuse(
            gettext("Alasan terlalu panjang (maks. 500 karakter)."), "reason", "reason_long"
        )
    user_id = getattr(by_user, "id", by_user)
    if user_id == receipt.recorded_by_id:
        raise Forbidden(
            gettext("Kwitansi hanya bisa dibatalkan oleh pengurus lain, bukan yang mencatatnya."),
            code="same_person",
        )
    if db.session.scalar(select(ReceiptVoid.id).where(ReceiptVoid.receipt_id == receipt.id)):
        raise Conflict(gettext("Kwitansi ini sudah dibatalkan."), code="already_void")
    entry = db.session.get(JournalEntry, receipt.entry_id)
    try:
        reversal = reverse_entry(
            entry, f"Kwitansi {receipt.number} dibatalkan: {reason}", posted_by=by_user
        )
    except LedgerError as error:
        raise Conflict(
            gettext("Kwitansi tidak bisa dibatalkan: %(why)s", why=error.message),
            code="void_failed",
        ) from error
    from members.savings.allocator import unallocate

    unallocate(f"receipt:{receipt.number}")
    void = ReceiptVoid(
        receipt_id=receipt.id,
        reason=reason,
        reversal_entry_id=reversal.id,
        voided_by_id=user_id,
    )
    db.session.add(void)
    db.session.flush()
    return void


def checkout_for_member(intent, gateway, member):
    """The checkout page a member is sent to for ``intent``: the live one when the member taps
    again, else a new attempt with the member as the gateway's customer (one way for every
    member payment: savings, BPJS contributions, loan instalments)."""
    from kmp.payments.services import Customer, live_attempt, start_checkout

    return live_attempt(intent) or start_checkout(
        intent,
        gateway,
        Customer(first_name=member.display_name[:50], email=member.email, phone=member.phone),
    )
