"""Ballots end to end at the service level: census, casting, closing, the schedule, signals."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from governance import services
from governance.models import (
    BallotChoice,
    BallotParticipation,
    CensusEntry,
    CensusExclusion,
    GovernanceEvent,
    OpenBallotVote,
    Outcome,
    Proposal,
    ProposalStatus,
    Resolution,
)
from kmp import signals
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.registry import get_registry
from kmp.timeutil import now_utc, set_clock
from members.register.states import MemberStatus
from tests.integration.governance_factories import (
    ensure_ad,
    make_member,
    make_proposal,
    set_ad,
    set_group,
)


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


@pytest.fixture
def arrears(app):
    """Install the savings feature's arrears hook for one test: ``arrears[member_id] = n``."""
    months: dict[int, int] = {}
    calls = []

    def hook(member_ids, on_date=None):  # noqa: ARG001
        calls.append(list(member_ids))
        return {m: months.get(m, 0) for m in member_ids}

    from members.savings import billing

    previous = billing.arrears_months
    billing.arrears_months = hook
    months["calls"] = calls  # type: ignore[index]
    yield months
    billing.arrears_months = previous


def _members(spec: dict[str, int]):
    return {g: [make_member(g) for _ in range(n)] for g, n in spec.items()}


def test_census_is_frozen_with_fingerprint_and_reasons(db, arrears):
    m = _members({"pengemudi": 3, "kurir": 2, "pengguna": 1, "platform": 1})
    late = m["kurir"][1]
    arrears[late.id] = 4  # AD limit: 3 months
    arrears[m["pengemudi"][0].id] = 3  # at the limit: still eligible
    applicant = make_member("pengemudi", status=MemberStatus.APPLIED)
    db.session.commit()

    proposal = make_proposal()

    entries = db.session.execute(
        select(CensusEntry.member_no, CensusEntry.group_code).where(
            CensusEntry.proposal_id == proposal.id
        )
    ).all()
    assert proposal.census_size == len(entries) == 6
    assert late.id not in {r for (r,) in db.session.execute(select(CensusEntry.member_id))}
    lines = "".join(f"{no}|{g}\n" for no, g in sorted(f"{a}|{b}".split("|") for a, b in entries))
    assert proposal.census_fingerprint == hashlib.sha256(lines.encode()).hexdigest()
    exclusion = db.session.scalar(select(CensusExclusion))
    assert (exclusion.member_id, exclusion.reason, exclusion.arrears_months) == (
        late.id,
        "arrears",
        4,
    )
    assert applicant.id not in {e.member_id for e in db.session.scalars(select(CensusEntry))}
    # Snapshot of the AD at opening
    ad = services.current_ad()
    assert proposal.ad_version_id == ad.version_id
    assert proposal.group_weights == {
        "pengemudi": 3500,
        "kurir": 2500,
        "pengguna": 2000,
        "platform": 2000,
    }
    assert (proposal.quorum_num, proposal.quorum_den, proposal.quorum_inclusive) == (1, 2, False)
    assert (proposal.threshold_num, proposal.threshold_den, proposal.threshold_inclusive) == (
        1,
        2,
        False,
    )

    # The member in arrears gets a clear refusal, nothing is written.
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, late, "yes")
    assert refused.value.code == "not_in_census_arrears"
    assert "tunggakan simpanan wajib Anda 4 bulan" in refused.value.message
    assert "batas AD: 3 bulan" in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(BallotParticipation)) == 0


def test_arrears_limit_comes_from_the_ad(db, arrears):
    member = make_member("kurir")
    make_member("kurir")
    arrears[member.id] = 2
    set_ad(max_wajib_arrears_months=1)
    db.session.commit()
    proposal = make_proposal()
    assert proposal.census_size == 1
    assert member.id not in {e.member_id for e in db.session.scalars(select(CensusEntry))}
    assert arrears["calls"], "the census asked the arrears hook"


def test_member_admitted_after_opening_is_refused(db):
    make_member("pengemudi")
    proposal = make_proposal()
    newcomer = make_member("pengemudi", activated_at=now_utc() + dt.timedelta(seconds=1))
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, newcomer, "yes")
    assert refused.value.code == "not_in_census_joined_after"
    assert "sesudah pemungutan suara dibuka" in refused.value.message


def test_non_voting_group_is_left_out(db):
    make_member("pengemudi")
    company = make_member("platform")
    set_group("platform", members_vote=False)
    db.session.commit()
    proposal = make_proposal()
    assert "platform" not in proposal.group_weights
    exclusion = db.session.scalar(select(CensusExclusion))
    assert (exclusion.member_id, exclusion.reason) == (company.id, "group_no_vote")
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, company, "yes")
    assert refused.value.code == "not_in_census_group"


