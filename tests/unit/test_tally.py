"""Unit tests for governance.tally: exact two-tier weighted tallies (domain decisions 5-7)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.seats import SeatTie, tally_election
from governance.tally import SUPERMAJORITY, GroupInput, TallyError, format_percent, tally_proposal

YN = ("yes", "no", "abstain")
DEFAULT_WEIGHTS = {"pengemudi": 3500, "kurir": 2500, "pengguna": 2000, "platform": 2000}


def yn(code: str, eligible: int, yes: int, no: int, abstain: int = 0, weight: int | None = None):
    """A yes/no group; the weight defaults to the AD default of the group code."""
    return GroupInput(
        code=code,
        weight_bp=DEFAULT_WEIGHTS[code] if weight is None else weight,
        eligible=eligible,
        counts={"yes": yes, "no": no, "abstain": abstain},
    )


def walk(value: object):
    """Every leaf value inside a result (dataclasses, mappings and sequences opened up)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from walk(getattr(value, f.name))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from walk(k)
            yield from walk(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from walk(v)
    else:
        yield value


def assert_no_float(result: object) -> None:
    leaves = list(walk(result))
    assert leaves
    assert not [v for v in leaves if isinstance(v, float)]


# --------------------------------------------------------------------------------------
# Proposals: hand-computed examples
# --------------------------------------------------------------------------------------


def four_groups():
    return [
        yn("pengemudi", 100, yes=30, no=20, abstain=5),
        yn("kurir", 40, yes=10, no=20),
        yn("pengguna", 200, yes=60, no=40, abstain=10),
        yn("platform", 5, yes=0, no=3),
    ]


def test_four_group_example_with_default_weights_hand_computed():
    r = tally_proposal(four_groups(), YN)

    rows = {row.code: row for row in r.groups}
    assert [row.code for row in r.groups] == ["pengemudi", "kurir", "pengguna", "platform"]
    p = rows["pengemudi"]
    assert (p.weight_bp, p.eligible, p.participants, p.valid) == (3500, 100, 55, 50)
    assert p.counts == {"yes": 30, "no": 20, "abstain": 5}
    assert p.shares == {"yes": Fraction(3, 5), "no": Fraction(2, 5)}
    assert p.turnout == Fraction(55, 100)
    assert p.quorum_met and p.counted
    assert p.effective_weight == Fraction(35, 100)
    assert rows["kurir"].shares == {"yes": Fraction(1, 3), "no": Fraction(2, 3)}
    assert rows["kurir"].turnout == Fraction(30, 40)
    assert rows["pengguna"].participants == 110
    assert rows["platform"].shares == {"yes": 0, "no": 1}
    assert rows["platform"].turnout == Fraction(3, 5)
    assert all(row.quorum_met for row in r.groups)

    # (3500*3/5 + 2500*1/3 + 2000*3/5 + 2000*0) / 10000 = (12400/3) / 10000 = 31/75
    assert r.weighted_yes_share == Fraction(31, 75)
    assert r.weighted_shares == {"yes": Fraction(31, 75), "no": Fraction(44, 75)}
    assert format_percent(r.weighted_yes_share) == "41.33"
    # plain: yes 30+10+60+0 = 100, no 20+20+40+3 = 83
    assert r.total_counts == {"yes": 100, "no": 83, "abstain": 15}
    assert r.plain_yes_share == Fraction(100, 183)
    assert format_percent(r.plain_yes_share) == "54.64"
    assert (r.total_eligible, r.total_participants, r.total_valid) == (345, 198, 183)
    assert r.quorum_met and r.group_quorums_met
    # weighted and plain disagree: the cooperative's decision is the weighted one
    assert not r.passed
    assert r.reasons == ("threshold_not_reached",)
    assert r.plain_passed
    assert r.plain_reasons == ()
    assert_no_float(r)


def test_weighted_passes_where_plain_majority_fails():
    groups = [
        yn("pengemudi", 10, yes=6, no=0),
        yn("kurir", 10, yes=6, no=0),
        yn("pengguna", 1000, yes=100, no=500),
        yn("platform", 4, yes=3, no=0),
    ]
    r = tally_proposal(groups, YN)
    # (3500 + 2500 + 2000/6 + 2000) / 10000 = 5/6
    assert r.weighted_yes_share == Fraction(5, 6)
    assert r.plain_yes_share == Fraction(115, 615)
    assert r.passed and r.reasons == ()
    assert not r.plain_passed and r.plain_reasons == ("threshold_not_reached",)


def test_group_with_only_abstentions_is_left_out_of_the_weighting():
    groups = [
        yn("pengemudi", 2, yes=2, no=0),
        yn("kurir", 2, yes=0, no=2),
        yn("pengguna", 2, yes=2, no=0),
        yn("platform", 4, yes=0, no=0, abstain=3),
    ]
    r = tally_proposal(groups, YN)
    platform = r.groups[3]
    assert platform.valid == 0 and platform.participants == 3
    assert platform.shares is None
    assert not platform.counted and platform.effective_weight == 0
    assert platform.quorum_met  # abstaining is participating
    # normalised over 3500 + 2500 + 2000 = 8000, not 10000
    assert r.weighted_yes_share == Fraction(3500 + 2000, 8000) == Fraction(11, 16)
    assert r.weighted_yes_share != Fraction(3500 + 2000, 10000)
    assert sum(row.effective_weight for row in r.groups) == 1
    assert r.passed


def test_failed_group_quorum_fails_the_proposal_unless_not_required():
    groups = [
        yn("pengemudi", 10, yes=9, no=0),
        yn("kurir", 10, yes=9, no=0),
        yn("pengguna", 10, yes=9, no=0),
        yn("platform", 10, yes=5, no=0),  # exactly half: not "more than half"
    ]
    r = tally_proposal(groups, YN)
    assert r.quorum_met
    assert not r.group_quorums_met
    assert [row.quorum_met for row in r.groups] == [True, True, True, False]
    assert r.weighted_yes_share == 1
    assert not r.passed
    assert r.reasons == ("group_quorum_not_met:platform",)
    assert not r.plain_passed and r.plain_reasons == ("group_quorum_not_met:platform",)

    lenient = tally_proposal(groups, YN, require_group_quorum=False)
    assert lenient.passed and lenient.reasons == ()
    assert not lenient.groups[3].quorum_met  # still reported on the row

    inclusive = tally_proposal(groups, YN, quorum_inclusive=True)
    assert inclusive.groups[3].quorum_met and inclusive.passed


def test_failed_overall_quorum():
    groups = [
        yn("pengemudi", 10, yes=6, no=0),  # 6/10 meets its own quorum
        yn("kurir", 30, yes=9, no=0),  # 9/30 does not
    ]
    # overall 15/40 < 1/2
    r = tally_proposal(groups, YN, require_group_quorum=False)
    assert not r.quorum_met
    assert not r.passed
    assert r.reasons == ("quorum_not_met",)
    assert r.weighted_yes_share == 1  # the shares are still reported

    strict = tally_proposal(groups, YN)
    assert strict.reasons == ("quorum_not_met", "group_quorum_not_met:kurir")

    # exactly half overall is not "more than half"
    half = [yn("pengemudi", 10, yes=6, no=0), yn("kurir", 10, yes=4, no=0)]
    r = tally_proposal(half, YN, require_group_quorum=False)
    assert r.total_participants * 2 == r.total_eligible
    assert not r.quorum_met and r.reasons == ("quorum_not_met",)
    assert tally_proposal(half, YN, require_group_quorum=False, quorum_inclusive=True).passed


def test_exact_tie_at_one_half_fails():
    groups = [
        yn("pengemudi", 4, yes=3, no=0, weight=5000),
        yn("kurir", 4, yes=0, no=3, weight=5000),
    ]
    r = tally_proposal(groups, YN)
    assert r.weighted_yes_share == Fraction(1, 2)
    assert r.plain_yes_share == Fraction(1, 2)
    assert not r.passed and r.reasons == ("threshold_not_reached",)
    assert not r.plain_passed
    assert tally_proposal(groups, YN, threshold_inclusive=True).passed


def test_two_thirds_rule_exactly_two_thirds_passes_when_inclusive():
    groups = [
        yn("pengemudi", 4, yes=2, no=1, weight=5000),
        yn("kurir", 10, yes=4, no=2, weight=5000),
    ]
    r = tally_proposal(groups, YN, threshold=SUPERMAJORITY, threshold_inclusive=True)
    assert r.weighted_yes_share == Fraction(2, 3)
    assert format_percent(r.weighted_yes_share) == "66.67"
    assert r.passed and r.plain_passed

    strict = tally_proposal(groups, YN, threshold=SUPERMAJORITY, threshold_inclusive=False)
    assert not strict.passed and strict.reasons == ("threshold_not_reached",)


def test_two_thirds_rule_just_below_fails():
    groups = [
        yn("pengemudi", 4, yes=2, no=1, weight=5000),
        yn("kurir", 500, yes=200, no=101, weight=5000),
    ]
    r = tally_proposal(groups, YN, threshold=SUPERMAJORITY, threshold_inclusive=True)
    assert r.weighted_yes_share == (Fraction(2, 3) + Fraction(200, 301)) / 2
    assert r.weighted_yes_share < Fraction(2, 3)
    assert format_percent(r.weighted_yes_share) == "66.56"
    assert not r.passed and r.reasons == ("threshold_not_reached",)


def test_zero_eligible_group_never_meets_quorum():
    groups = [yn("pengemudi", 4, yes=3, no=0), yn("platform", 0, yes=0, no=0)]
    r = tally_proposal(groups, YN)
    platform = r.groups[1]
    assert platform.eligible == 0 and platform.turnout is None
    assert not platform.quorum_met and not platform.counted
    assert not r.passed and r.reasons == ("group_quorum_not_met:platform",)

    lenient = tally_proposal(groups, YN, require_group_quorum=False)
    assert lenient.passed and lenient.weighted_yes_share == 1


def test_zero_eligible_everywhere():
    r = tally_proposal([yn("pengemudi", 0, 0, 0), yn("kurir", 0, 0, 0)], YN)
    assert r.total_eligible == 0
    assert not r.quorum_met
    assert r.weighted_shares is None and r.weighted_yes_share is None
    assert r.plain_shares is None
    assert r.reasons == (
        "quorum_not_met",
        "group_quorum_not_met:pengemudi",
        "group_quorum_not_met:kurir",
        "no_valid_votes",
    )
    assert not r.passed and not r.plain_passed


def test_no_valid_vote_at_all_fails_with_reason():
    groups = [yn("pengemudi", 4, 0, 0, abstain=3), yn("kurir", 2, 0, 0, abstain=2)]
    r = tally_proposal(groups, YN)
    assert r.quorum_met and r.group_quorums_met
    assert r.weighted_shares is None and r.plain_shares is None
    assert r.reasons == ("no_valid_votes",) == r.plain_reasons
    assert not r.passed


def test_options_beyond_yes_and_no_and_no_abstain_option():
    g = GroupInput("pengemudi", 3500, 10, {"yes": 4, "no": 2, "later": 2})
    r = tally_proposal([g], ("yes", "no", "later"), abstain_option=None)
    assert r.weighted_shares == {
        "yes": Fraction(1, 2),
        "no": Fraction(1, 4),
        "later": Fraction(1, 4),
    }
    assert r.options == ("yes", "no", "later")
    assert not r.passed  # 1/2 is not more than half


def test_missing_abstain_option_is_added_and_missing_counts_are_zero():
    g = GroupInput("kurir", 2500, 3, {"yes": 2})
    r = tally_proposal([g], ("yes", "no"))
    assert r.options == ("yes", "no", "abstain")
    assert r.groups[0].counts == {"yes": 2, "no": 0, "abstain": 0}
    assert r.passed


@pytest.mark.parametrize(
    "make",
    [
        lambda: GroupInput("a", 5000, 10, {"yes": 1.0}),
        lambda: GroupInput("a", 5000, 10, {"yes": True}),
        lambda: GroupInput("a", 5000, 10, {"yes": -1}),
        lambda: GroupInput("a", 0, 10, {"yes": 1}),
        lambda: GroupInput("a", 50.0, 10, {"yes": 1}),
        lambda: GroupInput("a", 5000, 1, {"yes": 1, "no": 1}),  # more votes than eligible
        lambda: GroupInput("", 5000, 1, {}),
        lambda: tally_proposal([], YN),
        lambda: tally_proposal([yn("kurir", 2, 1, 0), yn("kurir", 2, 1, 0)], YN),
        lambda: tally_proposal([GroupInput("a", 1, 5, {"maybe": 1})], YN),
        lambda: tally_proposal([yn("kurir", 2, 1, 0)], YN, quorum=0.5),
        lambda: tally_proposal([yn("kurir", 2, 1, 0)], YN, threshold=Fraction(3, 2)),
        lambda: tally_proposal([yn("kurir", 2, 1, 0)], ("no", "abstain")),
        lambda: tally_proposal([yn("kurir", 2, 1, 0)], YN, yes_option="abstain"),
        lambda: tally_proposal([yn("kurir", 2, 1, 0)], "yes"),
    ],
)
def test_bad_input_is_refused(make):
    with pytest.raises(TallyError):
        make()


def test_group_input_is_frozen_and_copies_counts():
    counts = {"yes": 1}
    g = GroupInput("kurir", 2500, 3, counts)
    counts["yes"] = 3
    assert g.counts == {"yes": 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.eligible = 4  # type: ignore[misc]
    assert hash(g) == hash(GroupInput("kurir", 2500, 3, {"yes": 2}))


# --------------------------------------------------------------------------------------
# Percent rendering
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Fraction(2, 3), 2, "66.67"),
        (Fraction(1, 3), 2, "33.33"),
        (Fraction(1, 8), 2, "12.50"),
        (Fraction(1), 2, "100.00"),
        (0, 2, "0.00"),
        (1, 0, "100"),
        (Fraction(1, 20000), 2, "0.01"),  # 0.005 % rounds half up
        (Fraction(1, 20001), 2, "0.00"),
        (Fraction(12345, 1000000), 2, "1.23"),  # 1.2345 %
        (Fraction(12355, 1000000), 3, "1.236"),  # 1.2355 % -> half up
        (Fraction(-2, 3), 2, "-66.67"),
        (Fraction(-1, 20001), 2, "0.00"),
        (Fraction(2, 3), 0, "67"),
        (Fraction(2, 3), 1, "66.7"),
    ],
)
def test_format_percent(value, places, text):
    assert format_percent(value, places) == text


