"""Small reusable builders for tests (issue 16): money in the ledger, platform companies with
a representative, invitations. Each one writes through the real services or the same ledger
writer (``post_entries``) the application uses, flushes, and leaves the commit to the test.

* ``book_pokok(members)`` -- open the savings accounts of numbered members and book their
  full AD pokok in cash, set-based (one batch however many members).
* ``company_member(...)`` -- an active platform company (kind company, group platform) with
  its representative login and optional more staff logins.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select

from kmp.auth import Role, User
from kmp.extensions import db
from kmp.ledger.chart import CASH, MEMBER_ACCOUNTS
from kmp.ledger.models import Account, AccountType
from kmp.ledger.services import EntrySpec, post_entries
from kmp.timeutil import business_date, now_utc

_seq = itertools.count(1)


def open_accounts_bulk(members: Sequence[tuple[int, str]]) -> dict[tuple[str, str], int]:
    """The savings accounts of ``(member_id, member_no)`` pairs, opened set-based where
    missing (named as ``kmp.ledger.chart.open_member_accounts`` names them). Returns
    ``{(kind, member_no): account_id}``."""
    wanted = {
        f"{prefix}:{no}": (mid, no, kind, name, type_)
        for mid, no in members
        for kind, (prefix, name, type_) in MEMBER_ACCOUNTS.items()
    }
    codes = list(wanted)
    found: dict[str, int] = {}
    for start in range(0, len(codes), 5000):
        chunk = codes[start : start + 5000]
        found.update(
            db.session.execute(
                select(Account.code, Account.id).where(Account.code.in_(chunk))
            ).all()
        )
    missing = [c for c in codes if c not in found]
    if missing:
        now = now_utc()
        db.session.execute(
            insert(Account.__table__),
            [
                {
                    "code": code,
                    "name": f"{wanted[code][3]} {wanted[code][1]}",
                    "type": AccountType(wanted[code][4]).value,
                    "normal_sign": AccountType(wanted[code][4]).normal_sign,
                    "owner_id": wanted[code][0],
                    "no_negative": True,
                    "is_closed": False,
                    "balance_idr": 0,
                    "created_at": now,
                }
                for code in missing
            ],
        )
        for start in range(0, len(missing), 5000):
            chunk = missing[start : start + 5000]
            found.update(
                db.session.execute(
                    select(Account.code, Account.id).where(Account.code.in_(chunk))
                ).all()
            )
    return {(wanted[c][2], wanted[c][1]): found[c] for c in codes}


def book_pokok(
    members: Iterable[tuple[int, str, str]],
    *,
    amount_idr: int | None = None,
    entry_date: dt.date | None = None,
) -> None:
    """Book the pokok of ``(member_id, member_no, group_code)`` members in cash: the group's
    AD pokok (or ``amount_idr``), one balanced entry per member, all in one batch."""
    from members.ad.services import current_ad

    members = list(members)
    if not members:
        return
    ad = current_ad()
    accounts = open_accounts_bulk([(mid, no) for mid, no, _ in members])
    specs = []
    for mid, no, group in members:
        amount = ad.group(group).pokok_idr if amount_idr is None else amount_idr
        if amount <= 0:
            continue
        specs.append(
            EntrySpec(
                idempotency_key=f"test:pokok:{mid}:{secrets.token_hex(3)}",
                description=f"Simpanan pokok {no} (uji)",
                lines=[(CASH, amount), (accounts[("pokok", no)], -amount)],
                source_kind="test",
                entry_date=entry_date or business_date(),
            )
        )
    for start in range(0, len(specs), 2000):
        post_entries(specs[start : start + 2000])
    db.session.flush()


def company_member(
    name: str = "PT Uji Platform",
    *,
    staff: int = 1,
    representative: bool = True,
    password: str = "rahasia-12345",
    activated_at: dt.datetime | None = None,
):
    """An active platform company (kind company, group platform) with ``staff`` staff logins
    (role partner), the first one marked representative unless ``representative=False``,
    and its pokok paid. Returns ``(member, [staff users])``."""
    from kmp.auth import create_user
    from members.register.models import Member, MemberKind, MemberStaff
    from members.register.states import MemberStatus

    n = next(_seq)
    token = secrets.token_hex(3)
    activated_at = activated_at or (now_utc() - dt.timedelta(days=30))
    users: list[User] = [
        create_user(
            full_name=f"Staf {i + 1} {name}",
            email=f"staf{i + 1}-{n}-{token}@platform.test",
            password=password,
            roles=(Role.PARTNER,),
        )
        for i in range(staff)
    ]
    member = Member(
        member_no=f"PLT-2026-{900000 + n:06d}",
        group_code="platform",
        kind=MemberKind.COMPANY,
        status=MemberStatus.ACTIVE,
        full_name=name,
        company_name=name,
        nib=f"{secrets.randbelow(10**13):013d}",
        npwp="012345678901000",
        representative_name=users[0].full_name if users else "Perwakilan",
        joined_date=activated_at.date(),
        activated_at=activated_at,
        user_id=users[0].id if users else None,
        is_extraordinary=True,
    )
    db.session.add(member)
    db.session.flush()
    for i, user in enumerate(users):
        db.session.add(
            MemberStaff(
                member_id=member.id,
                user_id=user.id,
                title="Perwakilan" if i == 0 and representative else "Staf",
                is_representative=bool(i == 0 and representative),
            )
        )
    db.session.flush()
    book_pokok([(member.id, member.member_no, member.group_code)])
    return member, users
