"""Tally (governance): ``governance.services.tally_of`` over a secret ballot of N members of the
synthetic cooperative (census frozen at opening, 70 % turnout, yes/no/abstain spread), the
count that ``close_proposal`` makes and records.

Setup (not timed): the generator loads N members with 3 months of history, a proposal is
created and opened through the services (the census is frozen by ``open_proposal``), and the
ballots (participations and secret choices) are written set-based from the census. The timed
part is the tally: the three grouped counts (choices, census, participations), the
consistency check and the weighted two-tier arithmetic of ``governance.tally``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

NAME = "governance_tally"
TITLE = "Tally (governance)"
DEFAULT_SIZES = (10_000, 100_000)
LARGE_SIZES = (1_000_000,)
TARGET = 3.0
UNIT = "ballots/s"
FLOOR_NAME = (
    "the same three grouped counts (choices by group and option, census by group, "
    "participations by group) as plain SQL on a bare connection, no arithmetic"
)
TURNOUT_PER_10 = 7


def open_secret_proposal(title: str = "Usulan benchmark") -> int:
    """Create and open a secret yes/no proposal (census frozen now); returns its id."""
    from governance.services import create_proposal, open_proposal
    from kmp.extensions import db
    from kmp.timeutil import now_utc

    now = now_utc()
    proposal = create_proposal(
        kind="ordinary",
        title=title,
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(days=7),
        secret=True,
    )
    open_proposal(proposal, by_user=None, now=now)
    db.session.commit()
    return proposal.id


def open_ballot(n: int, months: int = 3) -> int:
    """Generate ``n`` members and open a secret yes/no proposal over them; returns its id."""
    from bench.generate import generate
    from kmp.extensions import db

    with db.engine.connect() as conn:
        generate(conn, members=n, months=months)
    db.session.commit()
    return open_secret_proposal()


def cast_set_based(proposal_id: int, *, turnout_per_10: int = TURNOUT_PER_10) -> int:
    """Participations and secret choices for ``turnout_per_10``/10 of the census, in SQL."""
    from kmp.extensions import db

    params = {"p": proposal_id, "t": turnout_per_10}
    chosen = "member_id % 10 < :t"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ballot_participations (proposal_id, member_id, group_code, cast_at, "
                "change_count) SELECT proposal_id, member_id, group_code, CURRENT_TIMESTAMP, 0 "
                f"FROM ballot_census WHERE proposal_id = :p AND {chosen}"
            ),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO ballot_choices (id, proposal_id, group_code, option, receipt_code) "
                "SELECT 'bench' || CAST(member_id AS VARCHAR(20)), proposal_id, group_code, "
                "CASE WHEN member_id % 7 < 4 THEN 'yes' WHEN member_id % 7 < 6 THEN 'no' "
                "ELSE 'abstain' END, 'R' || CAST(member_id AS VARCHAR(20)) "
                f"FROM ballot_census WHERE proposal_id = :p AND {chosen}"
            ),
            params,
        )
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE ballot_census, ballot_participations, ballot_choices"))
        return conn.execute(
            text("SELECT COUNT(*) FROM ballot_participations WHERE proposal_id = :p"), params
        ).scalar()


def subject_phase(timer, *, n: int) -> dict:
    from governance.models import Proposal
    from governance.services import tally_of
    from kmp.extensions import db

    proposal_id = open_ballot(n)
    ballots = cast_set_based(proposal_id)
    tally_of(db.session.get(Proposal, proposal_id))  # warm-up, as the floor's (caches, imports)
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal_id)
    with timer:
        data = tally_of(proposal)
    return {"ballots": ballots, "participations": data["participations"], "passed": data["passed"]}


def floor_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db

    proposal_id = open_ballot(n)
    ballots = cast_set_based(proposal_id)
    p = {"p": proposal_id}
    with db.engine.connect() as conn:
        _floor_counts(conn, p)  # warm-up, as the subject's
        with timer:
            choices, census, participations = _floor_counts(conn, p)
    return {
        "ballots": ballots,
        "participations": sum(c for _, c in participations),
        "census": sum(c for _, c in census),
        "choices": sum(c for _, _, c in choices),
    }


FLOOR_SQL = (
    "SELECT group_code, option, COUNT(*) FROM ballot_choices WHERE proposal_id = :p "
    "GROUP BY group_code, option",
    "SELECT group_code, COUNT(*) FROM ballot_census WHERE proposal_id = :p GROUP BY group_code",
    "SELECT group_code, COUNT(*) FROM ballot_participations WHERE proposal_id = :p "
    "GROUP BY group_code",
)


def _floor_counts(conn, p: dict):
    return tuple(conn.execute(text(sql), p).all() for sql in FLOOR_SQL)


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        if subject["participations"] != subject["ballots"] or floor["choices"] != floor["ballots"]:
            raise RuntimeError(f"tally counted {subject['participations']} of {subject['ballots']}")
        results.append(
            make_result(
                name=NAME,
                ctx=ctx,
                n=n,
                subject=subject,
                floor=floor,
                floor_name=FLOOR_NAME,
                unit=UNIT,
                ratio_kind="slowdown",
                target_value=TARGET,
                extra={"members": n, "ballots": subject["ballots"], "census": floor["census"]},
            )
        )
    return results
