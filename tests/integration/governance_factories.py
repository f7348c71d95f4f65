"""Test helpers for the governance tests: members, voters, AD tweaks, ballots.

Members are created directly with the ``Member`` model (status active, a member number) and,
unless ``pokok_paid=False``, their full AD pokok booked in the ledger (the census leaves out
an active member whose pokok is not fully paid).
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from dataclasses import replace

from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from governance import services
from kmp.auth import Role, User, UserRole
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.models import Member, MemberKind
from members.register.states import MemberStatus
from tests.factories import book_pokok

PREFIX = {"pengemudi": "DRV", "kurir": "KUR", "pengguna": "PGN", "platform": "PLT"}
_seq = itertools.count(1)
_PASSWORD_HASH = None


def ensure_ad():
    from members.ad.services import install_default_ad

    install_default_ad()
    db.session.flush()
    return services.current_ad()


def set_ad(**changes):
    """A new AD version with ``changes`` (e.g. ``max_wajib_arrears_months=1``)."""
    from members.articles.services import update_ad

    return update_ad(replace(ensure_ad(), **changes), None, "uji tata kelola")


def set_group(code: str, **changes):
    ad = ensure_ad()
    groups = tuple(replace(g, **changes) if g.code == code else g for g in ad.groups)
    return set_ad(groups=groups)


def _nik() -> str:
    return "3171" + "".join(secrets.choice("0123456789") for _ in range(12))


def make_member(
    group: str = "pengemudi",
    *,
    name: str | None = None,
    user: User | None = None,
    status: MemberStatus = MemberStatus.ACTIVE,
    activated_at: dt.datetime | None = None,
    joined: dt.date | None = None,
    pokok_paid: bool = True,
) -> Member:
    n = next(_seq)
    activated_at = activated_at or (now_utc() - dt.timedelta(days=30))
    member = Member(
        member_no=f"{PREFIX[group]}-2026-{n:06d}" if status != MemberStatus.APPLIED else None,
        group_code=group,
        kind=MemberKind.INDIVIDUAL,
        status=status,
        full_name=name or f"Anggota {group} {n}",
        nik=_nik(),
        phone=f"+62812{n:08d}",
        joined_date=joined or activated_at.date(),
        activated_at=activated_at,
        user_id=user.id if user is not None else None,
    )
    db.session.add(member)
    db.session.flush()
    if pokok_paid and member.member_no:
        book_pokok([(member.id, member.member_no, group)])
    return member


def make_voter(make_user, group: str = "pengemudi", **kwargs) -> tuple[User, Member]:
    user = make_user(Role.ANGGOTA)
    member = make_member(group, user=user, **kwargs)
    db.session.commit()
    return user, member


def bulk_voters(count_by_group: dict[str, int]) -> list[tuple[int, int, str]]:
    """Many voters quickly (one shared password hash): ``[(user_id, member_id, group), ...]``."""
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = generate_password_hash("rahasia-12345", method="pbkdf2:sha256:1000")
    token = secrets.token_hex(3)
    out = []
    numbers: list[tuple[int, str, str]] = []
    activated = now_utc() - dt.timedelta(days=30)
    for group, count in count_by_group.items():
        for i in range(count):
            n = next(_seq)
            user_id = db.session.execute(
                insert(User)
                .values(
                    email=f"bulk-{token}-{group}-{i}@test.kmp.id",
                    full_name=f"Pemilih {group} {i}",
                    password_hash=_PASSWORD_HASH,
                    locale="id",
                    is_active_flag=True,
                    session_version=1,
                    created_at=now_utc(),
                )
                .returning(User.id)
            ).scalar_one()
            db.session.execute(insert(UserRole).values(user_id=user_id, role=Role.ANGGOTA))
            member_id = db.session.execute(
                insert(Member)
                .values(
                    member_no=f"{PREFIX[group]}-2026-{n:06d}",
                    group_code=group,
                    kind=MemberKind.INDIVIDUAL,
                    status=MemberStatus.ACTIVE,
                    full_name=f"Pemilih {group} {i}",
                    nik=_nik(),
                    joined_date=activated.date(),
                    activated_at=activated,
                    user_id=user_id,
                    applied_at=activated,
                    status_changed_at=activated,
                )
                .returning(Member.id)
            ).scalar_one()
            out.append((user_id, member_id, group))
            numbers.append((member_id, f"{PREFIX[group]}-2026-{n:06d}", group))
    book_pokok(numbers)
    db.session.commit()
    return out


def make_proposal(by_user=None, *, open_now: bool = True, minutes: int = 60, **kwargs):
    """A yes/no proposal whose window started a minute ago; opened unless ``open_now=False``."""
    ensure_ad()
    now = now_utc()
    fields = {
        "kind": "ordinary",
        "title": "Usulan uji",
        "opens_at": now - dt.timedelta(minutes=1),
        "closes_at": now + dt.timedelta(minutes=minutes),
    }
    fields.update(kwargs)
    proposal = services.create_proposal(by_user=by_user, **fields)
    if open_now:
        services.open_proposal(proposal, by_user=by_user)
    db.session.commit()
    return proposal


def member_by_id(member_id: int) -> Member:
    return db.session.scalar(select(Member).where(Member.id == member_id))


def login_session(client, user_id: int, session_version: int = 1) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:{session_version}"
        session["_fresh"] = True
