"""Issue 6, must-show 5: elections — certificates at nomination, reserved group seats,
elected candidates become officers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from governance import elections, services
from governance.models import Nomination, Outcome
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.officers.models import Officer, OfficerBody, OfficerFunction
from tests.integration.governance_factories import ensure_ad, make_member, set_ad

TERM_START = dt.date(2026, 7, 1)
TERM_END = dt.date(2031, 6, 30)


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


def certify(member, *, expires_in_days: int = 365, office: str = "pengurus"):
    """A verified competence certificate of the office's AD scheme."""
    from tests.integration.training_support import certify as record_and_verify

    record_and_verify(member, office, expires_in_days=expires_in_days)


def seats_only_for(group: str, n: int, office: str = "pengurus"):
    field = f"{office}_seats"
    ad = ensure_ad()
    from dataclasses import replace

    groups = tuple(replace(g, **{field: n if g.code == group else 0}) for g in ad.groups)
    return set_ad(groups=groups)


def election(by_user=None, *, seats: int = 2, office: str = "pengurus"):
    now = now_utc()
    proposal = services.create_proposal(
        kind="election",
        title="Pemilihan pengurus 2026-2031",
        seats=seats,
        office=office,
        term_start=TERM_START,
        term_end=TERM_END,
        opens_at=now + dt.timedelta(minutes=10),
        closes_at=now + dt.timedelta(hours=2),
        by_user=by_user,
    )
    db.session.commit()
    return proposal


def test_candidate_without_certificate_is_refused_at_nomination(db, make_user):
    pengurus = make_user("pengurus")
    proposal = election(pengurus)
    uncertified = make_member("pengemudi", name="Budi Tanpa Sertifikat")
    expired = make_member("kurir", name="Citra Kedaluwarsa")
    certify(expired, expires_in_days=-1)
    certified = make_member("kurir", name="Dewi Bersertifikat")
    certify(certified)
    db.session.commit()

    with pytest.raises(DomainError) as refused:
        elections.nominate_candidate(proposal, uncertified, pengurus)
    assert refused.value.code == "not_certified"
    assert "Budi Tanpa Sertifikat" in refused.value.message
    assert "sertifikat kompetensi" in refused.value.message
    db.session.rollback()
    with pytest.raises(DomainError) as refused:
        elections.nominate_candidate(proposal, expired, pengurus)
    assert refused.value.code == "not_certified"
    db.session.rollback()

    elections.nominate_candidate(proposal, certified, pengurus)
    db.session.commit()
    assert [n.member_id for n in db.session.scalars(select(Nomination))] == [certified.id]
    with pytest.raises(DomainError) as twice:
        elections.nominate_candidate(proposal, certified, pengurus)
    assert twice.value.code == "already_nominated"


def test_certificates_not_required_when_the_ad_says_so(db):
    set_ad(require_certified_officers=False)
    proposal = election()
    member = make_member("pengemudi")
    elections.nominate_candidate(proposal, member)
    db.session.commit()


def test_nomination_closed_once_voting_opens(db, make_user):
    pengurus = make_user("pengurus")
    proposal = election(pengurus)
    candidate = make_member("pengemudi")
    certify(candidate)
    elections.nominate_candidate(proposal, candidate, pengurus)
    services.open_proposal(proposal, by_user=pengurus)
    db.session.commit()
    late = make_member("kurir")
    certify(late)
    with pytest.raises(DomainError) as refused:
        elections.nominate_candidate(proposal, late, pengurus)
    assert refused.value.code == "nominations_closed"


