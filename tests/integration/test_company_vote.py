"""Issue 16, item 1 / "Platform companies vote": a platform company votes once, through its
designated representative login, on the ballot page, the vote POST, the receipt and the
results; every other staff login is refused with a message naming the representative; the AD
may take the platform group out of the census and the quorum."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from governance import services as gov
from governance.models import BallotParticipation, CensusEntry, CensusExclusion, Resolution
from kmp.extensions import db
from members.register.models import MemberStaff
from tests.factories import company_member
from tests.integration.governance_factories import (
    ensure_ad,
    make_member,
    make_proposal,
    make_voter,
    set_group,
)


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


@pytest.fixture
def company():
    member, staff = company_member("PT Ojek Nusantara", staff=2)
    db.session.commit()
    return member, staff[0], staff[1]


def _vote(client, csrf_token, proposal_id, option="yes"):
    token = csrf_token(f"/pemungutan/{proposal_id}")
    return client.post(
        f"/pemungutan/{proposal_id}/pilih", data={"csrf_token": token, "option": option}
    )


def test_the_representative_votes_once_for_the_company(client, login_as, csrf_token, company):
    member, rep, _other = company
    make_member("pengemudi")
    db.session.commit()
    proposal = make_proposal()
    assert member.id in set(db.session.scalars(select(CensusEntry.member_id)))

    login_as(user=rep)
    page = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert 'data-testid="option-yes"' in page and 'data-testid="census-refusal"' not in page
    response = _vote(client, csrf_token, proposal.id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/pemungutan/{proposal.id}/tanda-terima")
    receipt = client.get(f"/pemungutan/{proposal.id}/tanda-terima")
    assert receipt.status_code == 200 and 'data-testid="receipt-code"' in receipt.get_data(
        as_text=True
    )
    participation = db.session.scalar(select(BallotParticipation))
    assert (participation.member_id, participation.group_code, participation.cast_by_user_id) == (
        member.id,
        "platform",
        rep.id,
    )
    # once per company: a second vote is refused and nothing more is written
    again = _vote(client, csrf_token, proposal.id, "no")
    assert again.status_code == 303
    follow = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert "sudah tercatat" in follow
    db.session.expire_all()
    assert len(db.session.scalars(select(BallotParticipation)).all()) == 1

    gov.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    results = client.get(f"/pemungutan/{proposal.id}/hasil")
    assert results.status_code == 200
    assert client.get(f"/pemungutan/{proposal.id}/hasil.pdf").status_code == 200


def test_another_staff_login_is_refused_naming_the_representative(
    client, login_as, csrf_token, company
):
    member, rep, other = company
    proposal = make_proposal()
    login_as(user=other)
    page = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert 'data-testid="census-refusal"' in page and 'data-testid="option-yes"' not in page
    assert rep.full_name in page and rep.login_name in page
    response = _vote(client, csrf_token, proposal.id)
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert rep.full_name in body and "perwakilan" in body
    assert db.session.scalar(select(BallotParticipation)) is None


def test_a_company_without_a_representative_is_told_how_to_name_one(client, login_as, csrf_token):
    member, staff = company_member("PT Tanpa Wakil", staff=1, representative=False)
    db.session.commit()
    proposal = make_proposal()
    login_as(user=staff[0])
    response = _vote(client, csrf_token, proposal.id)
    assert response.status_code == 403
    assert "belum menunjuk perwakilan" in response.get_data(as_text=True)


def test_every_group_meets_its_quorum_with_the_companies_voting(
    client, login_as, csrf_token, make_user
):
    companies = [company_member(f"PT Platform {i}", staff=1)[1][0] for i in range(2)]
    voters = [make_voter(make_user, g)[0] for g in ("pengemudi", "kurir", "pengguna")]
    db.session.commit()
    proposal = make_proposal()
    for user in [*companies, *voters]:
        login_as(user=user)
        assert _vote(client, csrf_token, proposal.id).status_code == 303
    resolution = gov.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    tally = db.session.get(Resolution, resolution.id).tally
    assert resolution.outcome.value == "passed", tally
    assert "platform" in proposal.group_weights


def test_the_ad_can_take_the_platform_group_out_of_the_census_and_quorum(
    client, login_as, csrf_token, company
):
    member, rep, _ = company
    make_member("pengemudi")
    set_group("platform", members_vote=False)
    db.session.commit()
    proposal = make_proposal()
    assert "platform" not in proposal.group_weights
    assert member.id not in set(db.session.scalars(select(CensusEntry.member_id)))
    exclusion = db.session.scalar(
        select(CensusExclusion).where(CensusExclusion.member_id == member.id)
    )
    assert exclusion.reason == "group_no_vote"
    login_as(user=rep)
    page = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert "tidak punya hak suara" in page


def test_the_manager_designates_another_representative(client, login_as, csrf_token):
    member, (rep, other, plain) = company_member("PT Tiga Staf", staff=3)
    db.session.commit()
    login_as(user=rep)
    page = client.get(f"/mitra/{member.id}").get_data(as_text=True)
    assert f'data-testid="designate-{other.id}"' in page
    token = csrf_token(f"/mitra/{member.id}")
    response = client.post(
        f"/mitra/{member.id}/perwakilan", data={"csrf_token": token, "staff_user_id": other.id}
    )
    assert response.status_code == 303
    db.session.expire_all()
    reps = db.session.scalars(
        select(MemberStaff.user_id).where(
            MemberStaff.member_id == member.id, MemberStaff.is_representative.is_(True)
        )
    ).all()
    assert reps == [other.id]
    # a plain staff login (neither the representative nor the applicant) may not designate
    login_as(user=plain)
    assert f'data-testid="designate-{plain.id}"' not in client.get(f"/mitra/{member.id}").text
    token = csrf_token(f"/mitra/{member.id}")
    response = client.post(
        f"/mitra/{member.id}/perwakilan", data={"csrf_token": token, "staff_user_id": plain.id}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert not db.session.get(MemberStaff, _staff_id(plain)).is_representative


def _staff_id(user) -> int:
    return db.session.scalar(select(MemberStaff.id).where(MemberStaff.user_id == user.id))


def test_the_board_designates_from_the_member_file(client, login_as, csrf_token, company):
    member, _rep, other = company
    login_as("pengurus")
    token = csrf_token(f"/pengurus/anggota/{member.id}")
    response = client.post(
        f"/mitra/{member.id}/perwakilan", data={"csrf_token": token, "staff_user_id": other.id}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/pengurus/anggota/{member.id}")
    db.session.expire_all()
    assert db.session.scalar(
        select(MemberStaff.is_representative).where(MemberStaff.user_id == other.id)
    )


def test_a_login_of_another_company_cannot_designate(client, login_as, csrf_token, company):
    member, _rep, other = company
    _stranger_company, strangers = company_member("PT Lain", staff=1)
    db.session.commit()
    login_as(user=strangers[0])
    token = csrf_token("/pemungutan")
    response = client.post(
        f"/mitra/{member.id}/perwakilan", data={"csrf_token": token, "staff_user_id": other.id}
    )
    assert response.status_code == 403


def test_the_database_holds_at_most_one_representative(company):
    member, _rep, other = company
    extra = company_member("PT Lain", staff=1, representative=False)[1][0]
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            insert(MemberStaff).values(
                member_id=member.id, user_id=extra.id, title="x", is_representative=True
            )
        )
        db.session.flush()
    db.session.rollback()
    assert other.id  # the second staff row stays an ordinary one
