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
    from members import queries, services

    signals.payment_settled.connect(on_payment_settled, weak=False)
    # The ledger's "my accounts" page: which account ids belong to this login.
    try:
        from kmp.ledger import register_member_accounts_hook
    except ImportError:  # older core
        app.extensions["kmp_member_accounts"] = queries.member_account_ids
    else:
        register_member_accounts_hook(app, queries.member_account_ids)
    # For kmp.payments (which cannot import members): where a deposit is credited.
    app.extensions["kmp_savings_credit_lines"] = services.savings_credit_lines