@pytest.mark.parametrize("bad", [0.5, True, "0.5"])
def test_format_percent_refuses_non_fractions(bad):
    with pytest.raises(TypeError):
        format_percent(bad)


# --------------------------------------------------------------------------------------
# Proposals: properties
# --------------------------------------------------------------------------------------

CODES = ("pengemudi", "kurir", "pengguna", "platform", "lainnya")


@st.composite
def yn_groups(draw, min_size: int = 1):
    codes = draw(st.lists(st.sampled_from(CODES), min_size=min_size, max_size=5, unique=True))
    groups = []
    for code in codes:
        counts = {o: draw(st.integers(0, 12)) for o in YN}
        extra = draw(st.integers(0, 15))
        groups.append(
            GroupInput(code, draw(st.integers(1, 6000)), sum(counts.values()) + extra, counts)
        )
    return groups


@given(groups=yn_groups())
def test_property_weighted_shares_are_a_distribution(groups):
    r = tally_proposal(groups, YN)
    assert_no_float(r)
    if r.total_valid == 0:
        assert r.weighted_shares is None and "no_valid_votes" in r.reasons
        return
    assert sum(r.weighted_shares.values()) == 1
    assert sum(r.plain_shares.values()) == 1
    assert all(0 <= s <= 1 for s in r.weighted_shares.values())
    assert all(0 <= s <= 1 for row in r.groups if row.shares for s in row.shares.values())
    assert sum(row.effective_weight for row in r.groups) == 1
    assert r.passed == (r.reasons == ())
    # the weighted share lies between the lowest and highest counting group's share
    counted = [row.shares["yes"] for row in r.groups if row.counted]
    assert min(counted) <= r.weighted_yes_share <= max(counted)


