"""A seeded cooperative over two closed years (2024, 2025) for the RAT book and ministry
export tests (not a test module): members of three groups joining, saving and one leaving,
the demo year of income and expenses each year (``seed_books_year``), both years closed."""

from __future__ import annotations

import datetime as dt

from kmp.extensions import db
from kmp.ledger.books.seed import seed_books_year
from kmp.ledger.chart import BANK, CASH, REFUND_PAYABLE, member_account_code
from kmp.ledger.services import EntrySpec, post_entries
from members.register.models import Member
from members.register.states import MemberStatus
from tests.factories import book_pokok
from tests.integration.governance_factories import ensure_ad, make_member
from tests.integration.members_support import valid_nik


def _deposit(member: Member, kind: str, amount: int, day: dt.date, key: str) -> None:
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"rat:{key}",
                description=f"Setoran {kind} {member.member_no}",
                lines=[(CASH, amount), (member_account_code(kind, member.member_no), -amount)],
                source_kind="test",
                entry_date=day,
            )
        ]
    )


def seeded_years(board: dict) -> dict:
    """Members and two closed years. Returns the members by name."""
    ensure_ad()
    plan = [
        # name, group, joined, female
        ("a", "pengemudi", dt.date(2024, 2, 1), False),
        ("b", "pengemudi", dt.date(2024, 3, 1), True),
        ("c", "kurir", dt.date(2024, 6, 1), False),
        ("d", "kurir", dt.date(2025, 4, 1), True),
        ("e", "pengguna", dt.date(2025, 5, 1), True),
    ]
    members = {}
    for name, group, joined, female in plan:
        member = make_member(group, joined=joined, pokok_paid=False)
        member.nik = valid_nik(female=female)
        book_pokok([(member.id, member.member_no, group)], entry_date=joined)
        members[name] = member
    db.session.flush()
    for name in ("a", "b", "c"):
        _deposit(members[name], "wajib", 300_000, dt.date(2024, 12, 20), f"w24{name}")
    _deposit(members["a"], "sukarela", 1_250_000, dt.date(2024, 8, 8), "s24a")
    seed_books_year(2024, board, close=True)
    for name in ("a", "b", "d", "e"):
        _deposit(members[name], "wajib", 275_000, dt.date(2025, 11, 20), f"w25{name}")
    # c leaves on 30 September 2025: pokok + wajib to the refund payable, then paid by bank
    c = members["c"]
    refund = 100_000 + 300_000
    post_entries(
        [
            EntrySpec(
                idempotency_key="rat:exit:c",
                description="Pengembalian simpanan anggota keluar",
                lines=[
                    (member_account_code("pokok", c.member_no), 100_000),
                    (member_account_code("wajib", c.member_no), 300_000),
                    (REFUND_PAYABLE, -refund),
                ],
                source_kind="test",
                entry_date=dt.date(2025, 9, 30),
            ),
            EntrySpec(
                idempotency_key="rat:exit:c:paid",
                description="Transfer pengembalian simpanan",
                lines=[(REFUND_PAYABLE, refund), (BANK, -refund)],
                source_kind="test",
                entry_date=dt.date(2025, 10, 5),
            ),
        ]
    )
    c.status = MemberStatus.EXITED
    c.exited_date = dt.date(2025, 9, 30)
    seed_books_year(2025, board, close=True)
    db.session.commit()
    return members
