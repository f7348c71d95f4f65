"""Issue 23, must show 1: the competence rule on every role-granting path we own.

A direct appointment of an officer without the certificate the AD requires is refused (it
passed before); with a verified certificate it succeeds. The election result: an elected
candidate whose certificate no longer holds on the first day of the term is not appointed,
the others are. Also: what counts (verified, right scheme, dates, grace period), the AD
setting and the question signal the board invitations ask."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from flask import current_app
from sqlalchemy import select

from governance import elections, services
from governance.models import GovernanceEvent, Outcome
from kmp import signals
from kmp.errors import DomainError, Forbidden
from kmp.extensions import db
from kmp.timeutil import business_date, now_utc
from members.ad.competence import CompetenceRule
from members.officers import services as officers_services
from members.officers.models import Officer
from members.training.competence import competence_of, competence_problem, ensure_competent
from tests.integration.governance_factories import ensure_ad, make_member, set_ad
from tests.integration.training_support import board_user, certify

TODAY = business_date()


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


def appoint(member, body="pengurus", function="ketua", start=None):
    start = start or TODAY
    return officers_services.appoint_officer(
        member,
        body=body,
        function=function,
        term_start=start,
        term_end=start + dt.timedelta(days=3 * 365),
        by_user=None,
    )


# --------------------------------------------------------------------------- direct appointment


def test_direct_appointment_without_certificate_is_refused_naming_it():
    member = make_member("pengemudi", name="Budi Santoso")
    db.session.commit()
    with pytest.raises(Forbidden) as refused:
        appoint(member)
    assert refused.value.code == "not_certified"
    assert "Budi Santoso" in refused.value.message
    assert "'Pengurus Koperasi'" in refused.value.message  # the missing certificate, named
    db.session.rollback()
    assert db.session.scalar(select(Officer.id)) is None


def test_direct_appointment_with_a_verified_certificate_succeeds():
    member = make_member("pengemudi")
    certify(member, "pengurus")
    officer = appoint(member)
    db.session.commit()
    assert officer.id and officer.member_id == member.id


def test_only_a_verified_certificate_of_the_offices_scheme_counts():
    member = make_member("kurir", name="Sari")
    pending = certify(member, "pengurus", verify=False)
    db.session.commit()
    with pytest.raises(Forbidden, match="belum diverifikasi"):
        appoint(member)
    db.session.rollback()
    certify(member, "pengawas")  # verified, but the supervisors' scheme
    db.session.commit()
    with pytest.raises(Forbidden, match="'Pengurus Koperasi'"):
        appoint(member)
    db.session.rollback()
    appoint(member, body="pengawas", function="pengawas")  # right scheme for that office
    assert pending.status.value == "pending"


def test_expired_certificate_and_the_grace_period():
    member = make_member("pengemudi")
    certify(member, "pengurus", expires_in_days=-10)
    with pytest.raises(Forbidden, match="sudah habis"):
        ensure_competent(member, "pengurus", TODAY)
    ad = ensure_ad()
    rules = tuple(
        replace(r, grace_days=30) if r.role == "pengurus" else r for r in ad.competence_rules
    )
    set_ad(competence_rules=rules)
    ensure_competent(member, "pengurus", TODAY)  # 10 days late, 30 days of grace
    assert competence_of(member, "pengurus", TODAY).state == "grace"
    with pytest.raises(Forbidden):
        ensure_competent(member, "pengurus", TODAY + dt.timedelta(days=21))


def test_a_future_term_needs_the_certificate_on_its_first_day():
    member = make_member("pengemudi")
    certify(member, "pengurus", expires_in_days=20)
    db.session.commit()
    with pytest.raises(Forbidden, match="sudah habis"):
        appoint(member, start=TODAY + dt.timedelta(days=60))
    db.session.rollback()
    appoint(member, start=TODAY + dt.timedelta(days=10))


def test_the_ad_switches_the_rule_and_names_the_schemes():
    member = make_member("pengemudi")
    set_ad(require_certified_officers=False)
    appoint(member)
    set_ad(require_certified_officers=True)
    ad = ensure_ad()
    rules = tuple(
        replace(r, schemes=("Manajer Koperasi", "Pengurus Koperasi")) if r.role == "pengurus" else r
        for r in ad.competence_rules
    )
    set_ad(competence_rules=rules)
    other = make_member("kurir")
    db.session.commit()
    with pytest.raises(Forbidden, match="'Manajer Koperasi' atau 'Pengurus Koperasi'"):
        appoint(other)
    db.session.rollback()
    certify(other, scheme="  manajer   KOPERASI ")  # case and spaces do not matter
    appoint(other)
    set_ad(competence_rules=tuple(CompetenceRule(r.role) for r in ad.competence_rules))
    appoint(make_member("pengguna"))  # no scheme named: the office needs no certificate


def test_login_roles_map_to_offices_and_unknown_offices_are_a_bug():
    user = board_user("pengurus", "bendahara")
    assert competence_problem(user, "bendahara", TODAY) is not None  # bendahara = pengurus
    assert competence_problem(user, "admin", TODAY) is None
    assert "pengelola (manajer)" in competence_problem(user, "manager", TODAY)
    assert "'Analis Kredit Koperasi (KSP/USP)'" in competence_problem(user, "loan_officer", TODAY)
    certify(user, "pengurus")
    assert competence_problem(user, "bendahara", TODAY) is None
    with pytest.raises(ValueError, match="unknown office"):
        competence_problem(user, "ketua_umum", TODAY)


def test_the_invitation_question_signal():
    """What kmp/invitations.py asks before granting a board role (it cannot import members)."""
    app = current_app._get_current_object()
    member = make_member("pengemudi")
    member.email = "calon.pengurus@test.kmp.id"
    db.session.flush()

    def ask(**payload):
        return signals.ask(signals.competence_check_requested, app, on_date=TODAY, **payload)

    assert "'Pengurus Koperasi'" in ask(email="calon.pengurus@test.kmp.id", role="pengurus")
    assert "tidak ada anggota atau login" in ask(email="orang.baru@test.kmp.id", role="pengawas")
    assert ask(email="orang.baru@test.kmp.id", role="admin") is None
    certify(member, "pengurus")
    assert ask(email="Calon.Pengurus@test.kmp.id", role="bendahara") is None
    assert ask(holder=member, role="pengurus") is None


def test_an_invitation_to_an_uncertified_pengurus_is_refused_and_a_certified_one_accepted():
    from kmp.errors import DomainError
    from kmp.invitations import accept_invitation, invite_user

    member = make_member("pengemudi")
    member.email = "calon.bendahara@test.kmp.id"
    db.session.flush()
    link = lambda token: f"http://kmp.test/undangan/{token}"  # noqa: E731
    with pytest.raises(DomainError, match="Pengurus Koperasi") as refused:
        invite_user("calon.bendahara@test.kmp.id", "bendahara", link_for=link)
    assert refused.value.code == "not_certified"
    certify(member, "pengurus")
    _invitation, token = invite_user("calon.bendahara@test.kmp.id", "bendahara", link_for=link)
    user = accept_invitation(token, "rahasia-baru-123")
    assert user.has_role("bendahara") and user.has_role("pengurus")


# --------------------------------------------------------------------------- election result


def _election(pengurus, *, term_start: dt.date, seats: int = 2):
    now = now_utc()
    ad = ensure_ad()
    groups = tuple(replace(g, pengurus_seats=0) for g in ad.groups)
    set_ad(groups=groups)
    proposal = services.create_proposal(
        kind="election",
        title="Pemilihan pengurus",
        seats=seats,
        office="pengurus",
        term_start=term_start,
        term_end=term_start + dt.timedelta(days=5 * 365 - 2),
        opens_at=now + dt.timedelta(minutes=10),
        closes_at=now + dt.timedelta(hours=2),
        by_user=pengurus,
    )
    db.session.commit()
    return proposal


def test_election_result_appoints_only_the_competent(make_user):
    pengurus = make_user("pengurus")
    term_start = TODAY + dt.timedelta(days=60)
    proposal = _election(pengurus, term_start=term_start)
    ani = make_member("pengemudi", name="Ani Lestari")
    bowo = make_member("pengemudi", name="Bowo Prasetyo")
    certify(ani, "pengurus", expires_in_days=900)
    certify(bowo, "pengurus", expires_in_days=30)  # valid today, lapsed before the term starts
    for candidate in (ani, bowo):
        elections.nominate_candidate(proposal, candidate, pengurus)  # both pass today
    voters = [make_member("pengemudi") for _ in range(3)]
    db.session.commit()
    services.open_proposal(proposal, by_user=pengurus)
    for voter, choice in zip(voters, [ani, ani, bowo], strict=True):
        services.cast_vote(proposal, voter, choice.member_no)
    db.session.commit()

    resolution = services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    assert resolution.outcome is Outcome.PASSED
    assert sorted(resolution.tally["weighted"]["elected"]) == sorted(
        [ani.member_no, bowo.member_no]
    )
    officers = db.session.scalars(select(Officer)).all()
    assert [(o.member_id, o.term_start) for o in officers] == [(ani.id, term_start)]
    refused = db.session.scalar(
        select(GovernanceEvent).where(GovernanceEvent.action == "elected_not_appointed")
    )
    assert "Bowo Prasetyo" in refused.note and "'Pengurus Koperasi'" in refused.note
    appointed = db.session.scalar(
        select(GovernanceEvent).where(GovernanceEvent.action == "officers_appointed")
    )
    assert appointed.note == ani.member_no


def test_election_result_with_every_certificate_appoints_everyone(make_user):
    pengurus = make_user("pengurus")
    proposal = _election(pengurus, term_start=TODAY + dt.timedelta(days=60))
    candidates = [make_member("kurir"), make_member("kurir")]
    for candidate in candidates:
        certify(candidate, "pengurus", expires_in_days=900)
        elections.nominate_candidate(proposal, candidate, pengurus)
    db.session.commit()
    services.open_proposal(proposal, by_user=pengurus)
    services.cast_vote(proposal, candidates[0], candidates[1].member_no)
    services.cast_vote(proposal, candidates[1], candidates[0].member_no)
    services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    assert {o.member_id for o in db.session.scalars(select(Officer))} == {c.id for c in candidates}


def test_nomination_names_the_missing_certificate(make_user):
    pengurus = make_user("pengurus")
    proposal = _election(pengurus, term_start=TODAY + dt.timedelta(days=60))
    member = make_member("pengemudi", name="Eko")
    with pytest.raises(DomainError) as refused:
        elections.nominate_candidate(proposal, member, pengurus)
    assert refused.value.code == "not_certified"
    assert "'Pengurus Koperasi'" in refused.value.message
