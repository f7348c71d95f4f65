"""Payment routes: the Midtrans webhook, the SIMULASI checkout page, the review list.

``deliver_notification(raw_body)`` is the webhook's whole boundary (verify, store and commit,
confirm with GET status, apply and commit). The SIMULASI page hands the fake gateway's signed
notification to the same function, so simulated and real payments take one code path.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from kmp.api import loads_json
from kmp.auth import Role, role_required
from kmp.config import ConfigError
from kmp.errors import DomainError
from kmp.extensions import db, limiter
from kmp.payments.factory import get_gateway, is_fake_gateway, notification_server_key
from kmp.payments.forms import SIMULATE_CHOICES, ReviewForm, SimulateForm
from kmp.payments.gateway import ORDER_ID_RE, verify_notification_signature
from kmp.payments.models import GatewayInbox, PaymentAttempt
from kmp.payments.services import (
    find_attempt,
    mark_inbox_error,
    process_gateway_notification,
    record_gateway_notification,
    review_flagged_attempt,
    review_inbox_message,
)
from kmp.views import safe_next

log = logging.getLogger("kmp.payments")

bp = Blueprint("payments", __name__, url_prefix="/payments")

PURPOSE_LABELS = {
    "pokok": _l("Simpanan pokok"),
    "pokok-cicilan": _l("Cicilan simpanan pokok"),
    "wajib": _l("Simpanan wajib"),
    "sukarela": _l("Simpanan sukarela"),
}

STATE_LABELS = {
    "CREATED": _l("Dibuat"),
    "TOKEN_ISSUED": _l("Menunggu pembayaran"),
    "TOKEN_UNKNOWN": _l("Belum pasti (dicek ulang otomatis)"),
    "PENDING": _l("Menunggu pembayaran"),
    "CHALLENGE": _l("Diperiksa penyedia pembayaran"),
    "EXPIRED": _l("Kedaluwarsa"),
    "CANCELLED": _l("Dibatalkan"),
    "DENIED": _l("Ditolak"),
    "FAILED": _l("Gagal"),
    "PAID": _l("Lunas"),
    "PARTIALLY_REFUNDED": _l("Dikembalikan sebagian"),
    "REFUNDED": _l("Dikembalikan"),
    "REVERSED": _l("Dibatalkan setelah lunas"),
}

REVIEW_ROLES = (Role.BENDAHARA, Role.PENGURUS, Role.PENGAWAS)


def purpose_label(purpose: str) -> str:
    return str(PURPOSE_LABELS.get(purpose, purpose))


# --------------------------------------------------------------------------- the webhook


def deliver_notification(raw_body: bytes) -> tuple[int, dict]:
    """Handle one notification body exactly as the webhook does; returns (HTTP status, body).

    400 unreadable; 403 bad signature (nothing written); 503 could not store (Midtrans
    retries); otherwise 200: stored (and, when the status could be confirmed, applied).
    """
    try:
        text = raw_body.decode("utf-8")
        payload = loads_json(text)  # a 50,000-deep body is a ValueError too
    except (UnicodeDecodeError, ValueError):
        log.warning("notification refused: not a JSON body")
        return 400, {"status": "bad_request"}
    if not isinstance(payload, dict):
        return 400, {"status": "bad_request"}
    app = current_app._get_current_object()
    try:
        server_key = notification_server_key(app)
    except ConfigError:
        log.exception("notification cannot be verified")
        return 503, {"status": "not_configured"}
    if not verify_notification_signature(payload, server_key):
        log.warning(
            "notification refused: bad signature (order_id=%r)", str(payload.get("order_id"))[:60]
        )
        return 403, {"status": "invalid_signature"}

    try:
        inbox, _created = record_gateway_notification(raw_body, payload)
        inbox_id, already = inbox.id, inbox.processed_at is not None
        _commit_unexpired()
    except Exception:
        db.session.rollback()
        log.exception("notification could not be stored")
        return 503, {"status": "not_stored"}
    if already:
        return 200, {"status": "duplicate"}

    try:
        outcome = process_gateway_notification(inbox, get_gateway(app, for_webhook=True))
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - stored: reconciliation retries it
        db.session.rollback()
        log.exception("notification %s stored but not applied", inbox_id)
        try:
            mark_inbox_error(inbox_id, f"{type(error).__name__}: {error}")
            db.session.commit()
        except Exception:  # noqa: BLE001
            db.session.rollback()
        return 200, {"status": "stored"}
    return 200, {"status": "ok", "outcome": outcome}


def _commit_unexpired() -> None:
    """Commit without expiring what the session holds (the webhook holds only the inbox row
    it has just written, so what it holds is what the database has): the next step does not
    read the row back."""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


@bp.post("/midtrans/notification")
@limiter.exempt
def midtrans_notification():
    status, body = deliver_notification(request.get_data(cache=False))
    return jsonify(body), status


# --------------------------------------------------------------------------- SIMULASI


def _finish_target(attempt: PaymentAttempt, payload: dict) -> str:
    meta = attempt.intent.meta or {}
    target = safe_next(meta.get("finish_url"), url_for("core.home"))
    query = urlencode(
        {
            "order_id": payload.get("order_id", ""),
            "status_code": payload.get("status_code", ""),
            "transaction_status": payload.get("transaction_status", ""),
        }
    )
    return f"{target}{'&' if '?' in target else '?'}{query}"


@bp.route("/simulate/<order_id>", methods=["GET", "POST"])
def simulate(order_id: str):
    """The fake gateway's checkout page (public, like Midtrans'); 404 unless the fake is on."""
    gateway = get_gateway(current_app._get_current_object())
    if not is_fake_gateway(gateway) or not ORDER_ID_RE.fullmatch(order_id):
        abort(404)
    order = gateway.get_order(order_id)
    attempt = find_attempt(order_id)
    if order is None or "gross_amount" not in order or attempt is None:
        abort(404)
    form = SimulateForm()
    if form.validate_on_submit():
        outcome = form.outcome.data
        payload = gateway.simulate(order_id, outcome)
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        status, _answer = deliver_notification(body)
        if status != 200:
            flash(
                _("Simulasi gagal dikirim ke aplikasi (HTTP %(status)s).", status=status), "error"
            )
            return redirect(url_for("payments.simulate", order_id=order_id), 303)
        messages = {
            "settlement": (_("Simulasi: pembayaran berhasil."), "success"),
            "pending": (_("Simulasi: pembayaran menunggu."), "info"),
            "expire": (_("Simulasi: pembayaran kedaluwarsa."), "warning"),
            "deny": (_("Simulasi: pembayaran ditolak."), "error"),
        }
        message, category = messages[outcome]
        flash(message, category)
        attempt = db.session.get(PaymentAttempt, attempt.id)
        return redirect(_finish_target(attempt, payload), 303)
    status = 422 if request.method == "POST" else 200
    last = (order.get("payload") or {}).get("transaction_status")
    return (
        render_template(
            "payments/simulate.html",
            form=form,
            attempt=attempt,
            intent=attempt.intent,
            purpose=purpose_label(attempt.intent.purpose),
            last_status=last,
            state_label=STATE_LABELS.get(attempt.state.value, attempt.state.value),
            choices=SIMULATE_CHOICES,
        ),
        status,
    )


# --------------------------------------------------------------------------- review list


def _review_page(status: int = 200, error_for: tuple[str, int] | None = None, error=None):
    attempts = list(
        db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.flagged_for_review.is_(True))
            .where(PaymentAttempt.reviewed_at.is_(None))
            .order_by(PaymentAttempt.updated_at.desc())
            .limit(200)
        )
    )
    messages = list(
        db.session.scalars(
            select(GatewayInbox)
            .where(GatewayInbox.flagged.is_(True), GatewayInbox.reviewed_at.is_(None))
            .order_by(GatewayInbox.received_at.desc())
            .limit(200)
        )
    )
    reviewed = list(
        db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.reviewed_at.is_not(None))
            .order_by(PaymentAttempt.reviewed_at.desc())
            .limit(20)
        )
    )
    return (
        render_template(
            "payments/review.html",
            attempts=attempts,
            messages=messages,
            reviewed=reviewed,
            can_review=current_user.has_role(Role.BENDAHARA),
            purpose_label=purpose_label,
            state_labels=STATE_LABELS,
            error_for=error_for,
            error=error,
        ),
        status,
    )


@bp.get("/tinjauan")
@role_required(*REVIEW_ROLES)
def review_list():
    return _review_page()


def _review(kind: str, row_id: int, service, model):
    form = ReviewForm()
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    if not form.validate_on_submit():
        messages = [e for errors in form.errors.values() for e in errors]
        return _review_page(422, (kind, row_id), messages[0] if messages else None)
    try:
        service(row, form.note.data, current_user._get_current_object())
    except DomainError as error:
        db.session.rollback()
        return _review_page(422, (kind, row_id), error.message)
    db.session.commit()
    flash(_("Tinjauan dicatat."), "success")
    return redirect(url_for("payments.review_list"), 303)


@bp.post("/tinjauan/pembayaran/<int:attempt_id>")
@role_required(Role.BENDAHARA)
def review_attempt(attempt_id: int):
    return _review("attempt", attempt_id, review_flagged_attempt, PaymentAttempt)


@bp.post("/tinjauan/notifikasi/<int:inbox_id>")
@role_required(Role.BENDAHARA)
def review_message(inbox_id: int):
    return _review("message", inbox_id, review_inbox_message, GatewayInbox)
