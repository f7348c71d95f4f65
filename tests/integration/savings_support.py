"""Helpers for the savings tests (not a test module)."""

from __future__ import annotations

import datetime as dt

from kmp.extensions import db
from kmp.timeutil import add_months, business_date
from members.savings import billing
from tests.integration.members_support import admit, apply_member


def active_member(n: int, bendahara, pengurus, group: str = "pengemudi", months_ago: int = 12):
    """An active member whose joining date is ``months_ago`` months back (so past months
    can be billed)."""
    member = apply_member(n, group)
    admit(member, bendahara, pengurus)
    member.joined_date = add_months(business_date().replace(day=1), -months_ago)
    db.session.commit()
    return member


def bill_months(count: int, end: dt.date | None = None) -> list[dt.date]:
    """Bill ``count`` months ending with ``end``'s month (default: this month), oldest first."""
    end = (end or business_date()).replace(day=1)
    months = [add_months(end, -i) for i in range(count - 1, -1, -1)]
    for month in months:
        billing.bill_wajib(month)
    db.session.commit()
    return months


def login_member(client, member) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = member.user.get_id()
        session["_fresh"] = True
