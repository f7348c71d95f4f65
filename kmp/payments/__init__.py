"""Payments core: intents and attempts, the Midtrans webhook, the SIMULASI page, reconciliation.

Feature-free: intents carry a plain ``member_id`` and the ledger lines to credit; features
learn about money through ``kmp.signals.payment_settled`` / ``payment_reversed``.

How a feature takes a payment (e.g. members, simpanan wajib for two months)::

    intent = create_payment_intent(
        member.id, "wajib", 200_000,
        [(member_account_code("wajib", member.member_no), 200_000)],
        "Simpanan wajib Januari–Februari 2026",
        metadata={"months": ["2026-01", "2026-02"], "finish_url": url_for("members.savings")},
        by_user=current_user,
    )
    try:
        attempt = start_checkout(intent, get_gateway(current_app), Customer(name, email, phone))
    except CheckoutUnavailable as error:
        db.session.commit() if error.keep_attempt else db.session.rollback()
        ...  # show error.message
    db.session.commit()
    return redirect(attempt.redirect_url)  # Snap, or /payments/simulate/<order_id> (fake)

The money is booked by the payments core (one receipt entry: debit gateway clearing, credit
the intent's lines) when Midtrans confirms it. Receivers must not post it again; they only
update their own rows, inside the same transaction, and must not commit::

    @payment_settled.connect_via("wajib")
    def on_wajib_paid(sender, payment, intent, member_id, purpose, amount_idr, **extra): ...
"""

from flask import Flask
from flask_babel import lazy_gettext


def init_app(app: Flask) -> None:
    from kmp.extensions import csrf
    from kmp.payments import models  # noqa: F401 - register the tables
    from kmp.payments.cli import payments_cli
    from kmp.payments.jobs import JOBS
    from kmp.payments.views import REVIEW_ROLES, bp, midtrans_notification
    from kmp.scheduler import register_jobs
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    csrf.exempt(midtrans_notification)
    app.cli.add_command(payments_cli)
    register_jobs(app, *JOBS)
    register_nav(
        app,
        NavItem(
            "payments.review_list",
            lazy_gettext("Tinjauan pembayaran"),
            tuple(r.value for r in REVIEW_ROLES),
            70,
        ),
    )
    from kmp.auth import Role
    from kmp.registry import get_registry

    get_registry(app).add_todo(
        "payments_flagged",
        lazy_gettext("Pembayaran ditandai untuk ditinjau"),
        "payments.review_list",
        (Role.BENDAHARA,),
        flagged_count,
    )


def flagged_count() -> int:
    """Payments and gateway notices flagged and not yet reviewed (the board's to-do)."""
    from sqlalchemy import func, select

    from kmp.extensions import db
    from kmp.payments.models import GatewayInbox, PaymentAttempt

    attempts = db.session.scalar(
        select(func.count())
        .select_from(PaymentAttempt)
        .where(PaymentAttempt.flagged_for_review.is_(True), PaymentAttempt.reviewed_at.is_(None))
    )
    notices = db.session.scalar(
        select(func.count())
        .select_from(GatewayInbox)
        .where(GatewayInbox.flagged.is_(True), GatewayInbox.reviewed_at.is_(None))
    )
    return int(attempts or 0) + int(notices or 0)