@given(groups=yn_groups(), data=st.data())
def test_property_result_does_not_depend_on_group_order(groups, data):
    shuffled = data.draw(st.permutations(groups))
    a = tally_proposal(groups, YN)
    b = tally_proposal(shuffled, YN)
    assert a.weighted_shares == b.weighted_shares
    assert a.plain_shares == b.plain_shares
    assert (a.passed, a.plain_passed, a.quorum_met) == (b.passed, b.plain_passed, b.quorum_met)
    assert sorted(a.reasons) == sorted(b.reasons)
    assert {row.code: row for row in a.groups} == {row.code: row for row in b.groups}


@given(groups=yn_groups(), factor=st.integers(2, 50))
def test_property_only_weight_ratios_matter(groups, factor):
    scaled = [dataclasses.replace(g, weight_bp=g.weight_bp * factor) for g in groups]
    assert tally_proposal(groups, YN).weighted_shares == tally_proposal(scaled, YN).weighted_shares


# --------------------------------------------------------------------------------------
# Elections
# --------------------------------------------------------------------------------------


def ballot(code: str, eligible: int, votes: Mapping[str, int], weight: int | None = None):
    return GroupInput(code, DEFAULT_WEIGHTS[code] if weight is None else weight, eligible, votes)


CANDIDATE_GROUP = {"A": "pengemudi", "B": "pengemudi", "C": "kurir", "P": "platform"}


