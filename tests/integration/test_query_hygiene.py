"""No N+1: the member dashboard, the member statement and the member register issue a fixed,
small number of SQL statements however many postings or members exist (issue 9).

The cooperative comes from the benchmark generator (``bench.generate``): the same rows the
benchmarks measure (users, members, savings accounts, pokok and monthly wajib postings).
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from bench.generate import generate
from kmp.auth import User
from kmp.extensions import db as _db
from kmp.ledger.models import Account, Posting
from members.register.models import Member

#: Ceilings per page (statements per request once the process has parsed the AD configuration,
#: everything included: session user, roles, the page's own queries). Measured: dashboard 8
#: (user, roles, member, AD version, receipts, exit cases, account balances, BPJS coverage:
#: one grouped query over the member's contribution obligations), statement 5 (issue 25:
#: opening, closing and the count in one grouped pass; no "before the first line" sum on page 1),
#: register 5 (list and page 2: one count by status gives the census line and the total;
#: a search never counts the register, and a short page of matches, such as a member number,
#: needs no count at all: 4). A per-row query breaks them at once.
MAX_STATEMENTS = {"dashboard": 8, "statement": 5, "register": 5}


@contextmanager
def counting():
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ARG001
        statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)


def _generate(members: int, months: int, seed: int) -> None:
    with _db.engine.connect() as conn:
        generate(conn, members=members, months=months, seed=seed)
    _db.session.expire_all()


def _busiest_active_member(first_id: int) -> tuple[Member, int]:
    """The active member (id >= first_id) whose accounts hold the most postings."""
    counts = (
        select(Account.owner_id, func.count(Posting.id).label("n"))
        .join(Posting, Posting.account_id == Account.id)
        .where(Account.owner_id >= first_id)
        .group_by(Account.owner_id)
        .subquery()
    )
    row = _db.session.execute(
        select(Member, counts.c.n)
        .join(counts, counts.c.owner_id == Member.id)
        .where(Member.status == "active")
        .order_by(counts.c.n.desc(), Member.id)
        .limit(1)
    ).first()
    assert row is not None
    return row[0], row[1]


def _get(client, login_as, user_id: int, path: str, counted: list[str]):
    login_as(user=_db.session.get(User, user_id))
    before = len(counted)
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return len(counted) - before


def _warm(client, login_as, user_id: int, path: str) -> None:
    """One request first: the process parses the AD configuration once, not per request."""
    login_as(user=_db.session.get(User, user_id))
    assert client.get(path).status_code == 200


def _member_pages(client, login_as, member: Member) -> dict[str, int]:
    _warm(client, login_as, member.user_id, "/anggota")
    with counting() as counted:
        return {
            "dashboard": _get(client, login_as, member.user_id, "/anggota", counted),
            "statement": _get(client, login_as, member.user_id, "/buku-besar/saya", counted),
        }


def test_member_pages_issue_the_same_few_statements_for_10_or_200_postings(client, login_as):
    # on the member's own accounts: pokok + 9 months of wajib = 10 postings; + 199 = 200
    _generate(20, 9, seed=1)
    small, small_postings = _busiest_active_member(1)
    first_big = _db.session.scalar(select(func.max(Member.id))) + 1
    _generate(20, 199, seed=2)
    big, big_postings = _busiest_active_member(first_big)
    assert (small_postings, big_postings) == (10, 200)
    few = _member_pages(client, login_as, small)
    many = _member_pages(client, login_as, big)
    assert few == many, f"statements grow with postings: {few} -> {many}"
    for page, count in many.items():
        assert count <= MAX_STATEMENTS[page], f"{page}: {count} statements"


def _register_counts(client, login_as, board_user, number: str, name_part: str) -> list[int]:
    _warm(client, login_as, board_user.id, "/pengurus/anggota")
    with counting() as counted:
        return [
            _get(client, login_as, board_user.id, path, counted)
            for path in (
                "/pengurus/anggota",
                f"/pengurus/anggota?q={number}",
                f"/pengurus/anggota?q={name_part}",
                "/pengurus/anggota?halaman=2",
            )
        ]


def test_member_register_issues_the_same_few_statements_for_10_or_200_members(
    client, login_as, make_user
):
    board = make_user("pengurus")
    _generate(10, 1, seed=3)
    some = _db.session.scalar(select(Member).order_by(Member.id).limit(1))
    few = _register_counts(client, login_as, board, some.member_no, "Sintetis")
    _generate(190, 1, seed=4)
    assert _db.session.scalar(select(func.count()).select_from(Member)) == 200
    many = _register_counts(client, login_as, board, some.member_no, "Sintetis")
    # list, number search, name search, page 2. The name search matches 10 members (a short
    # page gives its own total) then 200 (a full page: one count query); nothing else changes.
    assert few[:2] + few[3:] == many[:2] + many[3:], f"statements grow: {few} -> {many}"
    assert many[2] - few[2] <= 1, f"name search grows: {few} -> {many}"
    assert max(many) <= MAX_STATEMENTS["register"], many


def test_register_finds_a_whole_member_number_exactly(client, login_as, make_user):
    """The indexed exact lookup for a whole number finds the member (any case)."""
    board = make_user("pengurus")
    _generate(30, 1, seed=5)
    target = _db.session.scalar(select(Member).order_by(Member.id.desc()).limit(1))
    login_as(user=board)
    for query in (target.member_no, target.member_no.lower()):
        html = client.get(f"/pengurus/anggota?q={query}").get_data(as_text=True)
        assert target.member_no in html
        others = _db.session.scalars(select(Member.member_no).where(Member.id != target.id))
        assert not any(no in html for no in others)


@pytest.mark.parametrize("path", ["/anggota", "/buku-besar/saya"])
def test_generated_member_sees_own_pages(client, login_as, path):
    _generate(3, 2, seed=6)
    member = _db.session.scalar(
        select(Member).where(Member.status == "active").order_by(Member.id).limit(1)
    )
    login_as(user=_db.session.get(User, member.user_id))
    response = client.get(path)
    assert response.status_code == 200


def test_register_search_does_not_count_the_register(client, login_as, make_user):
    """A search is served by its own matches; the census by status (and the total it gives)
    belongs to the unfiltered list and the status filter."""
    board = make_user("pengurus")
    _generate(30, 1, seed=7)
    target = _db.session.scalar(select(Member).order_by(Member.id.desc()).limit(1))
    members = _db.session.scalar(select(func.count()).select_from(Member))
    active = _db.session.scalar(
        select(func.count()).select_from(Member).where(Member.status == "active")
    )
    login_as(user=board)
    with counting() as counted:
        html = client.get(f"/pengurus/anggota?q={target.member_no}").get_data(as_text=True)
    assert not [s for s in counted if "GROUP BY members.status" in s]
    assert 'data-testid="register-census"' not in html
    assert "1 anggota ditemukan" in html
    html = client.get("/pengurus/anggota").get_data(as_text=True)
    assert 'data-testid="register-census"' in html
    assert f"{members} anggota ditemukan" in html
    html = client.get("/pengurus/anggota?status=active").get_data(as_text=True)
    assert f"{active} anggota ditemukan" in html
