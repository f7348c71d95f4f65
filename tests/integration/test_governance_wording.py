"""Issue 22: a ballot that fails for want of participants says so ("Kuorum tidak tercapai"),
not "Tidak diterima" as if the members had voted it down; the ballot page shows the choices
in distinct looks with a confirmation step."""

from __future__ import annotations

import html as htmllib

from governance import services
from kmp.extensions import db
from tests.integration.governance_factories import login_session, make_proposal, make_voter


def test_a_failed_quorum_is_named_as_such(client, make_user):
    voters = [make_voter(make_user, "pengemudi") for _ in range(6)]
    board = make_user("pengurus")
    proposal = make_proposal(board)
    db.session.commit()
    services.cast_vote(proposal, voters[0][1], "yes")  # one of six: no quorum
    services.run_ballot_schedule(now=proposal.closes_at)
    db.session.commit()
    login_session(client, board.id, board.session_version)
    page = htmllib.unescape(client.get(f"/pemungutan/{proposal.id}/hasil").get_data(as_text=True))
    assert 'data-testid="outcome">Kuorum tidak tercapai<' in page
    assert 'data-testid="outcome">Tidak diterima<' not in page


def test_a_rejected_proposal_still_reads_not_accepted(client, make_user):
    voters = [make_voter(make_user, "pengemudi") for _ in range(3)]
    board = make_user("pengurus")
    proposal = make_proposal(board)
    db.session.commit()
    for _user, member in voters:
        services.cast_vote(proposal, member, "no")
    services.run_ballot_schedule(now=proposal.closes_at)
    db.session.commit()
    login_session(client, board.id, board.session_version)
    page = htmllib.unescape(client.get(f"/pemungutan/{proposal.id}/hasil").get_data(as_text=True))
    assert 'data-testid="outcome">Tidak diterima<' in page


def test_the_choices_look_different_and_are_confirmed(client, make_user):
    user, _member = make_voter(make_user, "pengemudi")
    proposal = make_proposal(make_user("pengurus"))
    db.session.commit()
    login_session(client, user.id, user.session_version)
    page = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert "vote-yes" in page and "vote-no" in page and "vote-abstain" in page
    assert "data-vote-confirm" in page and 'data-testid="vote-confirm"' in page


def test_a_meeting_in_the_past_is_refused_and_nothing_is_written(client, login_as, csrf_token):
    from sqlalchemy import func, select

    from governance.models import Meeting
    from kmp.auth import Role

    login_as(Role.PENGURUS)
    token = csrf_token("/rapat/baru")
    response = client.post(
        "/rapat/baru",
        data={
            "csrf_token": token,
            "kind": "rat",
            "title": "RAT tahun buku 2019",
            "starts_at": "2020-03-28T09:00",
            "mode": "online",
            "fiscal_year": "2019",
            "group_code": "",
        },
    )
    assert response.status_code == 422
    assert "Waktu rapat sudah lewat" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0