def test_cast_vote_once_then_refused(db):
    voter = make_member("pengemudi")
    make_member("kurir")
    proposal = make_proposal()
    result = services.cast_vote(proposal, voter, "yes")
    db.session.commit()
    assert result.receipt_code and not result.changed
    with pytest.raises(DomainError) as again:
        services.cast_vote(proposal, voter, "no")
    assert again.value.code == "already_voted"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(BallotChoice)) == 1


def test_invalid_option_refused(db):
    voter = make_member("pengemudi")
    proposal = make_proposal()
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, voter, "maybe")
    assert refused.value.code == "invalid_option"


def test_vote_after_close_refused_even_before_the_job_runs(db):
    voter = make_member("pengemudi")
    proposal = make_proposal(minutes=5)
    later = now_utc() + dt.timedelta(minutes=6)
    set_clock(lambda: later)
    assert proposal.status is ProposalStatus.OPEN  # the job has not closed it yet
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, voter, "yes")
    assert refused.value.code == "ballot_closed"
    db.session.rollback()
    services.run_ballot_schedule()
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, voter, "yes")
    assert refused.value.code == "ballot_closed"


def test_vote_before_opening_refused(db):
    voter = make_member("pengemudi")
    proposal = make_proposal(open_now=False, opens_at=now_utc() + dt.timedelta(minutes=5))
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, voter, "yes")
    assert refused.value.code == "ballot_not_open"


def test_second_vote_refused_by_the_database_when_the_app_check_is_bypassed(db):
    voter = make_member("pengemudi")
    proposal = make_proposal()
    services.cast_vote(proposal, voter, "yes")
    db.session.commit()
    # Bypass every application check: insert a second participation row directly.
    with pytest.raises(IntegrityError):
        db.session.execute(
            insert(BallotParticipation).values(
                proposal_id=proposal.id,
                member_id=voter.id,
                group_code="pengemudi",
                cast_at=now_utc(),
                change_count=0,
            )
        )
        db.session.flush()
    db.session.rollback()
    # Raw SQL, outside the ORM, is refused too.
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO ballot_participations (proposal_id, member_id, group_code, cast_at,"
                " change_count) VALUES (:p, :m, 'pengemudi', :t, 0)"
            ),
            {"p": proposal.id, "m": voter.id, "t": now_utc().replace(tzinfo=None)},
        )
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(BallotParticipation)) == 1


def test_participation_outside_the_census_refused_by_the_database(db):
    make_member("pengemudi")
    outsider = make_member("kurir", status=MemberStatus.EXIT_REQUESTED)
    proposal = make_proposal()
    with pytest.raises(IntegrityError):
        db.session.execute(
            insert(BallotParticipation).values(
                proposal_id=proposal.id,
                member_id=outsider.id,
                group_code="kurir",
                cast_at=now_utc(),
                change_count=0,
            )
        )
        db.session.flush()
    db.session.rollback()


def test_app_check_bypassed_concurrent_duplicate_is_refused(db, monkeypatch):
    """Even if the "already voted" look-up misses the first vote (as under a race), the
    unique constraint refuses the second one and the service reports it clearly."""
    voter = make_member("pengemudi")
    proposal = make_proposal()
    services.cast_vote(proposal, voter, "yes")
    db.session.commit()

    real_execute = db.session.execute

    def blind_execute(statement, *args, **kwargs):
        result = real_execute(statement, *args, **kwargs)
        sql = str(statement)
        if "FROM ballot_participations" in sql and "FOR UPDATE" in sql:

            class Empty:
                def scalar_one_or_none(self):
                    return None

            return Empty()
        return result

    monkeypatch.setattr(db.session, "execute", blind_execute)
    with pytest.raises(DomainError) as refused:
        services.cast_vote(proposal, voter, "no")
    monkeypatch.undo()
    assert refused.value.code == "already_voted"
    # the message of the database guard, not of the application check
    assert refused.value.message == "Suara Anda untuk usulan ini sudah tercatat."
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(BallotChoice)) == 1


