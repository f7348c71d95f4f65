"""Signal receivers and the hooks ``kmp`` calls without importing this feature."""

from __future__ import annotations

from flask import Flask

from kmp import signals
from kmp.extensions import db


def on_payment_settled(sender, member_id=None, purpose=None, **kwargs):  # noqa: ARG001
    """A gateway payment landed (the payments service already posted the money to the credit
    lines we gave it): admit the member if this completed simpanan pokok."""
    if member_id is None:
        return
    from members.models import Member
    from members.services import activate_if_ready

    member = db.session.get(Member, member_id)
    if member is not None:
        activate_if_ready(member)


def connect(app: Flask) -> None:
    from members import billing, queries, savings, services

    signals.payment_settled.connect(on_payment_settled, weak=False)
    # Savings (issue 5): settle wajib bills, receipts; undo on a reversal.
    signals.payment_settled.connect(savings.on_savings_payment_settled, weak=False)
    signals.payment_reversed.connect(savings.on_savings_payment_reversed, weak=False)
    # Arrears = open wajib obligations, in months per member (census, governance): the one
    # hook name every feature uses. NOT installed as ``kmp_member_arrears`` (the exit refund's
    # deduction): billing is cash-basis (no receivable is booked when a bill is created), so
    # the refund of what was actually paid is already "less unpaid obligations"; deducting
    # them again would credit ``asset:receivable:members`` that was never debited.
    app.extensions["kmp_member_arrears_months"] = billing.arrears_months
    # The ledger's "my accounts" page: which account ids belong to this login.
    try:
        from kmp.ledger import register_member_accounts_hook
    except ImportError:  # older core
        app.extensions["kmp_member_accounts"] = queries.member_account_ids
    else:
        register_member_accounts_hook(app, queries.member_account_ids)
    # For kmp.payments (which cannot import members): where a deposit is credited.
    app.extensions["kmp_savings_credit_lines"] = services.savings_credit_lines
