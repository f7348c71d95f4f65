"""Payment use cases: intents, checkout, applying gateway statuses, the inbox, reconciliation.

Services flush and never commit; the boundary (view, webhook, CLI, job) commits. Money moves
only through the ledger: one receipt entry per paid attempt (idempotency key
``midtrans:<order_id>:receipt``) and, when Midtrans takes the money back, its
``reverse_entry`` mirror (key ``reversal:<receipt id>``).

Signals (sent inside the transaction, so receivers update their own rows atomically;
``sender`` is the intent's ``purpose`` string, e.g. ``payment_settled.connect(fn,
sender="wajib")``):

* ``payment_settled(purpose, payment=attempt, intent=intent, member_id=..., purpose=...,
  amount_idr=...)`` once when an OPEN intent becomes PAID;
* ``payment_reversed(purpose, payment=attempt, intent=intent, member_id=..., purpose=...,
  amount_idr=...)`` when that settling payment is reversed (the intent is OPEN again).

A second payment for an intent that is already paid or closed is booked to the intent's
credit lines (the money is real) and flagged for the treasurer; no signal is sent for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite

from kmp import signals
from kmp.errors import Conflict, DomainError, IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import GATEWAY_CLEARING
from kmp.ledger.models import Account, JournalEntry
from kmp.ledger.services import EntrySpec, is_period_closed, post_entry_id, reverse_entry
from kmp.money import format_rupiah
from kmp.payments.gateway import (
    OPEN_STATES,
    CheckoutRequest,
    GatewayError,
    PaymentGateway,
    PaymentState,
    StatusResult,
    is_late_settlement,
    new_order_id,
    next_state,
)
from kmp.payments.models import (
    GatewayInbox,
    IntentStatus,
    PaymentAttempt,
    PaymentIntent,
)
from kmp.timeutil import JAKARTA, business_date, now_utc

log = logging.getLogger("kmp.payments")

__all__ = [
    "ApplyResult",
    "CheckoutUnavailable",
    "Customer",
    "PaymentError",
    "ReconcileReport",
    "apply_gateway_status",
    "close_payment_intent",
    "create_payment_intent",
    "find_attempt",
    "process_gateway_notification",
    "record_gateway_notification",
    "reconcile_payments",
    "review_flagged_attempt",
    "review_inbox_message",
    "start_checkout",
]

PURPOSE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}\Z")
MONEY_IN_STATES = frozenset({PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED})
PAID_RECHECK_WINDOW = dt.timedelta(days=7)


class PaymentError(DomainError):
    code = "payment_error"


class CheckoutUnavailable(PaymentError):
    """The gateway did not give a checkout page.

    ``keep_attempt`` is True when the attempt was recorded as TOKEN_UNKNOWN (Midtrans may
    have created the transaction): the caller should still commit, so reconciliation checks it.
    """

    status = 503
    code = "gateway_unavailable"

    def __init__(
        self,
        message: str,
        *,
        attempt: PaymentAttempt | None = None,
        keep_attempt: bool = False,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.attempt = attempt
        self.keep_attempt = keep_attempt


@dataclass(frozen=True)
class Customer:
    """What Snap may show on its page (all optional)."""

    first_name: str | None = None
    email: str | None = None
    phone: str | None = None


# --------------------------------------------------------------------------- helpers


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _locked(model: type, row_id: int):
    """Re-read a row, locked on PostgreSQL (SQLite serialises writers anyway).

    ``FOR NO KEY UPDATE``: as exclusive as ``FOR UPDATE`` between writers, but it does not
    wait for the ``FOR KEY SHARE`` locks that inserting rows with a foreign key to this row
    take (inbox rows, journal postings), which would otherwise deadlock with them.
    """
    query = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if _is_pg():
        query = query.with_for_update(key_share=True)
    return db.session.execute(query).scalar_one()


def _lock_all(model: type, ids: set[int]) -> None:
    """Lock many rows in id order (PostgreSQL; a no-op elsewhere)."""
    if not ids or not _is_pg():
        return
    ordered = sorted(ids)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        db.session.execute(
            select(model.id)
            .where(model.id.in_(chunk))
            .order_by(model.id)
            .with_for_update(key_share=True)
        ).all()


def _setting(name: str, default: Any) -> Any:
    try:
        return current_app.config.get(name, default)
    except RuntimeError:  # no app context: pure defaults
        return default


def _flag(attempt: PaymentAttempt, reason: str) -> None:
    """Add ``reason`` to the attempt's review flags (a new reason re-opens the review)."""
    reasons = [r for r in (attempt.flag_reason or "").split("\n") if r]
    if reason in reasons and attempt.flagged_for_review:
        return
    if reason not in reasons:
        reasons.append(reason)
    attempt.flag_reason = "\n".join(reasons)
    attempt.flagged_for_review = True
    attempt.reviewed_at = None
    attempt.reviewed_by_id = None
    log.warning("payment %s flagged for review: %s", attempt.order_id, reason)