def test_change_vote_replaces_previous_choice(db):
    voter = make_member("pengemudi")
    other = make_member("kurir")
    proposal = make_proposal(allow_change=True)
    first = services.cast_vote(proposal, voter, "yes")
    services.cast_vote(proposal, other, "no")
    db.session.commit()
    second = services.cast_vote(proposal, voter, "no")
    db.session.commit()
    assert second.changed and second.receipt_code != first.receipt_code
    assert second.change_token == first.change_token
    codes = dict(db.session.execute(select(BallotChoice.receipt_code, BallotChoice.option)).all())
    assert first.receipt_code not in codes and codes[second.receipt_code] == "no"
    participation = db.session.scalar(
        select(BallotParticipation).where(BallotParticipation.member_id == voter.id)
    )
    assert participation.change_count == 1
    third = services.cast_vote(proposal, voter, "abstain")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(BallotChoice)) == 2
    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    assert resolution.tally["total_counts"] == {"yes": 0, "no": 1, "abstain": 1}
    # After the close the change hashes are gone and the receipts survive.
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(BallotChoice)
            .where(BallotChoice.change_hash.is_not(None))
        )
        == 0
    )
    assert third.receipt_code in {
        r for (r,) in db.session.execute(select(BallotChoice.receipt_code))
    }


def _vote_all(proposal, members_and_options):
    for member, option in members_and_options:
        services.cast_vote(proposal, member, option)
    db.session.commit()


def test_close_tallies_weighted_and_plain_and_sends_signal(db):
    # Weighted and plain disagree: many drivers say no, every small group says yes.
    m = _members({"pengemudi": 5, "kurir": 2, "pengguna": 2, "platform": 2})
    proposal = make_proposal()
    votes = [(x, "no") for x in m["pengemudi"][:4]] + [(m["pengemudi"][4], "yes")]
    votes += [(x, "yes") for g in ("kurir", "pengguna", "platform") for x in m[g]]
    _vote_all(proposal, votes)
    adopted = []

    def receiver(sender, **kwargs):  # noqa: ARG001
        adopted.append(kwargs)

    signals.resolution_adopted.connect(receiver)
    try:
        resolution = services.run_ballot_schedule(now=proposal.closes_at)
        db.session.commit()
    finally:
        signals.resolution_adopted.disconnect(receiver)
    assert resolution["closed"] == [proposal.id]
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    res = proposal.resolution
    assert res.outcome is Outcome.PASSED
    # weighted yes = (0.35*1/5 + 0.25 + 0.2 + 0.2) / 1 = 0.72; plain yes = 7/11
    assert res.tally["weighted_yes_share"] == "18/25"
    assert res.tally["plain_yes_share"] == "7/11"
    assert res.tally["total_counts"] == {"yes": 7, "no": 4, "abstain": 0}
    assert res.tally["participations"] == 11
    assert adopted and adopted[0]["proposal"].id == proposal.id
    assert adopted[0]["resolution"].id == res.id
    # The tally equals the sum of the stored choices.
    stored = dict(
        db.session.execute(
            select(BallotChoice.option, func.count()).group_by(BallotChoice.option)
        ).all()
    )
    assert stored == {"yes": 7, "no": 4}


def test_failed_quorum_rejects_and_sends_rejected_signal(db):
    m = _members({"pengemudi": 4, "kurir": 2})
    proposal = make_proposal()
    _vote_all(proposal, [(m["pengemudi"][0], "yes"), (m["kurir"][0], "yes")])
    rejected = []

    def receiver(sender, **kwargs):  # noqa: ARG001
        rejected.append(kwargs)

    signals.resolution_rejected.connect(receiver)
    try:
        resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
        db.session.commit()
    finally:
        signals.resolution_rejected.disconnect(receiver)
    assert resolution.outcome is Outcome.FAILED
    assert "quorum_not_met" in resolution.tally["reasons"]
    assert "group_quorum_not_met:pengemudi" in resolution.tally["reasons"]
    assert rejected and rejected[0]["proposal"].id == proposal.id


@pytest.mark.parametrize(("yes", "no", "passed"), [(2, 1, True), (3, 2, False)])
def test_ad_amendment_needs_two_thirds(db, yes, no, passed):
    voters = [make_member("pengemudi") for _ in range(yes + no)]
    voters += [make_member("kurir")]
    db.session.commit()
    proposal = make_proposal(kind="ad_amendment")
    assert (proposal.threshold_num, proposal.threshold_den, proposal.threshold_inclusive) == (
        2,
        3,
        True,
    )
    votes = [(v, "yes") for v in voters[:yes]] + [(v, "no") for v in voters[yes : yes + no]]
    votes.append((voters[-1], "yes" if yes * 3 >= 2 * (yes + no) else "no"))
    _vote_all(proposal, votes)
    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    assert (resolution.outcome is Outcome.PASSED) is passed


def test_exact_half_fails_ordinary_threshold(db):
    a, b = make_member("pengemudi"), make_member("pengemudi")
    proposal = make_proposal()
    set_ad(quorum_per_group=False)
    _vote_all(proposal, [(a, "yes"), (b, "no")])
    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    assert resolution.outcome is Outcome.FAILED
    assert resolution.tally["reasons"] == ["threshold_not_reached"]


