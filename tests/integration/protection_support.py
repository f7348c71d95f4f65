"""Helpers for the social-protection tests (not a test module)."""

from __future__ import annotations

import datetime as dt

from kmp.extensions import db
from kmp.timeutil import business_date
from members.protection import enrolment as enrolments
from members.protection.billing import bill_month
from tests.integration.members_support import valid_nik
from tests.integration.savings_support import active_member


def choice(*, tk=True, jht=False, income=1_000_000, jkn_class=None, family=(), auto_debit=False):
    return enrolments.Choice(
        tk=tk,
        jht=jht,
        income_idr=income if tk else None,
        jkn_class=jkn_class,
        family=tuple(enrolments.FamilyIn(name, nik, relation) for name, nik, relation in family),
        consent=True,
        auto_debit=auto_debit,
    )


def spouse(n: int = 9001) -> tuple[str, str, str]:
    return (f"Pasangan Uji {n}", valid_nik(n, female=True), "pasangan")


def enrolled_member(n, bendahara, pengurus, *, start: dt.date | None = None, **kwargs):
    """An active member, enrolled and confirmed from this month (billed at once)."""
    member = active_member(n, bendahara, pengurus)
    enrolment = enrolments.request_enrolment(member, choice(**kwargs), by_user=member.user)
    enrolments.confirm_enrolment(
        enrolment, by_user=bendahara, start_period=start or business_date().replace(day=1)
    )
    db.session.commit()
    return member


def bill_this_month():
    result = bill_month(business_date())
    db.session.commit()
    return result