def election_groups():
    return [
        ballot("pengemudi", 10, {"A": 5, "B": 3}),
        ballot("kurir", 10, {"A": 2, "B": 2, "C": 4}),
        ballot("pengguna", 10, {"A": 3, "B": 3, "abstain": 2}),
        ballot("platform", 2, {"P": 2}),
    ]


def test_election_shares_and_reserved_seat_changes_the_outcome():
    groups = election_groups()
    pure = tally_election(groups, tuple("ABCP"), 2, {}, CANDIDATE_GROUP)
    shares = {row.candidate: row.weighted_share for row in pure.candidates}
    # A: 3500*5/8 + 2500*2/8 + 2000*1/2 = 3812.5 ; B: 3500*3/8 + 2500*2/8 + 2000/2 = 2937.5
    # C: 2500*4/8 = 1250 ; P: 2000 (all over 10000)
    assert shares == {
        "A": Fraction(7625, 20000),
        "B": Fraction(5875, 20000),
        "C": Fraction(1250, 10000),
        "P": Fraction(2000, 10000),
    }
    assert sum(shares.values()) == 1
    assert pure.weighted.elected == ("A", "B")
    assert pure.complete and pure.reasons == ()

    reserved = tally_election(groups, tuple("ABCP"), 2, {"platform": 1}, CANDIDATE_GROUP)
    assert reserved.weighted.elected == ("A", "P")
    assert reserved.weighted.reserved["platform"].filled == 1
    assert reserved.weighted.general.total == 1 and reserved.weighted.general.filled == 1
    assert [row.elected_weighted for row in reserved.candidates] == [True, False, False, True]
    # plain one-member-one-vote: A 10, B 8, C 4, P 2 of 24 valid
    assert reserved.candidates[0].plain_share == Fraction(10, 24)
    assert reserved.plain.elected == ("A", "P")
    assert pure.plain.elected == ("A", "B")
    assert_no_float(reserved)