def test_open_roll_call_ballot_stores_the_member(db):
    a, b = make_member("pengemudi"), make_member("kurir")
    proposal = make_proposal(secret=False, allow_change=True)
    assert services.cast_vote(proposal, a, "yes").receipt_code is None
    services.cast_vote(proposal, b, "no")
    services.cast_vote(proposal, b, "yes")
    db.session.commit()
    rows = db.session.execute(select(OpenBallotVote.member_id, OpenBallotVote.option)).all()
    assert sorted(rows) == sorted([(a.id, "yes"), (b.id, "yes")])
    assert db.session.scalar(select(func.count()).select_from(BallotChoice)) == 0
    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    assert resolution.tally["total_counts"]["yes"] == 2


def test_schedule_opens_and_closes_and_is_idempotent(db):
    make_member("pengemudi")
    now = now_utc()
    due = make_proposal(
        open_now=False,
        opens_at=now - dt.timedelta(seconds=5),
        closes_at=now + dt.timedelta(hours=1),
    )
    later = make_proposal(
        open_now=False,
        opens_at=now + dt.timedelta(minutes=30),
        closes_at=now + dt.timedelta(hours=1),
    )
    done = services.run_ballot_schedule(now=now)
    db.session.commit()
    assert done["opened"] == [due.id]
    assert services.run_ballot_schedule(now=now) == {
        "opened": [],
        "closed": [],
        "cancelled": [],
        "failed": [],
    }
    db.session.commit()
    done = services.run_ballot_schedule(now=now + dt.timedelta(hours=1))
    db.session.commit()
    assert sorted(done["closed"]) == [due.id]
    assert done["cancelled"] == [later.id]  # never opened within its window
    assert db.session.scalar(select(func.count()).select_from(Resolution)) == 1
    actions = set(db.session.scalars(select(GovernanceEvent.action)))
    assert {"proposal_created", "proposal_opened", "proposal_closed"} <= actions


def test_schedule_job_is_registered(app):
    jobs = {job.id: job for job in get_registry(app).jobs}
    assert jobs["governance-ballots"].trigger == "interval"
    assert jobs["governance-ballots"].trigger_args == {"minutes": 1}


def test_manual_open_and_close_by_pengurus(db, make_user):
    pengurus = make_user("pengurus")
    voter = make_member("pengemudi")
    proposal = make_proposal(
        by_user=pengurus,
        open_now=False,
        opens_at=now_utc() + dt.timedelta(hours=1),
        closes_at=now_utc() + dt.timedelta(hours=2),
    )
    services.open_proposal(proposal, by_user=pengurus)
    assert proposal.opens_at <= now_utc()
    services.cast_vote(proposal, voter, "yes")
    resolution = services.close_proposal(proposal, by_user=pengurus)
    db.session.commit()
    assert resolution.outcome is Outcome.PASSED
    assert proposal.closes_at <= now_utc()
    with pytest.raises(DomainError):
        services.open_proposal(proposal, by_user=pengurus)


def test_empty_census_cannot_open(db):
    proposal = make_proposal(open_now=False)
    with pytest.raises(DomainError) as refused:
        services.open_proposal(proposal, by_user=None)
    assert refused.value.code == "census_empty"


def test_cancel_needs_reason(db):
    make_member("pengemudi")
    proposal = make_proposal(open_now=False)
    with pytest.raises(DomainError):
        services.cancel_proposal(proposal, None, " ")
    services.cancel_proposal(proposal, None, "Salah ketik")
    assert proposal.status is ProposalStatus.CANCELLED
    with pytest.raises(DomainError):
        services.open_proposal(proposal)


def test_schedule_keeps_going_when_one_proposal_cannot_open(db):
    make_member("pengemudi")
    now = now_utc()
    election = services.create_proposal(
        kind="election",
        title="Tanpa calon",
        seats=5,
        office="pengurus",
        term_start=dt.date(2026, 7, 1),
        term_end=dt.date(2031, 6, 30),
        opens_at=now - dt.timedelta(seconds=1),
        closes_at=now + dt.timedelta(hours=1),
        nominations_open_at=now - dt.timedelta(hours=1),
        nominations_close_at=now - dt.timedelta(seconds=1),
    )
    ordinary = make_proposal(open_now=False)
    db.session.commit()
    done = services.run_ballot_schedule(now=now)
    db.session.commit()
    assert done["failed"] == [election.id]
    assert done["opened"] == [ordinary.id]
    db.session.expire_all()
    assert db.session.get(Proposal, election.id).status is ProposalStatus.DRAFT
    assert db.session.get(Proposal, ordinary.id).status is ProposalStatus.OPEN
