"""Issue 25: the board's SHU run page costs O(page), not O(members).

The run's unpaid count and amount brackets are stored with the run (kept current by every
line status change), and a page of lines is one range of the display-order index (keyset),
so the page reads no more rows at 1,000,000 members than at 1,000.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from kmp.auth import Role
from kmp.extensions import db as _db
from kmp.payments.iris import FakeDisburser
from kmp.registry import get_registry
from payouts import posting, reports, services, transfers
from payouts.models import DistributionLine, DistributionRun, LineStatus
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_ballot, shu_member
from tests.integration.test_query_hygiene import counting


@pytest.fixture
def fake(app):
    disburser = FakeDisburser("fake-merchant")
    registry = get_registry(app)
    registry.disburser = disburser
    yield disburser
    registry.disburser = None


def _not_paid(run_id: int) -> tuple[int, int]:
    """(stored counter, real count) of the run's lines not yet paid."""
    _db.session.expire_all()
    run = _db.session.get(DistributionRun, run_id)
    real = _db.session.scalar(
        select(func.count())
        .select_from(DistributionLine)
        .where(DistributionLine.run_id == run_id, DistributionLine.status != LineStatus.PAID)
    )
    return run.lines_not_paid, real


def _brackets_by_query(run: DistributionRun) -> list[tuple[int, int]]:
    stored = dict(run.summary)
    stored.pop("brackets")
    legacy = DistributionRun(id=run.id, summary=stored)  # a run computed before the summary
    return [(b.members, b.total_idr) for b in reports.amount_distribution(legacy)]


def test_unpaid_counter_and_brackets_stay_true_through_every_payout(make_user, fake):
    maker, checker = make_user(Role.PENGURUS), make_user(Role.BENDAHARA)
    members = [
        shu_member("pengemudi", wajib=50_000, trips=10 + 5 * i, user=make_user(Role.ANGGOTA))
        for i in range(5)
    ]
    book_surplus(9_000_000)
    _db.session.commit()
    run = services.create_run(fiscal_year())
    services.compute_run(run)
    _db.session.commit()
    assert _not_paid(run.id) == (5, 5)
    run = _db.session.get(DistributionRun, run.id)
    stored = [(b.members, b.total_idr) for b in reports.amount_distribution(run)]
    assert stored == _brackets_by_query(run) and sum(m for m, _ in stored) == 5

    shu_ballot(run, members, by_user=maker)
    _db.session.commit()
    run = _db.session.get(DistributionRun, run.id)
    by_transfer = transfers.member_line(run, members[0].id)
    transfers.choose_method(by_transfer, "transfer")
    in_cash = transfers.member_line(run, members[1].id)
    transfers.choose_method(in_cash, "cash")
    posting.post_run(run)
    transfers.pay_sukarela(run)  # the other three
    _db.session.commit()
    assert _not_paid(run.id) == (2, 2)

    transfers.pay_cash(_db.session.get(DistributionLine, in_cash.id), checker)
    _db.session.commit()
    assert _not_paid(run.id) == (1, 1)

    line = _db.session.get(DistributionLine, by_transfer.id)
    transfer = transfers.request_transfer(
        line, bank="bca", account="1234567890", account_name="Budi", by_user=maker
    )
    transfers.approve_transfer(transfer, checker)
    _db.session.commit()
    assert _not_paid(run.id) == (1, 1)  # in transit is not paid yet
    assert transfers.apply_transfer_status(transfer.reference_no, "completed")
    _db.session.commit()
    assert _not_paid(run.id) == (0, 0)
    assert transfers.apply_transfer_status(transfer.reference_no, "failed")  # returned later
    _db.session.commit()
    assert _not_paid(run.id) == (1, 1)


def _big_run(make_user, n: int) -> int:
    users = [make_user(Role.ANGGOTA) for _ in range(n)]
    for i, user in enumerate(users):
        shu_member(("pengemudi", "kurir")[i % 2], wajib=25_000, trips=5 + i, user=user)
    book_surplus(50_000_000)
    _db.session.commit()
    run = services.create_run(fiscal_year())
    services.compute_run(run)
    _db.session.commit()
    return run.id


def _rows(html: str) -> list[str]:
    return re.findall(r"<td>((?:DRV|KUR)-[^<]+)</td>", html)


