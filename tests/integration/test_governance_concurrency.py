"""Issue 6, must-show 4 (PostgreSQL): 500 members cast concurrently through the HTTP app —
exactly 500 ballots, no duplicates, and the tally equals the sum of the choices."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from governance import services
from governance.models import BallotChoice, BallotParticipation
from tests.conftest import csrf_from
from tests.integration.governance_factories import (
    bulk_voters,
    ensure_ad,
    login_session,
    make_proposal,
)

GROUPS = {"pengemudi": 200, "kurir": 150, "pengguna": 100, "platform": 50}


@pytest.mark.postgres
def test_500_members_vote_concurrently_through_http(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    started = time.monotonic()
    ensure_ad()
    db.session.commit()
    voters = bulk_voters(GROUPS)
    assert len(voters) == 500
    proposal = make_proposal(minutes=30)
    pid = proposal.id
    rng = random.Random(6)
    wanted = {member_id: rng.choice(("yes", "no", "abstain")) for _, member_id, _ in voters}
    # 40 members press the button twice at the same moment (two tabs): still one ballot each.
    doubles = {member_id for _, member_id, _ in voters[:40]}

    clients = {}
    for user_id, member_id, _group in voters:
        client = app.test_client()
        login_session(client, user_id)
        clients[member_id] = client

    def prepare(member_id):
        page = clients[member_id].get(f"/pemungutan/{pid}")
        assert page.status_code == 200
        return member_id, csrf_from(page.get_data(as_text=True))

    with ThreadPoolExecutor(max_workers=16) as pool:
        tokens = dict(pool.map(prepare, list(clients)))

    jobs = [(m, wanted[m]) for m in clients] + [(m, wanted[m]) for m in doubles]
    rng.shuffle(jobs)

    def vote(job):
        member_id, option = job
        response = clients[member_id].post(
            f"/pemungutan/{pid}/pilih", data={"csrf_token": tokens[member_id], "option": option}
        )
        assert response.status_code == 303, response.status_code
        return response.headers["Location"].endswith("/tanda-terima")

    with ThreadPoolExecutor(max_workers=16) as pool:
        accepted = list(pool.map(vote, jobs))
    assert sum(accepted) == 500  # the 40 second presses were refused

    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(BallotParticipation)) == 500
    assert (
        db.session.scalar(select(func.count(func.distinct(BallotParticipation.member_id)))) == 500
    )
    assert db.session.scalar(select(func.count()).select_from(BallotChoice)) == 500
    assert db.session.scalar(select(func.count(func.distinct(BallotChoice.receipt_code)))) == 500

    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    expected = Counter(wanted.values())
    assert resolution.tally["total_counts"] == {o: expected[o] for o in ("yes", "no", "abstain")}
    assert resolution.tally["total_participants"] == 500
    per_group = {g["code"]: g for g in resolution.tally["groups"]}
    for group, count in GROUPS.items():
        assert per_group[group]["eligible"] == per_group[group]["participants"] == count
        assert sum(per_group[group]["counts"].values()) == count
    stored = dict(
        db.session.execute(
            select(BallotChoice.option, func.count()).group_by(BallotChoice.option)
        ).all()
    )
    assert stored == {o: n for o, n in expected.items()}
    assert time.monotonic() - started < 60  # typically 12-25 s on 2 cores