def test_tie_for_the_last_seat_is_reported_and_left_unfilled():
    groups = [
        ballot("pengemudi", 10, {"A": 4, "B": 1, "C": 1}, weight=5000),
        ballot("kurir", 10, {"A": 4, "B": 1, "C": 1}, weight=5000),
    ]
    cg = {"A": "pengemudi", "B": "pengemudi", "C": "kurir"}
    r = tally_election(groups, tuple("ABC"), 2, {}, cg)
    assert r.weighted.elected == ("A",)
    assert r.weighted.ties == (
        SeatTie(kind="general", group=None, share=Fraction(1, 6), candidates=("B", "C"), seats=1),
    )
    assert r.weighted.unfilled == 1
    assert (r.weighted.general.filled, r.weighted.general.contested) == (1, 1)
    assert r.reasons == ("seats_tied",)
    assert not r.complete
    assert [row.elected_weighted for row in r.candidates] == [True, False, False]

    # with three seats everyone tied is elected: the tie no longer matters
    r3 = tally_election(groups, tuple("ABC"), 3, {}, cg)
    assert r3.weighted.elected == ("A", "B", "C") and r3.weighted.ties == ()
    assert r3.complete


def test_tie_for_a_reserved_seat_is_reported_and_left_unfilled():
    groups = [
        ballot("pengemudi", 10, {"A": 6}),
        ballot("platform", 4, {"P": 1, "Q": 1, "abstain": 1}),
    ]
    cg = {"A": "pengemudi", "P": "platform", "Q": "platform"}
    r = tally_election(groups, tuple("APQ"), 2, {"platform": 1}, cg)
    assert r.weighted.elected == ("A",)
    share = Fraction(2000, 5500) / 2
    assert r.weighted.ties == (SeatTie("reserved", "platform", share, ("P", "Q"), 1),)
    assert r.weighted.reserved["platform"].contested == 1
    assert r.weighted.unfilled == 1
    assert not r.complete

    # both tied platform candidates also make the general cut: both are elected whoever
    # takes the reserved seat, so nothing is tied
    r = tally_election(groups, tuple("APQ"), 3, {"platform": 1}, cg)
    assert set(r.weighted.elected) == {"A", "P", "Q"}
    assert r.weighted.ties == ()
    assert r.weighted.reserved["platform"].filled == 1
    assert r.weighted.general.filled == 2
    assert r.complete

    # the left-over of the reserved tie competes for the one general seat with an equal C
    groups = [
        ballot("pengemudi", 10, {"A": 6}, weight=2000),
        ballot("kurir", 10, {"C": 6}, weight=1000),
        ballot("platform", 4, {"P": 1, "Q": 1, "abstain": 1}, weight=2000),
    ]
    cg = {"A": "pengemudi", "C": "kurir", "P": "platform", "Q": "platform"}
    r = tally_election(groups, tuple("ACPQ"), 3, {"platform": 1}, cg)
    assert r.weighted.elected == ("A",)
    assert r.weighted.ties == (
        SeatTie("reserved", "platform", Fraction(1, 5), ("P", "Q"), 1),
        SeatTie("general", None, Fraction(1, 5), ("C", "P", "Q"), 1),
    )
    assert r.weighted.unfilled == 2


