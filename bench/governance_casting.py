"""Casting (governance): members casting secret votes one by one through
``governance.services.cast_vote``, one transaction (commit) per vote, on an open ballot whose
frozen census holds all N members of the synthetic cooperative.

Per vote the service locks the proposal (FOR SHARE on PostgreSQL), checks the window, looks up
the census row, checks for an earlier vote (FOR UPDATE), writes the participation (savepoint:
the unique constraint is the last guard) and the secret choice with a random receipt. The
timed part casts ``min(N, 1,000)`` votes (members chosen across the census): the cost of one
vote is what matters and should stay flat as N grows.
"""

from __future__ import annotations

from sqlalchemy import text

NAME = "governance_casting"
TITLE = "Casting votes (governance)"
DEFAULT_SIZES = (10_000, 100_000)
LARGE_SIZES = (1_000_000,)
VOTES = 1_000
TARGET = 0.25
UNIT = "votes/s"
FLOOR_NAME = (
    "the same participation and secret-choice rows inserted with bare Core on one "
    "connection, one commit per vote, no lock, no census lookup and no duplicate check"
)


def insert_bare_vote(conn, proposal_id: int, member_id: int, group: str, option: str) -> None:
    """The rows a secret vote writes (participation + choice), with bare Core and no checks:
    the floor of both casting benchmarks (in process, and through HTTP)."""
    import secrets

    from governance.models import BallotChoice, BallotParticipation
    from kmp.timeutil import now_utc

    conn.execute(
        BallotParticipation.__table__.insert().values(
            proposal_id=proposal_id,
            member_id=member_id,
            group_code=group,
            cast_at=now_utc(),
            change_count=0,
        )
    )
    conn.execute(
        BallotChoice.__table__.insert().values(
            id=secrets.token_hex(16),
            proposal_id=proposal_id,
            group_code=group,
            option=option,
            receipt_code=secrets.token_hex(6),
        )
    )


def _voters(n: int, proposal_id: int) -> list[tuple[int, str]]:
    from kmp.extensions import db

    rows = db.session.execute(
        text(
            "SELECT member_id, group_code FROM ballot_census WHERE proposal_id = :p "
            "ORDER BY member_id"
        ),
        {"p": proposal_id},
    ).all()
    step = max(1, len(rows) // min(VOTES, len(rows)))
    return [(r[0], r[1]) for r in rows[::step][:VOTES]]


def subject_phase(timer, *, n: int) -> dict:
    from bench.governance_tally import open_ballot
    from governance.models import Proposal
    from governance.services import cast_vote
    from kmp.extensions import db
    from members.register.models import Member

    proposal_id = open_ballot(n, months=1)
    voters = _voters(n, proposal_id)
    db.session.commit()
    options = ("yes", "no", "abstain")
    with timer:
        for i, (member_id, _) in enumerate(voters):
            proposal = db.session.get(Proposal, proposal_id)
            member = db.session.get(Member, member_id)
            cast_vote(proposal, member, options[i % 3])
            db.session.commit()
    cast = db.session.execute(
        text("SELECT COUNT(*) FROM ballot_choices WHERE proposal_id = :p"), {"p": proposal_id}
    ).scalar()
    return {"votes": cast}


def floor_phase(timer, *, n: int) -> dict:

    from bench.governance_tally import open_ballot
    from kmp.extensions import db

    proposal_id = open_ballot(n, months=1)
    voters = _voters(n, proposal_id)
    db.session.commit()
    options = ("yes", "no", "abstain")
    with db.engine.connect() as conn, timer:
        for i, (member_id, group) in enumerate(voters):
            insert_bare_vote(conn, proposal_id, member_id, group, options[i % 3])
            conn.commit()
    cast = db.session.execute(
        text("SELECT COUNT(*) FROM ballot_choices WHERE proposal_id = :p"), {"p": proposal_id}
    ).scalar()
    return {"votes": cast}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        votes = min(n, VOTES)
        if subject["votes"] != votes or floor["votes"] != votes:
            raise RuntimeError(f"cast {subject['votes']} / floor {floor['votes']} of {votes}")
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="throughput",
            target_value=TARGET,
            extra={"members": n, "votes": votes},
        )
        # throughput per vote, not per member: N is the size of the census
        result["throughput"] = round(votes / subject["seconds"], 1)
        result["floor_throughput"] = round(votes / floor["seconds"], 1)
        result["target"] = (
            "no target in issue 9; guide: ratio >= 0.25 (at least 25% of the floor's votes/s)"
        )
        results.append(result)
    return results
