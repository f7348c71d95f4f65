"""Helpers for the SHU (payouts) tests (not a test module)."""

from __future__ import annotations

import datetime as dt

from governance import services as gov
from kmp.extensions import db
from kmp.ledger.chart import CASH, member_account_code, open_member_accounts
from kmp.ledger.services import EntrySpec, post_entries
from kmp.timeutil import business_date, now_utc
from payouts.patronage import PatronageRow, ingest_patronage
from tests.integration.governance_factories import ensure_ad, make_member

MEASURE = {"pengemudi": "trips", "kurir": "deliveries", "pengguna": "spend_idr"}


def fiscal_year() -> int:
    return business_date().year - 1


def shu_member(group="pengemudi", *, wajib=0, trips=0, user=None, pokok=100_000):
    """An active member who joined in the fiscal year with pokok (+ wajib) paid then and
    ``trips`` patronage of the group's measure."""
    fy = fiscal_year()
    member = make_member(group, user=user, joined=dt.date(fy, 1, 15), pokok_paid=False)
    open_member_accounts(member.id, member.member_no)
    lines = [(member_account_code("pokok", member.member_no), -pokok)]
    if wajib:
        lines.append((member_account_code("wajib", member.member_no), -wajib))
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"test:capital:{member.member_no}",
                description="setoran uji",
                lines=[(CASH, pokok + wajib), *lines],
                source_kind="test",
                entry_date=dt.date(fy, 2, 1),
            )
        ]
    )
    if trips:
        ingest_patronage(
            [PatronageRow(member.id, f"{fy}-03", MEASURE[group], trips, f"t-{member.member_no}")],
            source="manual",
        )
    db.session.flush()
    return member


def book_surplus(amount: int) -> None:
    fy = fiscal_year()
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"test:income:{fy}:{amount}",
                description="pendapatan uji",
                lines=[(CASH, amount), ("income:member-services", -amount)],
                source_kind="test",
                entry_date=dt.date(fy, 6, 30),
            )
        ]
    )


def shu_ballot(run, voters, option="yes", by_user=None):
    """An SHU-allocation proposal referencing ``run``; every voter votes ``option``; closed."""
    ensure_ad()
    now = now_utc()
    proposal = gov.create_proposal(
        kind="shu_allocation",
        title=f"Pembagian SHU {run.fiscal_year}",
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(minutes=60),
        reference=run.reference,
        by_user=by_user,
    )
    gov.open_proposal(proposal, by_user=by_user)
    for member in voters:
        gov.cast_vote(proposal, member, option)
    resolution = gov.close_proposal(proposal, by_user=by_user)
    return proposal, resolution