def test_reserved_seat_without_candidate_stays_vacant_and_zero_share_never_wins():
    groups = [ballot("pengemudi", 10, {"A": 5, "B": 1}), ballot("platform", 2, {"abstain": 2})]
    cg = {"A": "pengemudi", "B": "pengemudi", "Z": "pengemudi", "P": "platform"}
    r = tally_election(groups, tuple("ABZP"), 4, {"platform": 1}, cg)
    assert r.weighted.elected == ("A", "B")  # Z and P have no vote
    assert r.weighted.reserved["platform"].vacant == 1
    assert r.weighted.general.vacant == 1
    assert r.weighted.unfilled == 2
    assert r.reasons == ("reserved_seats_vacant:platform", "general_seats_vacant")


def test_election_without_quorum_elects_nobody():
    groups = [ballot("pengemudi", 10, {"A": 6}), ballot("kurir", 10, {"B": 2})]
    r = tally_election(groups, tuple("AB"), 1, {}, {"A": "pengemudi", "B": "kurir"})
    assert not r.quorate and not r.complete
    assert r.weighted is None and r.plain is None
    assert r.reasons == ("quorum_not_met", "group_quorum_not_met:kurir")
    assert r.total_participants * 2 < r.total_eligible
    assert r.candidates[0].weighted_share == Fraction(3500, 6000)
    assert not any(row.elected_weighted or row.elected_plain for row in r.candidates)


def test_election_with_only_abstentions():
    groups = [ballot("pengemudi", 2, {"abstain": 2})]
    r = tally_election(groups, ("A",), 1, {}, {"A": "pengemudi"})
    assert r.quorate
    assert r.reasons == ("no_valid_votes", "general_seats_vacant")
    assert r.candidates[0].weighted_share is None
    assert r.weighted.elected == ()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seats": 0},
        {"reserved": {"platform": 2}},  # more reserved than seats
        {"reserved": {"nobody": 1}},
        {"reserved": {"pengemudi": -1}},
        {"candidate_group": {"A": "pengemudi"}},  # B has no group
        {"candidate_group": {"A": "pengemudi", "B": "nobody"}},
        {"candidates": ("A", "abstain")},
        {"candidates": ("A", "A")},
    ],
)
def test_bad_election_input_is_refused(kwargs):
    args = {
        "groups": [ballot("pengemudi", 10, {"A": 6}), ballot("platform", 2, {"B": 2})],
        "candidates": ("A", "B"),
        "seats": 1,
        "reserved": {},
        "candidate_group": {"A": "pengemudi", "B": "platform"},
    } | kwargs
    with pytest.raises(TallyError):
        tally_election(**args)