def test_run_page_keyset_pages_match_the_display_order(client, login_as, make_user, monkeypatch):
    monkeypatch.setattr("payouts.views.PAGE_SIZE", 4)
    run_id = _big_run(make_user, 10)
    expected = list(
        _db.session.scalars(
            select(DistributionLine.member_no)
            .where(DistributionLine.run_id == run_id)
            .order_by(DistributionLine.group_code, DistributionLine.member_no)
        )
    )
    login_as(Role.PENGURUS)
    seen, url = [], f"/shu/{run_id}"
    for _ in range(3):
        html = client.get(url).get_data(as_text=True)
        seen += _rows(html)
        nxt = re.search(r'href="([^"]+)" rel="next"', html)
        if not nxt:
            break
        url = nxt.group(1).replace("&amp;", "&")
        assert "setelah=" in url
    assert seen == expected
    # back from the last page by keyset, and a bare page number still works
    prev = re.search(r'href="([^"]+)" rel="prev"', html).group(1).replace("&amp;", "&")
    assert "sebelum=" in prev
    assert _rows(client.get(prev).get_data(as_text=True)) == expected[4:8]
    assert _rows(client.get(f"/shu/{run_id}?halaman=2").get_data(as_text=True)) == expected[4:8]
    assert client.get(f"/shu/{run_id}?setelah=rusak").status_code == 200  # a bad key: page 1


def test_run_page_reads_no_whole_run(client, login_as, make_user):
    run_id = _big_run(make_user, 6)
    login_as(Role.PENGURUS)
    client.get(f"/shu/{run_id}")
    with counting() as statements:
        assert client.get(f"/shu/{run_id}").status_code == 200
    whole = [
        s
        for s in statements
        if "distribution_lines" in s and ("count(" in s.lower() or "GROUP BY" in s)
    ]
    assert not whole, whole


def test_the_page_of_lines_is_an_index_range(make_user):
    run_id = _big_run(make_user, 3)
    stmt = (
        select(DistributionLine)
        .where(DistributionLine.run_id == run_id)
        .order_by(DistributionLine.group_code, DistributionLine.member_no)
        .limit(50)
    )
    compiled = stmt.compile(_db.engine, compile_kwargs={"literal_binds": True})
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(r[0] for r in _db.session.execute(text(f"EXPLAIN {compiled}")))
        assert "ix_distribution_lines_run_display" in plan and "Sort" not in plan, plan
    else:
        plan = " ".join(
            str(r[-1]) for r in _db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        )
        assert "ix_distribution_lines_run_display" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


# --------------------------------------------------------------------------- the register


def _true_counts() -> dict[str, int]:
    from members.register.models import Member

    rows = _db.session.execute(select(Member.status, func.count()).group_by(Member.status))
    return {str(getattr(s, "value", s)): n for s, n in rows}


def test_register_counts_follow_every_writer(make_user):
    """Triggers keep the counts whoever writes: ORM transitions, bulk Core inserts and
    updates (the generator, imports), deletes."""
    from sqlalchemy import delete, update

    from bench.generate import generate
    from members.register.models import Member
    from members.register.queries import status_counts
    from members.register.states import MemberStatus
    from tests.integration.governance_factories import make_member

    assert status_counts() == {}
    with _db.engine.connect() as conn:
        generate(conn, members=25, months=1, seed=11)
    if _db.engine.dialect.name == "postgresql":  # the generator writes its own ids
        _db.session.execute(
            text("SELECT setval(pg_get_serial_sequence('members', 'id'), max(id)) FROM members")
        )
        _db.session.commit()
    _db.session.expire_all()
    assert status_counts() == _true_counts() and sum(status_counts().values()) == 25
    one = make_member("kurir", status=MemberStatus.APPLIED)
    _db.session.commit()
    one.status = MemberStatus.ACTIVE
    one.member_no = "KUR-2026-777777"
    _db.session.commit()
    assert status_counts() == _true_counts()
    active = list(
        _db.session.scalars(select(Member.id).where(Member.status == MemberStatus.ACTIVE).limit(4))
    )
    _db.session.execute(
        update(Member).where(Member.id.in_(active)).values(status=MemberStatus.EXITED.value)
    )
    _db.session.execute(update(Member).where(Member.id == active[0]).values(full_name="x"))
    _db.session.commit()
    assert status_counts() == _true_counts()
    assert status_counts()["exited"] >= 4
    _db.session.rollback()
    fresh = make_member("pengemudi", pokok_paid=False)
    _db.session.flush()
    _db.session.execute(delete(Member).where(Member.id == fresh.id))
    _db.session.commit()
    assert status_counts() == _true_counts()


def test_register_list_reads_the_counts_not_the_register(client, login_as, make_user):
    from bench.generate import generate

    board = make_user("pengurus")
    with _db.engine.connect() as conn:
        generate(conn, members=12, months=1, seed=12)
    login_as(user=board)
    client.get("/pengurus/anggota")
    with counting() as statements:
        html = client.get("/pengurus/anggota").get_data(as_text=True)
    assert not [s for s in statements if "count(" in s.lower() and "FROM members" in s]
    assert f"{sum(_true_counts().values())} anggota ditemukan" in html
