"""Issue 21, must show 5: the hybrid RAT through the tellers' pages.

QR check-in raises attendance and quorum; two tellers enter the paper sheets with one
mismatch flagged for a third; the merged tally of paper and online votes equals a count made
here; a member who voted online is refused on paper (and by the database), and the reverse.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from governance import meetings, services
from governance.hybrid.models import PaperBallotEntry
from governance.models import BallotChoice, BallotParticipation, Proposal, Resolution
from kmp.auth import Role
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc
from tests.integration.governance_factories import ensure_ad, make_member, make_proposal

JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


def _as(client, user) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def _sheet(client, token, proposal, serial, group, option, *, decide=False):
    prefix = "d-" if decide else ""
    path = "putus" if decide else "lembar"
    return client.post(
        f"/pemungutan/{proposal.id}/kertas/{path}",
        data={
            "csrf_token": token,
            f"{prefix}serial": str(serial),
            f"{prefix}group_code": group,
            f"{prefix}option": option,
        },
    )


def test_hybrid_rat_check_in_paper_count_and_merged_tally(client, make_user, csrf_token):
    drivers = [make_member("pengemudi") for _ in range(6)]
    couriers = [make_member("kurir") for _ in range(2)]
    db.session.commit()
    pengurus = make_user(Role.PENGURUS)
    meeting = meetings.create_meeting(
        kind="rat",
        title="RAT hibrida",
        starts_at=now_utc() + dt.timedelta(minutes=30),
        mode="hybrid",
        location="Aula koperasi",
        fiscal_year=2025,
        by_user=pengurus,
    )
    db.session.commit()
    proposal = make_proposal(pengurus, meeting=meeting, minutes=180, title="Laporan pengurus")
    tellers = [make_user(Role.ANGGOTA, full_name=f"Penghitung {i}") for i in (1, 2, 3)]
    outsider = make_user(Role.ANGGOTA)

    # The board assigns three tellers.
    _as(client, pengurus)
    token = csrf_token(f"/rapat/{meeting.id}/penghitung")
    for teller in tellers:
        answer = client.post(
            f"/rapat/{meeting.id}/penghitung", data={"csrf_token": token, "login": teller.email}
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)
    # Someone who is not a teller cannot open the door scanner.
    _as(client, outsider)
    assert client.get(f"/rapat/{meeting.id}/pindai").status_code == 403

    # Two members vote online before the meeting.
    services.cast_vote(proposal, drivers[0], "yes")
    services.cast_vote(proposal, couriers[0], "no")
    db.session.commit()

    # Teller 1 scans cards at the door: attendance and quorum go up.
    t1, t2, t3 = tellers
    _as(client, t1)
    page = client.get(f"/rapat/{meeting.id}/pindai").get_data(as_text=True)
    assert "vendor/jsqr/jsQR.js" in page and "js/scanner.js" in page
    quorum = client.get(f"/rapat/{meeting.id}/kuorum.json").get_json()
    assert quorum == {
        "census": 8,
        "attending": 0,
        "in_hall": 0,
        "online": 0,
        "needed": 5,
        "met": False,
        "rule": "lebih dari 1/2",
    }
    token = csrf_token(f"/rapat/{meeting.id}/pindai")
    hall = [drivers[0], *drivers[1:5], couriers[1]]  # six at the door
    for n, member in enumerate(hall, start=1):
        answer = client.post(
            f"/rapat/{meeting.id}/pindai",
            data={"csrf_token": token, "member_no": member.member_no},
            headers=JSON,
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        assert body["ok"] and member.full_name in body["message"]
        assert body["quorum"]["attending"] == n and body["quorum"]["in_hall"] == n
        assert body["quorum"]["met"] is (n >= 5)
    again = client.post(
        f"/rapat/{meeting.id}/pindai",
        data={"csrf_token": token, "member_no": hall[0].member_no},
        headers=JSON,
    )
    assert again.status_code == 409 and "sudah tercatat hadir" in again.get_json()["message"]
    typed = client.post(  # the manual fallback: a typed number, a plain form
        f"/rapat/{meeting.id}/pindai", data={"csrf_token": token, "member_no": "TIDAK-ADA"}
    )
    assert typed.status_code == 404 and "tidak ditemukan" in typed.get_data(as_text=True)
    assert client.get(f"/rapat/{meeting.id}/kuorum.json").get_json()["attending"] == 6

    # Paper ballots: the online voter is refused, the checked-in others get a sheet.
    paper_token = csrf_token(f"/pemungutan/{proposal.id}/kertas")
    refused = client.post(
        f"/pemungutan/{proposal.id}/kertas/ambil",
        data={"csrf_token": paper_token, "member_no": drivers[0].member_no},
    )
    assert refused.status_code == 409
    assert "sudah memilih secara daring" in refused.get_data(as_text=True)
    not_here = client.post(
        f"/pemungutan/{proposal.id}/kertas/ambil",
        data={"csrf_token": paper_token, "member_no": drivers[5].member_no},
    )
    assert not_here.status_code == 422 and "belum tercatat hadir" in not_here.get_data(as_text=True)
    paper_voters = [*drivers[1:5], couriers[1]]
    for member in paper_voters:
        answer = client.post(
            f"/pemungutan/{proposal.id}/kertas/ambil",
            data={"csrf_token": paper_token, "member_no": member.member_no},
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)
    # The database itself refuses a second participation (online after paper, or the reverse).
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(
                insert(BallotParticipation).values(
                    proposal_id=proposal.id,
                    member_id=drivers[0].id,
                    group_code="pengemudi",
                    cast_at=now_utc(),
                    change_count=0,
                    channel="paper",
                )
            )
    db.session.rollback()
    with pytest.raises(DomainError, match="surat suara kertas"):
        services.cast_vote(db.session.get(Proposal, proposal.id), drivers[1], "no")
    db.session.rollback()

    # Five sheets come out of the box; two tellers enter them, reading sheet 3 differently.
    box = {
        1: ("pengemudi", "yes"),
        2: ("pengemudi", "yes"),
        3: ("pengemudi", "no"),
        4: ("pengemudi", "abstain"),
        5: ("kurir", "yes"),
    }
    for serial, (group, option) in box.items():
        assert _sheet(client, paper_token, proposal, serial, group, option).status_code == 303
    twice = _sheet(client, paper_token, proposal, 1, "pengemudi", "yes")
    assert twice.status_code == 409
    _as(client, t2)
    for serial, (group, option) in box.items():
        misread = "yes" if serial == 3 else option
        assert _sheet(client, paper_token, proposal, serial, group, misread).status_code == 303
    page = client.get(f"/pemungutan/{proposal.id}/kertas").get_data(as_text=True)
    assert 'data-serial="3" data-state="mismatch"' in page
    assert page.count('data-state="agreed"') == 4 and 'data-testid="paper-flagged"' in page
    refused = client.post(f"/pemungutan/{proposal.id}/kertas/gabung", data={"csrf_token": token})
    assert refused.status_code == 303
    assert (
        db.session.scalar(select(BallotChoice.id).where(BallotChoice.option == "abstain")) is None
    )
    # The ballot cannot close while the paper count is not merged.
    with pytest.raises(DomainError, match="belum digabung"):
        services.close_proposal(db.session.get(Proposal, proposal.id), by_user=pengurus)
    db.session.rollback()
    # A reader of the sheet cannot decide it; the third teller does.
    assert (
        _sheet(client, paper_token, proposal, 3, "pengemudi", "yes", decide=True).status_code == 403
    )
    _as(client, t3)
    assert (
        _sheet(client, paper_token, proposal, 3, "pengemudi", "no", decide=True).status_code == 303
    )
    merged = client.post(f"/pemungutan/{proposal.id}/kertas/gabung", data={"csrf_token": token})
    assert merged.status_code == 303
    page = client.get(f"/pemungutan/{proposal.id}/kertas").get_data(as_text=True)
    assert 'data-testid="paper-merged"' in page

    # Close: one tally of paper and online votes, equal to a count made here.
    db.session.expire_all()
    services.close_proposal(db.session.get(Proposal, proposal.id), by_user=pengurus)
    db.session.commit()
    resolution = db.session.scalar(select(Resolution).where(Resolution.proposal_id == proposal.id))
    expected: dict[str, Counter] = {"pengemudi": Counter(), "kurir": Counter()}
    expected["pengemudi"]["yes"] += 1  # drivers[0], online
    expected["kurir"]["no"] += 1  # couriers[0], online
    for group, option in box.values():  # the sheets as they really were marked
        expected[group][option] += 1
    counted = {g["code"]: Counter(g["counts"]) for g in resolution.tally["groups"]}
    assert {k: +v for k, v in counted.items()} == expected
    assert resolution.tally["participations"] == 7
    assert sum(resolution.tally["total_counts"].values()) == 7
    # Secrecy: no entry names a member; the participation says paper, never the choice.
    columns = set(PaperBallotEntry.__table__.columns.keys())
    assert not {c for c in columns if "member" in c}
    channels = Counter(
        db.session.scalars(
            select(BallotParticipation.channel).where(
                BallotParticipation.proposal_id == proposal.id
            )
        )
    )
    assert channels == {"online": 2, "paper": 5}
