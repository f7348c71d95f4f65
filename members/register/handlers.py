"""Signal receivers and the hooks ``kmp`` calls without importing this feature."""

from __future__ import annotations

from flask import Flask

from kmp import signals
from kmp.extensions import db
from members.register import queries as register_queries


def on_payment_settled(sender, member_id=None, purpose=None, **kwargs):  # noqa: ARG001
    """A gateway payment landed (the payments service already posted the money to the credit
    lines we gave it): admit the member if this completed simpanan pokok."""
    if member_id is None:
        return
    from members.register.admission import activate_if_ready
    from members.register.models import Member

    member = db.session.get(Member, member_id)
    if member is not None:
        activate_if_ready(member)


def on_member_admitted(sender, member=None, **kwargs):  # noqa: ARG001
    """A member became active: tell them their member number (WhatsApp or e-mail)."""
    if member is None:
        return
    from flask_babel import gettext as _

    from kmp.notify import queue_notification, recipient_locale

    with recipient_locale(member.user):
        queue_notification(
            kind="member_welcome",
            address=member.email or member.phone,
            subject=_("Selamat datang di koperasi"),
            body=_(
                "Selamat, %(name)s! Keanggotaan Anda sudah aktif. Nomor anggota: %(no)s.",
                name=member.display_name,
                no=member.member_no,
            ),
            member_id=member.id,
            user_id=member.user_id,
            dedupe_key=f"member_welcome:{member.id}",
        )
    if member.user_id is None:  # admitted without a login: invite them to claim one
        from members.register.claim import invite_members

        invite_members([member.id])


def _member_accounts(sender, user=None, **kwargs):  # noqa: ARG001

    return register_queries.member_account_ids(user)


def connect(app: Flask) -> None:  # noqa: ARG001
    signals.payment_settled.connect(on_payment_settled, weak=False)
    signals.member_admitted.connect(on_member_admitted, weak=False)
    # The ledger's "my accounts" page asks which account ids belong to this login.
    signals.member_accounts_requested.connect(_member_accounts, weak=False)