def test_reserved_group_seat_changes_the_outcome_and_creates_officers(db, make_user):
    """Two seats, one reserved for couriers. Pure ranking elects drivers A and B; with the
    reserved seat the courier C takes a seat and B is not elected."""
    seats_only_for("kurir", 1)
    pengurus = make_user("pengurus")
    proposal = election(pengurus, seats=2)
    a = make_member("pengemudi", name="Ahmad")
    b = make_member("pengemudi", name="Bayu")
    c = make_member("kurir", name="Citra")
    for candidate in (a, b, c):
        certify(candidate)
        elections.nominate_candidate(proposal, candidate, pengurus)
    drivers = [a, b] + [make_member("pengemudi") for _ in range(3)]
    couriers = [c] + [make_member("kurir") for _ in range(2)]
    db.session.commit()
    services.open_proposal(proposal, by_user=pengurus)
    db.session.commit()
    assert proposal.reserved_seats == {"kurir": 1}
    assert [o["key"] for o in proposal.options] == [
        a.member_no,
        b.member_no,
        c.member_no,
        "abstain",
    ]

    # Drivers: A 3, B 2. Couriers: A 1, B 1, C 1.
    for voter, choice in zip(drivers, [a, a, a, b, b], strict=True):
        services.cast_vote(proposal, voter, choice.member_no)
    for voter, choice in zip(couriers, [c, a, b], strict=True):
        services.cast_vote(proposal, voter, choice.member_no)
    db.session.commit()

    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    tally = resolution.tally
    assert resolution.outcome is Outcome.PASSED
    shares = {row["candidate"]: row["weighted_share"] for row in tally["candidates"]}
    # weights normalised over the two voting groups: 7/12 and 5/12
    assert shares == {a.member_no: "22/45", b.member_no: "67/180", c.member_no: "5/36"}
    # Pure ranking by weighted share would elect A and B ...
    ranked = sorted(shares, key=lambda k: services.logic.unfrac(shares[k]), reverse=True)[:2]
    assert ranked == [a.member_no, b.member_no]
    # ... but the reserved courier seat elects C instead of B.
    assert tally["weighted"]["elected"] == [a.member_no, c.member_no]
    assert tally["weighted"]["reserved"] == {
        "kurir": {"total": 1, "filled": 1, "contested": 0, "vacant": 0}
    }
    assert tally["plain"]["elected"] == [a.member_no, c.member_no]

    officers = db.session.scalars(select(Officer).order_by(Officer.member_id)).all()
    assert [(o.member_id, o.body, o.function, o.term_start, o.term_end) for o in officers] == [
        (a.id, OfficerBody.PENGURUS, OfficerFunction.ANGGOTA_PENGURUS, TERM_START, TERM_END),
        (c.id, OfficerBody.PENGURUS, OfficerFunction.ANGGOTA_PENGURUS, TERM_START, TERM_END),
    ]


def test_reserved_seats_beyond_seats_refused_at_opening(db, make_user):
    pengurus = make_user("pengurus")
    proposal = election(pengurus, seats=1)  # the default AD reserves 5 pengurus seats
    candidate = make_member("pengemudi")
    certify(candidate)
    elections.nominate_candidate(proposal, candidate, pengurus)
    make_member("kurir")
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.open_proposal(proposal, by_user=pengurus)
    assert refused.value.code == "reserved_over_seats"


def test_tie_for_the_last_seat_is_reported_not_broken(db, make_user):
    seats_only_for("kurir", 0, office="pengawas")
    pengurus = make_user("pengurus")
    proposal = election(pengurus, seats=1, office="pengawas")
    a, b = make_member("pengemudi"), make_member("pengemudi")
    for candidate in (a, b):
        certify(candidate, office="pengawas")
        elections.nominate_candidate(proposal, candidate, pengurus)
    db.session.commit()
    services.open_proposal(proposal, by_user=pengurus)
    services.cast_vote(proposal, a, b.member_no)
    services.cast_vote(proposal, b, a.member_no)
    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    assert resolution.outcome is Outcome.FAILED  # nobody elected for sure
    assert resolution.tally["weighted"]["ties"][0]["candidates"] == [a.member_no, b.member_no]
    assert db.session.scalar(select(Officer.id)) is None


def test_election_form_validation(db):
    now = now_utc()
    with pytest.raises(DomainError) as refused:
        services.create_proposal(
            kind="election",
            title="x",
            seats=2,
            office="pengurus",
            term_start=TERM_START,
            term_end=dt.date(2032, 7, 1),
            opens_at=now,
            closes_at=now + dt.timedelta(hours=1),
        )
    assert refused.value.code == "term_too_long"
    with pytest.raises(DomainError) as refused:
        services.create_proposal(
            kind="election",
            title="x",
            seats=0,
            office="pengurus",
            term_start=TERM_START,
            term_end=TERM_END,
            opens_at=now,
            closes_at=now + dt.timedelta(hours=1),
        )
    assert refused.value.code == "seats_required"
