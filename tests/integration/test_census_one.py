"""Issue 16, items 1-2: ONE census (``members.census.services.compute_census``) with every
reason a member is left out, pokok_unpaid included; governance freezes exactly that list."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select

from governance import services as gov
from governance.models import CensusEntry, CensusExclusion
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.census import services as census
from members.savings import billing
from tests.factories import book_pokok
from tests.integration.governance_factories import (
    ensure_ad,
    make_member,
    make_proposal,
    set_group,
)


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


@pytest.fixture
def people(monkeypatch):
    paid = make_member("pengemudi")
    partial = make_member("pengemudi", pokok_paid=False)
    book_pokok([(partial.id, partial.member_no, "pengemudi")], amount_idr=40_000)
    nothing = make_member("kurir", pokok_paid=False)
    late = make_member("kurir")
    newcomer = make_member("pengguna", activated_at=now_utc() + dt.timedelta(hours=1))
    db.session.commit()
    monkeypatch.setattr(billing, "arrears_months", lambda ids, on: {late.id: 4})
    return {
        "paid": paid,
        "partial": partial,
        "nothing": nothing,
        "late": late,
        "newcomer": newcomer,
    }


def test_every_reason_in_one_call(people):
    rows, excluded = census.compute_census(gov.current_ad(), now_utc())
    assert [r.member_id for r in rows] == [people["paid"].id]
    reasons = {e.member_id: e for e in excluded}
    assert reasons[people["partial"].id].reason == "pokok_unpaid"
    assert (
        reasons[people["partial"].id].pokok_paid_idr,
        reasons[people["partial"].id].pokok_required_idr,
    ) == (40_000, 100_000)
    assert reasons[people["nothing"].id].reason == "pokok_unpaid"
    assert reasons[people["nothing"].id].pokok_paid_idr == 0
    assert (reasons[people["late"].id].reason, reasons[people["late"].id].arrears_months) == (
        "arrears",
        4,
    )
    assert reasons[people["newcomer"].id].reason == "joined_after"
    # the wrapper and the group filter read the same census
    assert [e.member_id for e in census.eligible_members(gov.current_ad())] == [people["paid"].id]
    assert census.compute_census(gov.current_ad(), now_utc(), group="kurir")[0] == []
    assert {e.member_id for e in census.compute_census(gov.current_ad(), group="kurir")[1]} == {
        people["nothing"].id,
        people["late"].id,
    }


def test_a_group_that_does_not_vote_is_out_before_any_other_reason(people):
    set_group("pengemudi", members_vote=False)
    db.session.commit()
    _, excluded = census.compute_census(gov.current_ad(), now_utc())
    reasons = {e.member_id: e.reason for e in excluded}
    assert reasons[people["paid"].id] == "group_no_vote"
    assert reasons[people["partial"].id] == "group_no_vote"


def test_the_census_is_two_queries_however_many_members():
    for group in ("pengemudi", "kurir", "pengguna") * 10:
        make_member(group)
    make_member("kurir", pokok_paid=False)
    db.session.commit()
    ad = gov.current_ad()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ARG001
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rows, excluded = census.compute_census(ad, now_utc())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert (len(rows), len(excluded)) == (30, 1)
    assert len(statements) <= 2, statements


def test_governance_freezes_the_pokok_reason_and_explains_the_refusal(people, client, login_as):
    proposal = make_proposal()
    frozen = set(db.session.scalars(select(CensusEntry.member_id)))
    assert frozen == {people["paid"].id}
    row = db.session.scalar(
        select(CensusExclusion).where(CensusExclusion.member_id == people["partial"].id)
    )
    assert (row.reason, row.pokok_paid_idr, row.pokok_required_idr) == (
        "pokok_unpaid",
        40_000,
        100_000,
    )
    with pytest.raises(DomainError) as refused:
        gov.cast_vote(proposal, people["partial"], "yes")
    assert refused.value.code == "not_in_census_pokok"
    assert "Rp 40.000" in refused.value.message and "Rp 100.000" in refused.value.message
    assert "kurang Rp 60.000" in refused.value.message
    db.session.rollback()
    login_as("pengawas")
    page = client.get(f"/pemungutan/{proposal.id}/pemilih").get_data(as_text=True)
    assert "simpanan pokok belum lunas (Rp 40.000 dari Rp 100.000)" in page