def _text(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _parse_gateway_time(value: object) -> dt.datetime | None:
    """Midtrans times are Jakarta wall times ``YYYY-MM-DD HH:MM:SS``; returns aware UTC."""
    if not isinstance(value, str):
        return None
    try:
        naive = dt.datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    return naive.replace(tzinfo=JAKARTA).astimezone(dt.UTC)


def _purpose_code(purpose: str) -> str:
    code = re.sub(r"[^A-Za-z0-9]", "", purpose).upper()[:10]
    return code or "PAY"


# --------------------------------------------------------------------------- intents


def _normalise_credit_lines(credit_lines: object, amount_idr: int) -> list[list]:
    if not isinstance(credit_lines, Sequence) or isinstance(credit_lines, str | bytes):
        raise PaymentError(
            gettext("Rincian pembukuan pembayaran tidak valid."), code="bad_credit_lines"
        )
    lines: list[list] = []
    for line in credit_lines:
        if (
            not isinstance(line, Sequence)
            or isinstance(line, str | bytes)
            or len(line) != 2
            or not isinstance(line[0], str)
            or not line[0].strip()
            or isinstance(line[1], bool)
            or not isinstance(line[1], int)
            or line[1] <= 0
        ):
            raise PaymentError(
                gettext("Setiap baris pembukuan harus berupa [kode akun, jumlah Rupiah positif]."),
                code="bad_credit_lines",
            )
        lines.append([line[0].strip(), line[1]])
    if not lines:
        raise PaymentError(
            gettext("Pembayaran harus dibukukan ke minimal satu akun."), code="bad_credit_lines"
        )
    total = sum(amount for _, amount in lines)
    if total != amount_idr:
        raise PaymentError(
            gettext(
                "Jumlah rincian pembukuan (%(total)s) tidak sama dengan jumlah tagihan "
                "(%(amount_idr)s).",
                total=format_rupiah(total),
                amount_idr=format_rupiah(amount_idr),
            ),
            code="credit_lines_mismatch",
        )
    codes = {code for code, _ in lines}
    if GATEWAY_CLEARING in codes:
        raise PaymentError(
            gettext("Akun kliring payment gateway tidak boleh menjadi tujuan pembayaran."),
            code="bad_credit_lines",
        )
    found = {
        code: is_closed
        for code, is_closed in db.session.execute(
            select(Account.code, Account.is_closed).where(Account.code.in_(codes))
        )
    }
    missing = sorted(codes - found.keys())
    if missing:
        raise PaymentError(
            gettext("Akun tujuan pembayaran tidak ada: %(missing)s.", missing=", ".join(missing)),
            code="account_not_found",
        )
    closed = sorted(code for code, is_closed in found.items() if is_closed)
    if closed:
        raise PaymentError(
            gettext("Akun tujuan pembayaran sudah ditutup: %(closed)s.", closed=", ".join(closed)),
            code="account_closed",
        )
    return lines


def create_payment_intent(
    member_id: int,
    purpose: str,
    amount_idr: int,
    credit_lines: Sequence[Sequence[Any]],
    description: str,
    metadata: Mapping[str, Any] | None = None,
    by_user=None,
) -> PaymentIntent:
    """Record what a member is to pay and where the money is booked once it arrives.

    ``credit_lines``: ``[(account_code, amount_idr), ...]``, positive, summing to
    ``amount_idr`` (e.g. ``[("equity:savings:mandatory:A-0001", 100000)]``). ``metadata`` is
    kept as JSON for the caller (``months``, ``finish_url`` for the page the member returns
    to after paying, ...).
    """
    if isinstance(member_id, bool) or not isinstance(member_id, int) or member_id <= 0:
        raise PaymentError(gettext("Anggota tidak valid."), code="bad_member")
    if not isinstance(purpose, str) or not PURPOSE_RE.fullmatch(purpose):
        raise PaymentError(
            gettext("Jenis pembayaran tidak valid."), code="bad_purpose", field="purpose"
        )
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise PaymentError(
            gettext("Jumlah pembayaran harus lebih dari nol Rupiah."),
            code="bad_amount",
            field="amount",
        )
    description = (description or "").strip()
    if not description or len(description) > 200:
        raise PaymentError(
            gettext("Keterangan pembayaran wajib diisi (maksimal 200 karakter)."),
            code="bad_description",
        )
    lines = _normalise_credit_lines(credit_lines, amount_idr)
    meta = dict(metadata or {})
    try:
        meta = json.loads(json.dumps(meta))
    except (TypeError, ValueError) as error:
        raise PaymentError(
            gettext("Data tambahan pembayaran tidak valid."), code="bad_metadata"
        ) from error
    intent = PaymentIntent(
        member_id=member_id,
        purpose=purpose,
        description=description,
        amount_idr=amount_idr,
        credit_lines=lines,
        meta=meta,
        status=IntentStatus.OPEN,
        created_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(intent)
    db.session.flush()
    return intent


def close_payment_intent(intent: PaymentIntent, reason: str, by_user=None) -> PaymentIntent:  # noqa: ARG001
    """Withdraw an OPEN intent (e.g. paid in cash instead). Money arriving later for one of
    its attempts is still booked, and flagged for the treasurer."""
    intent = _locked(PaymentIntent, intent.id)
    if intent.status != IntentStatus.OPEN:
        raise IllegalTransition(gettext("Hanya tagihan yang masih terbuka yang dapat ditutup."))
    if not reason or not reason.strip():
        raise PaymentError(gettext("Alasan penutupan wajib diisi."), code="reason_required")
    intent.status = IntentStatus.CLOSED
    intent.closed_at = now_utc()
    intent.close_reason = reason.strip()
    db.session.flush()
    return intent


#: Attempts whose checkout page may still be paid.
LIVE_STATES = (
    PaymentState.CREATED,
    PaymentState.TOKEN_ISSUED,
    PaymentState.TOKEN_UNKNOWN,
    PaymentState.PENDING,
    PaymentState.CHALLENGE,
)


def live_attempt(intent: PaymentIntent) -> PaymentAttempt | None:
    """The newest attempt of an OPEN intent whose checkout page can still be paid."""
    if intent.status != IntentStatus.OPEN:
        return None
    for attempt in reversed(intent.attempts):
        if attempt.state in (PaymentState.TOKEN_ISSUED, PaymentState.PENDING) and (
            attempt.redirect_url
        ):
            return attempt
    return None


def cancel_checkout(intent: PaymentIntent, gateway: PaymentGateway, reason: str) -> None:
    """Withdraw an OPEN intent and ask the gateway to cancel its live attempts first, so the
    member cannot pay an old page. A gateway that does not answer does not stop this: money
    that still arrives for a cancelled attempt is booked by the allocator and flagged."""
    for attempt in intent.attempts:
        if attempt.state not in LIVE_STATES:
            continue
        try:
            status = gateway.cancel(attempt.order_id)
        except GatewayError as error:
            log.warning("cancel of %s failed: %s", attempt.order_id, error)
            continue
        if status is not None:
            apply_gateway_status(attempt, status)
    db.session.refresh(intent)
    if intent.status == IntentStatus.OPEN:
        close_payment_intent(intent, reason)


# --------------------------------------------------------------------------- checkout


def _absolute(url: str | None) -> str | None:
    if not url:
        return None
    if url.startswith("/"):
        base = str(_setting("KMP_PUBLIC_URL", "") or "").rstrip("/")
        return f"{base}{url}" if base else None
    return url if url.startswith(("https://", "http://")) else None


def start_checkout(
    intent: PaymentIntent,
    gateway: PaymentGateway,
    customer: Customer | Mapping[str, str] | None = None,
) -> PaymentAttempt:
    """Open a new attempt (fresh order id) and ask the gateway for a checkout page.

    Returns the attempt in TOKEN_ISSUED with ``redirect_url`` (send the member there).
    Raises ``CheckoutUnavailable``: with ``keep_attempt=True`` after a timeout or an
    unreadable answer (the attempt is TOKEN_UNKNOWN; commit it so reconciliation checks it),
    otherwise after a refusal (nothing is left behind).
    """
    intent = _locked(PaymentIntent, intent.id)
    if intent.status == IntentStatus.PAID:
        raise Conflict(gettext("Tagihan ini sudah lunas."), code="intent_paid")
    if intent.status != IntentStatus.OPEN:
        raise Conflict(gettext("Tagihan ini sudah ditutup."), code="intent_closed")
    if isinstance(customer, Mapping):
        customer = Customer(
            first_name=customer.get("first_name"),
            email=customer.get("email"),
            phone=customer.get("phone"),
        )
    customer = customer or Customer()
    attempt = PaymentAttempt(
        intent_id=intent.id,
        order_id=new_order_id(_purpose_code(intent.purpose), intent.id, business_date()),
        amount_idr=intent.amount_idr,
        state=PaymentState.CREATED,
    )
    db.session.add(attempt)
    db.session.flush()
    request = CheckoutRequest(
        order_id=attempt.order_id,
        amount_idr=attempt.amount_idr,
        item_name=intent.description[:50],
        customer_first_name=customer.first_name,
        customer_email=customer.email,
        customer_phone=customer.phone,
        finish_url=_absolute(intent.meta.get("finish_url") if intent.meta else None),
        item_id=intent.purpose,
    )
    try:
        session = gateway.create_checkout(request)
    except GatewayError as error:
        if error.kind == "rejected":
            log.error("checkout %s refused by the gateway: %s", attempt.order_id, error)
            db.session.delete(attempt)
            db.session.flush()
            db.session.expire(intent, ["attempts"])
            raise CheckoutUnavailable(
                gettext(
                    "Layanan pembayaran menolak permintaan ini. Silakan coba lagi nanti atau "
                    "hubungi bendahara koperasi."
                ),
                code="gateway_rejected",
                status=502,
            ) from error
        log.warning("checkout %s outcome unknown: %s", attempt.order_id, error)
        attempt.state = PaymentState.TOKEN_UNKNOWN
        db.session.flush()
        raise CheckoutUnavailable(
            gettext(
                "Layanan pembayaran sedang tidak dapat dihubungi. Silakan coba lagi beberapa "
                "menit lagi."
            ),
            attempt=attempt,
            keep_attempt=True,
        ) from error
    attempt.snap_token = session.token
    attempt.redirect_url = session.redirect_url
    attempt.state = PaymentState.TOKEN_ISSUED
    db.session.flush()
    return attempt


# --------------------------------------------------------------------------- applying a status


@dataclass(frozen=True)
class ApplyResult:
    """``action``: applied | ignored | not_found | unknown_status | mismatch | receipt_failed."""

    action: str
    state: PaymentState
    previous: PaymentState
    flagged: str | None = None

    @property
    def outcome(self) -> str:
        if self.action == "applied":
            return f"applied:{self.state.value}"
        return self.action


def _amount_problem(
    attempt: PaymentAttempt, status: StatusResult, incoming: PaymentState
) -> str | None:
    currency = (status.currency or "IDR").strip().upper()
    if currency != "IDR":
        return f"Mata uang {status.currency!r} dari Midtrans, seharusnya IDR."
    if status.amount_idr is None:
        if status.gross_amount_text is not None or "gross_amount" in status.raw:
            return f"Jumlah dari Midtrans tidak terbaca: {status.raw.get('gross_amount')!r}."
        if incoming in MONEY_IN_STATES:
            return "Status lunas dari Midtrans tanpa jumlah pembayaran."
        return None
    if status.amount_idr != attempt.amount_idr:
        return (
            f"Jumlah dari Midtrans {format_rupiah(status.amount_idr)} berbeda dengan tagihan "
            f"{format_rupiah(attempt.amount_idr)}."
        )
    return None


def _receipt_date(status: StatusResult) -> tuple[dt.date | None, dt.datetime | None]:
    settled = _parse_gateway_time(status.raw.get("settlement_time"))
    if settled is None:
        return None, None
    return business_date(settled), settled


def _post_receipt(attempt: PaymentAttempt, intent: PaymentIntent, status: StatusResult) -> int:
    """Post the receipt entry; its id (the entry is not read back)."""
    entry_date, _ = _receipt_date(status)
    if entry_date is not None and is_period_closed(entry_date):
        _flag(
            attempt,
            f"Pelunasan bertanggal {entry_date.isoformat()} jatuh di periode buku yang sudah "
            "ditutup; dibukukan pada tanggal hari ini.",
        )
        entry_date = None
    # Where the money goes is decided now, not when the checkout opened: the feature that
    # owns the purpose applies it to what the member owes at this moment (a bill paid in
    # cash meanwhile is not paid twice).
    credit_pairs, notes = signals.ask(
        signals.payment_allocation_requested,
        intent.purpose,
        intent=intent,
        attempt=attempt,
        amount_idr=attempt.amount_idr,
        paid_on=entry_date or business_date(),
    )
    for note in notes:
        _flag(attempt, note)
    lines: list[tuple[str, int]] = [(GATEWAY_CLEARING, attempt.amount_idr)]
    lines += [(code, -amount) for code, amount in credit_pairs]
    return post_entry_id(
        EntrySpec(
            idempotency_key=f"midtrans:{attempt.order_id}:receipt",
            description=f"Pembayaran {intent.description} via Midtrans ({attempt.order_id})",
            lines=lines,
            source_kind="payment",
            source_id=attempt.order_id,
            entry_date=entry_date,
        )
    )


def _send(signal, attempt: PaymentAttempt, intent: PaymentIntent, **extra) -> None:
    signal.send(
        intent.purpose,
        payment=attempt,
        intent=intent,
        member_id=intent.member_id,
        purpose=intent.purpose,
        amount_idr=attempt.amount_idr,
        **extra,
    )


_CLOSED_LABELS = {
    PaymentState.EXPIRED: "kedaluwarsa",
    PaymentState.CANCELLED: "dibatalkan",
    PaymentState.DENIED: "ditolak",
    PaymentState.FAILED: "gagal",
}


def _mark_paid(attempt: PaymentAttempt, intent: PaymentIntent, old: PaymentState) -> bool:
    """The attempt and intent changes of a payment (written with the attempt's new state in
    one flush); True when it counts for the intent (``payment_settled`` is sent after)."""
    if is_late_settlement(old, PaymentState.PAID):
        _flag(
            attempt,
            f"Uang masuk setelah transaksi dinyatakan {_CLOSED_LABELS.get(old, old.value)} "
            f"({old.value}): pembayaran tetap dibukukan; periksa dengan anggota.",
        )
    if intent.status == IntentStatus.OPEN:
        intent.status = IntentStatus.PAID
        intent.paid_at = attempt.paid_at
        attempt.is_counted = True
        return True
    what = "sudah lunas" if intent.status == IntentStatus.PAID else "sudah ditutup"
    _flag(
        attempt,
        f"Pembayaran ganda: tagihan #{intent.id} {what}. Uang sudah dibukukan; kembalikan "
        "atau pindahkan sesuai keputusan bendahara.",
    )
    return False


def _on_reversed(attempt: PaymentAttempt, intent: PaymentIntent, status: StatusResult) -> None:
    what = status.transaction_status or "reversal"
    if attempt.receipt_entry_id is None:
        _flag(attempt, f"Midtrans melaporkan {what} untuk transaksi yang belum tercatat lunas.")
        return
    _flag(attempt, f"Pembayaran dibatalkan Midtrans ({what}) setelah lunas: dana tidak masuk.")
    if attempt.reversal_entry_id is None:
        receipt = db.session.get(JournalEntry, attempt.receipt_entry_id)
        try:
            reversal = reverse_entry(receipt, f"Midtrans {what} setelah lunas ({attempt.order_id})")
        except DomainError as error:
            _flag(
                attempt,
                f"Pembalikan otomatis gagal ({error.message}): bukukan pembalikan secara manual.",
            )
        else:
            attempt.reversal_entry_id = reversal.id
    if attempt.is_counted and intent.status == IntentStatus.PAID:
        intent.status = IntentStatus.OPEN
        intent.paid_at = None
        db.session.flush()
    if attempt.reversal_entry_id is not None:
        _send(signals.payment_reversed, attempt, intent, counted=attempt.is_counted)


def apply_gateway_status(attempt: PaymentAttempt, status: StatusResult) -> ApplyResult:
    """Apply a status *read from the gateway* to ``attempt`` (row locked), at most once.

    Only a higher-ranked state is applied (``next_state``). On PAID: one ledger entry
    (debit gateway clearing, credit the intent's lines, dated by the Jakarta business date of
    ``settlement_time``) and ``payment_settled``. A settlement after an expiry is still paid
    and is flagged. deny/cancel/failure after PAID: ``reverse_entry`` and
    ``payment_reversed``. A wrong amount or currency applies nothing and is flagged.
    """
    intent = _locked(PaymentIntent, attempt.intent_id)
    attempt = _locked(PaymentAttempt, attempt.id)
    old = attempt.state
    checked_at = now_utc()
    # written with the attempt's other changes in one UPDATE (not flushed on its own by the
    # queries of the receipt in between): each way out below sets it before its flush
    if status.not_found:
        attempt.last_checked_at = checked_at
        db.session.flush()
        return ApplyResult("not_found", old, old)
    if status.order_id is not None and status.order_id != attempt.order_id:
        reason = f"Status Midtrans menyebut order {status.order_id!r}, bukan {attempt.order_id!r}."
        attempt.last_checked_at = checked_at
        _flag(attempt, reason)
        db.session.flush()
        return ApplyResult("mismatch", old, old, reason)
    incoming = status.state
    if incoming is None:
        reason = f"Status Midtrans tidak dikenal: {status.transaction_status!r}."
        attempt.last_checked_at = checked_at
        _flag(attempt, reason)
        db.session.flush()
        return ApplyResult("unknown_status", old, old, reason)
    problem = _amount_problem(attempt, status, incoming)
    if problem is not None:
        attempt.last_checked_at = checked_at
        _flag(attempt, problem)
        db.session.flush()
        return ApplyResult("mismatch", old, old, problem)
    new = next_state(old, incoming)
    transaction_id = status.transaction_id if attempt.transaction_id is None else None
    if new is None:
        attempt.last_checked_at = checked_at
        if transaction_id:
            attempt.transaction_id = transaction_id
        db.session.flush()
        return ApplyResult("ignored", old, old)

    if new == PaymentState.PAID:
        try:
            entry_id = _post_receipt(attempt, intent, status)
        except DomainError as error:
            reason = f"Pembayaran lunas tetapi gagal dibukukan: {error.message}"
            attempt.last_checked_at = checked_at
            if transaction_id:
                attempt.transaction_id = transaction_id
            _flag(attempt, reason)
            db.session.flush()
            return ApplyResult("receipt_failed", old, old, reason)
        attempt.receipt_entry_id = entry_id
        _, settled_at = _receipt_date(status)
        attempt.paid_at = settled_at or now_utc()

    attempt.last_checked_at = checked_at
    if transaction_id:
        attempt.transaction_id = transaction_id
    attempt.state = new
    attempt.last_status = dict(status.raw)
    attempt.payment_type = status.payment_type or attempt.payment_type
    counted = new == PaymentState.PAID and _mark_paid(attempt, intent, old)
    db.session.flush()

    if counted:
        _send(signals.payment_settled, attempt, intent)
    elif new == PaymentState.REVERSED:
        _on_reversed(attempt, intent, status)
    elif new in (PaymentState.REFUNDED, PaymentState.PARTIALLY_REFUNDED):
        _flag(
            attempt,
            f"Midtrans melaporkan {status.transaction_status}: bukukan pengembalian dana secara "
            "manual.",
        )
    db.session.flush()
    return ApplyResult("applied", new, old, attempt.flag_reason if attempt.needs_review else None)


def _expire_locally(attempt: PaymentAttempt, reason: str) -> ApplyResult:
    attempt = _locked(PaymentAttempt, attempt.id)
    old = attempt.state
    attempt.last_checked_at = now_utc()
    new = next_state(old, PaymentState.EXPIRED)
    if new is None:
        db.session.flush()
        return ApplyResult("ignored", old, old)
    attempt.state = new
    attempt.last_status = {"kmp": reason}
    db.session.flush()
    return ApplyResult("applied", new, old)


# --------------------------------------------------------------------------- the inbox


def find_attempt(order_id: str | None, transaction_id: str | None = None) -> PaymentAttempt | None:
    attempt = None
    if order_id:
        attempt = db.session.scalar(
            select(PaymentAttempt).where(PaymentAttempt.order_id == order_id)
        )
    if attempt is None and transaction_id:
        attempt = db.session.scalar(
            select(PaymentAttempt).where(PaymentAttempt.transaction_id == transaction_id)
        )
    return attempt


def record_gateway_notification(
    raw_body: bytes, payload: Mapping[str, Any], provider: str = "midtrans"
) -> tuple[GatewayInbox, bool]:
    """Keep a verified notification body verbatim, once per distinct body (by SHA-256).

    Returns ``(row, created)``; a body seen before returns the existing row.
    """
    digest = hashlib.sha256(raw_body).hexdigest()
    values = {
        "provider": provider,
        "body": raw_body.decode("utf-8"),
        "body_sha256": digest,
        "order_id": (_text(payload.get("order_id")) or "")[:100] or None,
        "transaction_id": (_text(payload.get("transaction_id")) or "")[:100] or None,
        "transaction_status": (_text(payload.get("transaction_status")) or "")[:40] or None,
        "received_at": now_utc(),
        "flagged": False,
    }
    # One statement for a new body: the insert gives the row back (an ORM object in the
    # session); a body seen before inserts nothing and is read once.
    insert_stmt = (postgresql if _is_pg() else sqlite).insert(GatewayInbox).values(**values)
    row = db.session.scalars(
        insert_stmt.on_conflict_do_nothing(index_elements=["body_sha256"]).returning(GatewayInbox)
    ).first()
    if row is not None:
        return row, True
    existing = db.session.scalar(select(GatewayInbox).where(GatewayInbox.body_sha256 == digest))
    if existing is None:
        raise LookupError("gateway inbox row vanished")
    return existing, False


def _finish_inbox(inbox: GatewayInbox, outcome: str, *, flagged: bool = False) -> None:
    inbox.outcome = outcome[:200]
    inbox.processed_at = now_utc()
    if flagged:
        inbox.flagged = True
    db.session.flush()


def process_gateway_notification(inbox: GatewayInbox, gateway: PaymentGateway) -> str:
    """Confirm a stored notification with GET status and apply what the *status* says.

    Returns the outcome written on the inbox row. When the status cannot be read (timeout,
    5xx, HTML error page) the row stays unprocessed (``status_unavailable``) and
    reconciliation picks the attempt up later; nothing else is written.
    """
    try:
        payload = json.loads(inbox.body)
    except ValueError:
        payload = {}
    if not isinstance(payload, Mapping):
        payload = {}
    order_id = _text(payload.get("order_id"))
    transaction_id = _text(payload.get("transaction_id"))
    attempt = find_attempt(order_id, transaction_id)
    if attempt is None:
        log.warning("notification for unknown order %r (inbox %s)", order_id, inbox.id)
        _finish_inbox(inbox, "unknown_order", flagged=True)
        return "unknown_order"
    lookup = transaction_id or attempt.transaction_id or attempt.order_id
    try:
        status = gateway.get_status(lookup)
    except GatewayError as error:
        log.warning("status of %s unavailable (inbox %s): %s", attempt.order_id, inbox.id, error)
        inbox.attempt_id = attempt.id
        inbox.outcome = f"status_unavailable: {error.kind}"[:200]
        db.session.flush()
        return "status_unavailable"
    # Lock order: intent, attempt, then the inbox row (written after the apply).
    result = apply_gateway_status(attempt, status)
    inbox.attempt_id = attempt.id
    _finish_inbox(inbox, result.outcome)
    return result.outcome


def mark_inbox_error(inbox_id: int, message: str) -> None:
    """Record that processing a stored notification failed (reconciliation retries it)."""
    inbox = db.session.get(GatewayInbox, inbox_id)
    if inbox is None:
        return
    inbox.outcome = f"error: {message}"[:200]
    inbox.flagged = True
    db.session.flush()


# --------------------------------------------------------------------------- review


def review_flagged_attempt(attempt: PaymentAttempt, note: str, by_user) -> PaymentAttempt:
    attempt = _locked(PaymentAttempt, attempt.id)
    if not attempt.needs_review:
        raise Conflict(
            gettext("Pembayaran ini tidak sedang menunggu tinjauan."), code="not_flagged"
        )
    if not note or not note.strip():
        raise PaymentError(
            gettext("Catatan tinjauan wajib diisi."), code="note_required", field="note"
        )
    attempt.reviewed_at = now_utc()
    attempt.reviewed_by_id = getattr(by_user, "id", by_user)
    attempt.review_note = note.strip()
    db.session.flush()
    return attempt


def review_inbox_message(inbox: GatewayInbox, note: str, by_user) -> GatewayInbox:
    inbox = _locked(GatewayInbox, inbox.id)
    if not inbox.needs_review:
        raise Conflict(
            gettext("Notifikasi ini tidak sedang menunggu tinjauan."), code="not_flagged"
        )
    if not note or not note.strip():
        raise PaymentError(
            gettext("Catatan tinjauan wajib diisi."), code="note_required", field="note"
        )
    inbox.reviewed_at = now_utc()
    inbox.reviewed_by_id = getattr(by_user, "id", by_user)
    inbox.review_note = note.strip()
    db.session.flush()
    return inbox


# --------------------------------------------------------------------------- reconciliation


@dataclass
class ReconcileReport:
    notifications: int = 0
    checked: int = 0
    changed: int = 0
    expired: int = 0
    flagged: int = 0
    unavailable: int = 0
    errors: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"payments reconciled: {self.checked} checked, {self.changed} changed, "
            f"{self.expired} expired, {self.flagged} flagged, {self.notifications} stored "
            f"notification(s) replayed, {self.unavailable} unavailable, {self.errors} error(s)"
        )


def reconcile_payments(
    gateway: PaymentGateway | None = None,
    *,
    now: dt.datetime | None = None,
    limit: int = 500,
) -> ReconcileReport:
    """Re-check what notifications may have missed; safe to run any number of times.

    1. stored notifications left unprocessed (status was unavailable, or processing failed);
    2. attempts in TOKEN_ISSUED / TOKEN_UNKNOWN / PENDING / CHALLENGE older than 2 minutes:
       GET status; "404" means no channel chosen yet, and once the Snap page has expired
       (``KMP_PAYMENT_PAGE_EXPIRY_MINUTES``, 24 h) the gateway is asked to expire it and the
       attempt becomes EXPIRED (Midtrans sends no webhook for that);
    3. PAID attempts of the last 7 days not checked in ``KMP_PAYMENT_PAID_RECHECK_MINUTES``
       (60) for reversals, refunds and chargebacks.

    Gateway calls happen before any row is locked; each attempt is then applied in its own
    savepoint so one failure does not undo the others. The caller commits.
    """
    if gateway is None:
        from kmp.payments.factory import get_gateway

        gateway = get_gateway(current_app._get_current_object())
    now = now or now_utc()
    stale = dt.timedelta(minutes=int(_setting("KMP_PAYMENT_STALE_MINUTES", 2)))
    page_expiry = dt.timedelta(minutes=int(_setting("KMP_PAYMENT_PAGE_EXPIRY_MINUTES", 24 * 60)))
    paid_recheck = dt.timedelta(minutes=int(_setting("KMP_PAYMENT_PAID_RECHECK_MINUTES", 60)))
    report = ReconcileReport()

    # 1. Read the work list (no locks).
    inbox_rows = list(
        db.session.scalars(
            select(GatewayInbox)
            .where(GatewayInbox.processed_at.is_(None), GatewayInbox.received_at <= now - stale)
            .order_by(GatewayInbox.id)
            .limit(limit)
        )
    )
    inbox_by_attempt: dict[int, list[GatewayInbox]] = {}
    lookups: dict[int, str] = {}
    attempts: dict[int, PaymentAttempt] = {}
    for inbox in inbox_rows:
        report.notifications += 1
        try:
            payload = json.loads(inbox.body)
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, Mapping) else {}
        transaction_id = _text(payload.get("transaction_id"))
        attempt = find_attempt(_text(payload.get("order_id")), transaction_id)
        if attempt is None:
            _finish_inbox(inbox, "unknown_order", flagged=True)
            continue
        inbox_by_attempt.setdefault(attempt.id, []).append(inbox)
        attempts[attempt.id] = attempt
        lookups[attempt.id] = transaction_id or attempt.transaction_id or attempt.order_id

    open_query = (
        select(PaymentAttempt)
        .where(
            PaymentAttempt.state.in_([s.value for s in OPEN_STATES]),
            PaymentAttempt.created_at <= now - stale,
            or_(
                PaymentAttempt.last_checked_at.is_(None),
                PaymentAttempt.last_checked_at <= now - stale,
            ),
        )
        .order_by(PaymentAttempt.last_checked_at.is_not(None), PaymentAttempt.last_checked_at)
        .limit(limit)
    )
    paid_query = (
        select(PaymentAttempt)
        .where(
            PaymentAttempt.state.in_([s.value for s in MONEY_IN_STATES]),
            PaymentAttempt.paid_at >= now - PAID_RECHECK_WINDOW,
            or_(
                PaymentAttempt.last_checked_at.is_(None),
                PaymentAttempt.last_checked_at <= now - paid_recheck,
            ),
        )
        .order_by(PaymentAttempt.last_checked_at)
        .limit(limit)
    )
    for attempt in [*db.session.scalars(open_query), *db.session.scalars(paid_query)]:
        attempts.setdefault(attempt.id, attempt)
        lookups.setdefault(attempt.id, attempt.transaction_id or attempt.order_id)

    # 2. Ask the gateway (still no locks held).
    statuses: dict[int, StatusResult | str] = {}
    for attempt_id, attempt in attempts.items():
        report.checked += 1
        try:
            status = gateway.get_status(lookups[attempt_id])
        except GatewayError as error:
            log.warning("reconcile: status of %s unavailable: %s", attempt.order_id, error)
            report.unavailable += 1
            continue
        if (
            status.not_found
            and attempt.state in OPEN_STATES
            and attempt.created_at <= now - page_expiry
        ):
            try:
                expired = gateway.expire(attempt.order_id)
            except GatewayError as error:
                log.warning("reconcile: expire %s failed: %s", attempt.order_id, error)
                report.unavailable += 1
                continue
            status = "page_expired" if expired.not_found else expired
        statuses[attempt_id] = status

    # 3. Apply, one savepoint per attempt. Every intent and attempt of this run is locked
    #    first, in id order: a webhook locks one intent, then the ledger accounts, so it can
    #    never hold something this run waits for while waiting for something this run holds.
    _lock_all(PaymentIntent, {attempts[i].intent_id for i in statuses})
    _lock_all(PaymentAttempt, set(statuses))
    for attempt_id, status in statuses.items():
        attempt = attempts[attempt_id]
        order_id = attempt.order_id
        try:
            with db.session.begin_nested():
                if isinstance(status, str):
                    result = _expire_locally(attempt, "Halaman pembayaran kedaluwarsa")
                else:
                    result = apply_gateway_status(attempt, status)
                for inbox in inbox_by_attempt.get(attempt_id, []):
                    inbox.attempt_id = attempt_id
                    _finish_inbox(inbox, f"reconciled:{result.outcome}")
        except Exception as error:  # noqa: BLE001 - one bad attempt must not stop the run
            log.exception("reconcile: applying the status of %s failed", order_id)
            report.errors += 1
            report.outcomes[order_id] = f"error: {error}"[:200]
            continue
        report.outcomes[order_id] = result.outcome
        if result.action == "applied":
            report.changed += 1
            if result.state == PaymentState.EXPIRED:
                report.expired += 1
        if result.flagged or result.action in ("mismatch", "unknown_status", "receipt_failed"):
            report.flagged += 1
    db.session.flush()
    log.info(report.summary())
    return report