# --------------------------------------------------------------------------------------
# Elections: properties, checked against every way of breaking the ties
# --------------------------------------------------------------------------------------


def strict_allocation(
    order: Sequence[str], cg: Mapping[str, str], seats: int, reserved: Mapping[str, int]
) -> set[str]:
    """Seats filled along one strict order of the candidates with a positive share."""
    elected: set[str] = set()
    for g, n in reserved.items():
        elected.update([c for c in order if cg[c] == g][:n])
    rest = [c for c in order if c not in elected]
    elected.update(rest[: seats - sum(reserved.values())])
    return elected


def all_outcomes(shares, cg, seats, reserved) -> list[set[str]]:
    positive = [c for c in shares if shares[c] > 0]
    levels = sorted({shares[c] for c in positive}, reverse=True)
    tiers = [[c for c in positive if shares[c] == s] for s in levels]
    outcomes = []
    for perms in itertools.product(*(itertools.permutations(t) for t in tiers)):
        order = [c for p in perms for c in p]
        outcomes.append(strict_allocation(order, cg, seats, reserved))
    return outcomes


ELECTION_CODES = ("pengemudi", "kurir", "platform")


@st.composite
def elections(draw):
    n = draw(st.integers(1, 6))
    candidates = tuple("ABCDEF"[:n])
    cg = {c: draw(st.sampled_from(ELECTION_CODES)) for c in candidates}
    groups = []
    for code in ELECTION_CODES:
        votes = {c: draw(st.integers(0, 3)) for c in candidates}
        votes["abstain"] = draw(st.integers(0, 1))
        weight = draw(st.sampled_from([1000, 2000, 3000]))
        groups.append(GroupInput(code, weight, sum(votes.values()) + 1, votes))
    seats = draw(st.integers(1, n + 1))
    reserved = {}
    for code in ELECTION_CODES:
        k = draw(st.integers(0, 2))
        if k and sum(reserved.values()) + k <= seats:
            reserved[code] = k
    return groups, candidates, seats, reserved, cg


@settings(max_examples=300)
@given(election=elections(), data=st.data())
def test_property_election_matches_every_tie_break(election, data):
    groups, candidates, seats, reserved, cg = election
    r = tally_election(groups, candidates, seats, reserved, cg, require_group_quorum=False)
    assert_no_float(r)
    if not r.quorate:
        assert r.weighted is None
        return
    for allocation, attr in ((r.weighted, "weighted_share"), (r.plain, "plain_share")):
        shares = {row.candidate: getattr(row, attr) or Fraction(0) for row in r.candidates}
        outcomes = all_outcomes(shares, cg, seats, reserved)
        certain = set.intersection(*outcomes)
        possible = set.union(*outcomes)
        assert len({len(o) for o in outcomes}) == 1
        assert set(allocation.elected) == certain
        assert {c for t in allocation.ties for c in t.candidates} == possible - certain
        assert sum(t.seats for t in allocation.ties) == len(outcomes[0]) - len(certain)
        assert all(shares[c] > 0 for c in allocation.elected)
        counts = [allocation.general, *allocation.reserved.values()]
        assert sum(c.total for c in counts) == seats
        assert sum(c.filled for c in counts) == len(allocation.elected)
        assert sum(c.contested for c in counts) == sum(t.seats for t in allocation.ties)
        assert all(c.vacant >= 0 for c in counts)
        assert allocation.unfilled == seats - len(allocation.elected)
        assert (allocation.unfilled == 0) == (allocation.reasons == ())

    shuffled = data.draw(st.permutations(groups))
    again = tally_election(shuffled, candidates, seats, reserved, cg, require_group_quorum=False)
    assert again.candidates == r.candidates
    for x, y in ((again.weighted, r.weighted), (again.plain, r.plain)):
        assert (x.elected, x.ties, x.general, x.unfilled) == (
            y.elected,
            y.ties,
            y.general,
            y.unfilled,
        )
        assert x.reserved == y.reserved
        assert sorted(x.reasons) == sorted(y.reasons)
