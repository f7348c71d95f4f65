"""Pure logic of social protection: the two state tables, percent rounding, subsidy shares,
a rate's contribution, parsing the programme list (no app, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from kmp.errors import DomainError, IllegalTransition
from members.protection.billing import subsidy_for
from members.protection.rates import RateSpec, parse_programmes, percent_of
from members.protection.states import (
    CLAIM_TRANSITIONS,
    ENROLMENT_TRANSITIONS,
    ClaimStatus,
    EnrolmentStatus,
    check_claim_transition,
    check_enrolment_transition,
)

E, C = EnrolmentStatus, ClaimStatus
SINCE = dt.date(2015, 7, 1)


def test_every_state_has_a_row_and_terminal_claims_go_nowhere():
    assert set(ENROLMENT_TRANSITIONS) == set(E)
    assert set(CLAIM_TRANSITIONS) == set(C)
    for done in (C.APPROVED, C.REJECTED, C.WITHDRAWN):
        assert CLAIM_TRANSITIONS[done] == frozenset()


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (E.REQUESTED, E.CONFIRMED, True),
        (E.REQUESTED, E.STOPPED, False),
        (E.CONFIRMED, E.REQUESTED, False),
        (E.CONFIRMED, E.STOPPED, True),
        (E.STOPPED, E.REQUESTED, True),
        (E.REJECTED, E.CONFIRMED, False),
        (E.CANCELLED, E.REQUESTED, True),
    ],
)
def test_enrolment_transitions(current, target, ok):
    if ok:
        assert check_enrolment_transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            check_enrolment_transition(current, target)


def test_rejection_and_claim_steps_need_what_they_carry():
    with pytest.raises(IllegalTransition, match="Alasan"):
        check_enrolment_transition(E.REQUESTED, E.REJECTED, reason="  ")
    assert check_enrolment_transition(E.REQUESTED, E.REJECTED, reason="NIK salah")
    with pytest.raises(IllegalTransition):
        check_claim_transition(C.DOCUMENTS_COMPLETE, C.SUBMITTED)
    assert check_claim_transition(C.DOCUMENTS_COMPLETE, C.SUBMITTED, bpjs_reference="B-1")
    with pytest.raises(IllegalTransition):
        check_claim_transition(C.SUBMITTED, C.APPROVED)
    assert check_claim_transition(C.SUBMITTED, C.APPROVED, benefit_idr=0)
    with pytest.raises(IllegalTransition):
        check_claim_transition(C.SUBMITTED, C.REJECTED)
    with pytest.raises(IllegalTransition):
        check_claim_transition(C.REPORTED, C.APPROVED, benefit_idr=1)


def test_percent_rounding_half_up_and_rate_contributions():
    assert percent_of(1_000_000, 100) == 10_000
    assert percent_of(2_500_000, 200) == 50_000
    assert percent_of(1_000_050, 100) == 10_001
    assert percent_of(1_000_049, 100) == 10_000
    jkk = RateSpec("jkk", "", "percent", 100, None, None, SINCE)
    jkm = RateSpec("jkm", "", "fixed", None, 6_800, 6_800, SINCE)
    jkn3 = RateSpec("jkn", "3", "fixed", None, 42_000, 35_000, SINCE)
    assert jkk.contribution_idr(income_idr=2_500_000) + jkm.contribution_idr() == 31_800
    assert jkn3.contribution_idr(persons=4) == 140_000
    assert jkk.describe() == "1 % penghasilan"
    assert "peserta Rp 35.000" in jkn3.describe()
    with pytest.raises(DomainError):
        jkk.contribution_idr()


def test_subsidy_share_rounds_down_and_respects_the_cap():
    assert subsidy_for(35_000, (5_000, None)) == 17_500
    assert subsidy_for(10_001, (5_000, None)) == 5_000
    assert subsidy_for(200_000, (5_000, 50_000)) == 50_000
    assert subsidy_for(35_000, (0, None)) == 0
    assert subsidy_for(35_000, None) == 0


def test_programme_list():
    assert parse_programmes("jht, JKK ,jkm") == ("jkk", "jkm", "jht")
    with pytest.raises(DomainError):
        parse_programmes("jkk,pensiun")
    with pytest.raises(DomainError):
        parse_programmes("")
