"""SHU allocation (payouts.allocation): hand-computed examples and properties."""

import dataclasses
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmp.money import MoneyError, allocate, allocate_list
from payouts.allocation import (
    POOL_MODAL,
    POOL_USAHA,
    REASON_SHU_NOT_POSITIVE,
    AllocationError,
    AllocationTable,
    GroupRule,
    MemberBasis,
    MemberColumns,
    MemberLine,
    Redirect,
    columns_from_rows,
    compute_shu,
    explain_member,
    split_by_weight,
)

DEFAULT = AllocationTable.default()
TWO_HALVES = [GroupRule("A", 5000), GroupRule("B", 5000)]


def lines_by_member(result):
    return {line.member_no: line for line in result.member_lines()}


# --------------------------------------------------------------------------- examples


def test_worked_example_exact_division():
    # S = 1 000 000 with the default table:
    #   cadangan 40 % = 400 000, jasa anggota 40 % = 400 000, four funds 5 % = 50 000 each.
    # Groups A 60 % / B 40 % of 400 000 -> A 240 000, B 160 000.
    # A: modal 37.5 % = 90 000, usaha 62.5 % = 150 000.
    # B: modal 37.5 % = 60 000, usaha 62.5 % = 100 000.
    # A modal by capital 100 : 200 : 300 (of 600) -> 15 000, 30 000, 45 000.
    # A usaha by patronage 1 : 1 : 3 (of 5)     -> 30 000, 30 000, 90 000.
    # B modal by capital 500 000 : 1 500 000   -> 15 000, 45 000.
    # B usaha by patronage 40 : 60 (Rupiah)     -> 40 000, 60 000.
    groups = [GroupRule("A", 6000), GroupRule("B", 4000)]
    members = columns_from_rows(
        [
            ("A-003", "A", 300, 3),
            ("B-001", "B", 500_000, 40),
            ("A-001", "A", 100, 1),
            ("B-002", "B", 1_500_000, 60),
            ("A-002", "A", 200, 1),
        ]
    )
    result = compute_shu(1_000_000, DEFAULT, groups, members)
    assert result.distributed and result.reason is None
    assert result.table_split == {
        "cadangan": 400_000,
        "jasa_anggota": 400_000,
        "dana_pengurus": 50_000,
        "dana_karyawan": 50_000,
        "dana_pendidikan": 50_000,
        "dana_sosial": 50_000,
    }
    assert result.funds == result.table_split
    assert list(result.funds) == [k for k, _ in DEFAULT.lines]  # table order
    a, b = result.groups
    assert (a.pool_idr, a.modal_pool_idr, a.usaha_pool_idr) == (240_000, 90_000, 150_000)
    assert (b.pool_idr, b.modal_pool_idr, b.usaha_pool_idr) == (160_000, 60_000, 100_000)
    assert (a.capital_total_idr, a.patronage_total) == (600, 5)
    assert list(result.member_lines()) == [
        MemberLine("A-001", "A", 100, 1, 15_000, 30_000, 45_000),
        MemberLine("A-002", "A", 200, 1, 30_000, 30_000, 60_000),
        MemberLine("A-003", "A", 300, 3, 45_000, 90_000, 135_000),
        MemberLine("B-001", "B", 500_000, 40, 15_000, 40_000, 55_000),
        MemberLine("B-002", "B", 1_500_000, 60, 45_000, 60_000, 105_000),
    ]
    assert result.redirected == ()
    assert result.reserve_idr == 400_000
    assert result.members_total_idr == 400_000
    assert result.allocated_idr == 1_000_000


def test_ties_and_zero_patronage_group():
    # S = 100: cadangan 40, jasa anggota 40, four funds 5 each.
    # Groups A 50 % / B 50 % of 40 -> 20 each.
    # Each group: modal 20 * 0.375 = 7.5, usaha 12.5 -> 7 + 12, one Rupiah left, remainders
    # tie (0.5 each) -> modal (given first) wins: modal 8, usaha 12.
    # A: three members, capital 1 each: 8 / 3 = 2.67 -> 2, 2, 2 and two Rupiah left, all
    #    remainders equal -> the two LOWER member numbers get 3; A-3 gets 2.
    #    Patronage 1 each: 12 / 3 = 4 each.
    # B: capital 1 and 2: 8/3 = 2.67 and 16/3 = 5.33 -> 2 + 5, one Rupiah left; the larger
    #    remainder (2/3, member B-2) wins even though B-1 has the lower number: 3 and 5.
    #    Patronage 0 for everybody -> the usaha pool 12 goes to cadangan: 40 + 12 = 52.
    members = columns_from_rows(
        [
            ("A-3", "A", 1, 1),
            ("A-2", "A", 1, 1),
            ("A-1", "A", 1, 1),
            ("B-2", "B", 1, 0),
            ("B-1", "B", 2, 0),
        ]
    )
    result = compute_shu(100, DEFAULT, TWO_HALVES, members)
    a, b = result.groups
    assert (a.modal_pool_idr, a.usaha_pool_idr) == (8, 12)
    assert (b.modal_pool_idr, b.usaha_pool_idr) == (8, 12)
    lines = lines_by_member(result)
    assert [lines[m].jasa_modal_idr for m in ("A-1", "A-2", "A-3")] == [3, 3, 2]
    assert [lines[m].jasa_usaha_idr for m in ("A-1", "A-2", "A-3")] == [4, 4, 4]
    # B-1 has capital 2 (16/3 = 5.33), B-2 capital 1 (8/3 = 2.67, larger remainder)
    assert (lines["B-1"].jasa_modal_idr, lines["B-2"].jasa_modal_idr) == (5, 3)
    assert (lines["B-1"].jasa_usaha_idr, lines["B-2"].jasa_usaha_idr) == (0, 0)
    assert result.redirected == (Redirect("B", POOL_USAHA, 12),)
    assert b.usaha_paid_idr == 0 and b.patronage_total == 0
    assert result.funds["cadangan"] == 52
    assert result.funds["jasa_anggota"] == 28  # 40 - 12 redirected
    assert result.table_split["cadangan"] == 40
    assert result.redirected_total_idr == 12
    # 52 + 28 + 4 * 5 = 100
    assert sum(line.total_idr for line in result.member_lines()) == 28
    assert result.allocated_idr == 100


def test_tie_goes_to_lower_member_number_as_string():
    # One group of 10 000 bp; table all to jasa anggota; S = 1:
    # modal 0.375 -> 0, usaha 0.625 -> 0; leftover 1 to the larger remainder: usaha 1.
    # Two members with equal patronage: 1/2 each -> the lower member number gets it.
    # Member numbers compare as strings: "DRV-2026-000009" < "DRV-2026-000010".
    table = AllocationTable((("cadangan", 0), ("jasa_anggota", 10_000)))
    groups = [GroupRule("pengemudi", 10_000)]
    members = {
        "pengemudi": MemberColumns(["DRV-2026-000010", "DRV-2026-000009"], [7, 7], [3, 3]),
    }
    result = compute_shu(1, table, groups, members)
    lines = lines_by_member(result)
    assert lines["DRV-2026-000009"].jasa_usaha_idr == 1
    assert lines["DRV-2026-000010"].jasa_usaha_idr == 0
    # Plain string order, not numeric: "B-10" < "B-9".
    members = {"pengemudi": MemberColumns(["B-9", "B-10"], [0, 0], [1, 1])}
    lines = lines_by_member(compute_shu(1, table, groups, members))
    assert (lines["B-10"].jasa_usaha_idr, lines["B-9"].jasa_usaha_idr) == (1, 0)


def test_one_rupiah_pools():
    # Table all to jasa anggota, one group, S = 3:
    # modal 3 * 0.375 = 1.125 -> 1; usaha 3 * 0.625 = 1.875 -> 1; leftover 1 to the larger
    # remainder (0.875, usaha): modal 1, usaha 2.
    # Modal 1 over capital 5 : 5 -> 0.5 each, tie -> M-1 (lower number) gets 1.
    # Usaha 2 over patronage 1 : 3 -> 0.5 and 1.5 -> 0 + 1, leftover 1, remainders tie
    # (0.5 each) -> M-1: usaha 1, M-2: usaha 1.
    table = AllocationTable((("cadangan", 0), ("jasa_anggota", 10_000)))
    groups = [GroupRule("G", 10_000)]
    members = {"G": MemberColumns(["M-2", "M-1"], [5, 5], [3, 1])}
    result = compute_shu(3, table, groups, members)
    (g,) = result.groups
    assert (g.modal_pool_idr, g.usaha_pool_idr) == (1, 2)
    assert list(result.member_lines()) == [
        MemberLine("M-1", "G", 5, 1, 1, 1, 2),
        MemberLine("M-2", "G", 5, 3, 0, 1, 1),
    ]


def test_shu_of_one_rupiah():
    # S = 1 with the default table: cadangan 0.4, jasa anggota 0.4, funds 0.05 each; all floor
    # to 0; the one Rupiah goes to the largest remainder, cadangan and jasa anggota tie at
    # 0.4 -> cadangan (first in table order). Members get nothing; nothing redirected.
    members = columns_from_rows([("A-1", "A", 10, 1), ("B-1", "B", 10, 1)])
    result = compute_shu(1, DEFAULT, TWO_HALVES, members)
    assert result.funds == {
        "cadangan": 1,
        "jasa_anggota": 0,
        "dana_pengurus": 0,
        "dana_karyawan": 0,
        "dana_pendidikan": 0,
        "dana_sosial": 0,
    }
    assert all(line.total_idr == 0 for line in result.member_lines())
    assert result.redirected == ()
    assert result.allocated_idr == 1


@pytest.mark.parametrize("shu", [0, -1, -5_000_000])
def test_shu_not_positive_distributes_nothing(shu):
    members = columns_from_rows([("A-1", "A", 10, 1)])
    result = compute_shu(shu, DEFAULT, TWO_HALVES, members)
    assert not result.distributed
    assert result.reason == REASON_SHU_NOT_POSITIVE
    assert result.groups == () and result.redirected == ()
    assert set(result.funds.values()) == {0}
    assert list(result.member_lines()) == []
    with pytest.raises(KeyError):
        explain_member(result, "A-1")


def test_exited_member_pro_rata_and_empty_group():
    # S = 10 000: cadangan 4 000, jasa anggota 4 000, funds 500 each.
    # Groups A 100 %, B 0 % (no members; its pools are 0, so nothing is redirected).
    # A: modal 1 500, usaha 2 500.
    # Capital weight = capital * months: A-1 1 000 000 * 12 = 12 000 000,
    #   A-2 1 000 000 * 6 = 6 000 000, A-3 2 000 000 * 3 = 6 000 000; total 24 000 000.
    #   modal 1 500 -> 750, 375, 375.
    # Patronage is not pro-rated by default: 100 : 50 : 50 of 2 500 -> 1 250, 625, 625.
    groups = [GroupRule("A", 10_000), GroupRule("B", 0)]
    rows = [
        MemberBasis("A-1", "A", 1_000_000, 100),
        MemberBasis("A-2", "A", 1_000_000, 50, months=6),
        MemberBasis("A-3", "A", 2_000_000, 50, months=3),
    ]
    result = compute_shu(10_000, DEFAULT, groups, columns_from_rows(rows))
    a, b = result.groups
    assert (a.modal_pool_idr, a.usaha_pool_idr) == (1500, 2500)
    assert (b.pool_idr, b.member_count) == (0, 0)
    assert a.modal_weight_total == 24_000_000
    assert a.capital_total_idr == 4_000_000
    assert [(x.jasa_modal_idr, x.jasa_usaha_idr) for x in result.member_lines()] == [
        (750, 1250),
        (375, 625),
        (375, 625),
    ]
    assert result.redirected == ()

    # prorate_patronage=True: usaha weights 100*12 = 1 200, 50*6 = 300, 50*3 = 150 (1 650):
    #   2 500 * 1200/1650 = 1 818.18, * 300/1650 = 454.55, * 150/1650 = 227.27
    #   -> 1 818 + 454 + 227 = 2 499, the last Rupiah to the largest remainder (A-2, .55).
    result = compute_shu(10_000, DEFAULT, groups, columns_from_rows(rows), prorate_patronage=True)
    assert [x.jasa_usaha_idr for x in result.member_lines()] == [1818, 455, 227]
    assert result.groups[0].usaha_weight_total == 1650

    x = explain_member(result, "A-2")
    assert (x.group, x.months, x.capital_idr, x.capital_weight) == ("A", 6, 1_000_000, 6_000_000)
    assert x.group_capital_weight_total == 24_000_000
    assert x.group_capital_total_idr == 4_000_000
    assert x.modal_share == Fraction(1, 4)
    assert x.jasa_modal_exact == 375 and x.jasa_modal_idr == 375
    assert (x.patronage, x.patronage_weight, x.group_patronage_total) == (50, 300, 200)
    assert x.usaha_share == Fraction(300, 1650)
    assert x.jasa_usaha_exact == Fraction(2500 * 300, 1650)
    assert (x.jasa_usaha_idr, x.total_idr) == (455, 830)
    assert (x.shu_idr, x.members_pool_idr, x.group_pool_idr) == (10_000, 4000, 4000)
    assert (x.modal_pool_idr, x.usaha_pool_idr, x.modal_bp, x.usaha_bp) == (1500, 2500, 3750, 6250)
    assert not x.modal_pool_redirected and not x.usaha_pool_redirected


def test_group_without_members_or_capital_goes_to_reserve():
    # S = 1 000: cadangan 400, jasa anggota 400 -> A 200, B 200.
    # A has nobody: modal 75 and usaha 125 both go to cadangan.
    # B members have zero capital: modal 75 to cadangan; usaha 125 to the one member.
    # cadangan 400 + 75 + 125 + 75 = 675; jasa anggota paid 125; funds 4 * 50 = 200.
    members = {"B": MemberColumns(["B-1"], [0], [9])}
    result = compute_shu(1000, DEFAULT, TWO_HALVES, members)
    assert result.redirected == (
        Redirect("A", POOL_MODAL, 75),
        Redirect("A", POOL_USAHA, 125),
        Redirect("B", POOL_MODAL, 75),
    )
    assert result.funds["cadangan"] == 675
    assert result.funds["jasa_anggota"] == 125
    assert list(result.member_lines()) == [MemberLine("B-1", "B", 0, 9, 0, 125, 125)]
    x = explain_member(result, "B-1")
    assert x.modal_pool_redirected and x.modal_share == 0
    assert not x.usaha_pool_redirected and x.usaha_share == 1
    assert result.allocated_idr == 1000


def test_explain_unknown_member():
    result = compute_shu(1000, DEFAULT, TWO_HALVES, {"A": MemberColumns(["A-1"], [1], [1])})
    with pytest.raises(KeyError):
        explain_member(result, "A-2")


@pytest.mark.parametrize(
    "make",
    [
        lambda: AllocationTable((("cadangan", 5000), ("jasa_anggota", 5001))),
        lambda: AllocationTable((("cadangan", 5000), ("jasa_anggota", 5000), ("x", 500))),
        lambda: AllocationTable((("cadangan", 5000), ("dana_sosial", 5000))),
        lambda: AllocationTable((("cadangan", 5000), ("cadangan", 5000))),
        lambda: AllocationTable((("cadangan", -1), ("jasa_anggota", 10_001))),
        lambda: AllocationTable((("cadangan", 5000.0), ("jasa_anggota", 5000))),
        lambda: GroupRule("A", 5000, 4000, 5000),
        lambda: GroupRule("A", True),
        lambda: GroupRule("", 5000),
    ],
)
def test_bad_configuration_is_refused(make):
    with pytest.raises(AllocationError):
        make()


@pytest.mark.parametrize(
    ("groups", "members", "shu"),
    [
        ([GroupRule("A", 5000), GroupRule("B", 4000)], {}, 100),  # weights sum 9 000
        ([GroupRule("A", 5000), GroupRule("A", 5000)], {}, 100),  # duplicate group
        ([], {}, 100),
        (TWO_HALVES, {"C": MemberColumns(["C-1"], [1], [1])}, 100),  # unknown group
        (TWO_HALVES, {"A": MemberColumns(["A-1", "A-1"], [1, 1], [1, 1])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-2", "A-1", "A-2"], [1, 1, 1], [1, 1, 1])}, 100),
        (
            TWO_HALVES,
            {"A": MemberColumns(["X-1"], [1], [1]), "B": MemberColumns(["X-1"], [1], [1])},
            100,
        ),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [-1], [1])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [1], [-1])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [1.5], [1])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [True], [1])}, 100),
        (TWO_HALVES, {"A": MemberColumns([1], [1], [1])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [1, 2], [1])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [1], [1], [13])}, 100),
        (TWO_HALVES, {"A": MemberColumns(["A-1"], [1], [1], [-1])}, 100),
        (TWO_HALVES, {}, 100.0),
        (TWO_HALVES, {}, True),
    ],
)
def test_bad_input_is_refused(groups, members, shu):
    with pytest.raises(AllocationError):
        compute_shu(shu, DEFAULT, groups, members)


def test_rows_with_wrong_arity_are_refused():
    with pytest.raises(AllocationError):
        columns_from_rows([("A-1", "A", 1)])


def test_split_by_weight_examples():
    assert split_by_weight(10, [1, 2]) == [3, 7]
    assert split_by_weight(2, [1, 1, 1]) == [1, 1, 0]  # ties to the lower position
    assert split_by_weight(-2, [1, 1, 1]) == [-1, -1, 0]
    assert split_by_weight(0, [0, 0]) == [0, 0]
    assert split_by_weight(0, []) == []
    with pytest.raises(MoneyError):
        split_by_weight(1, [0, 0])
    with pytest.raises(MoneyError):
        split_by_weight(1, [])


# --------------------------------------------------------------------------- properties

member_numbers = (
    st.lists(st.integers(0, 10_000), unique=True, max_size=40)
    .map(
        lambda ns: [f"M-{n:0{1 + n % 3}d}" for n in ns]  # mixed widths: string order matters
    )
    .map(lambda ms: list(dict.fromkeys(ms)))
)


@st.composite
def bp_split(draw, n):
    raw = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n).filter(any))
    return allocate_list(10_000, raw)


@st.composite
def scenarios(draw):
    table_bp = draw(bp_split(draw(st.integers(2, 6))))
    keys = ["cadangan", "jasa_anggota"] + [f"dana_{i}" for i in range(len(table_bp) - 2)]
    table = AllocationTable(tuple(zip(keys, table_bp, strict=True)))
    n_groups = draw(st.integers(1, 4))
    weights = draw(bp_split(n_groups))
    groups = []
    for i, w in enumerate(weights):
        modal = draw(st.one_of(st.just(3750), st.integers(0, 10_000)))
        groups.append(GroupRule(f"G{i}", w, modal, 10_000 - modal))
    with_months = draw(st.booleans())
    basis = st.one_of(st.just(0), st.integers(0, 5), st.integers(0, 10**9))
    rows = []
    for number in draw(member_numbers):
        group = draw(st.sampled_from(groups)).code
        row = (number, group, draw(basis), draw(basis))
        if with_months:
            row += (draw(st.integers(0, 12)),)
        rows.append(row)
    shu = draw(st.one_of(st.integers(1, 100), st.integers(1, 10**13)))
    return shu, table, groups, rows, draw(st.booleans())


def _check_no_floats(value):
    assert not isinstance(value, float)
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _check_no_floats(getattr(value, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_no_floats(k)
            _check_no_floats(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _check_no_floats(v)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_allocation_properties(scenario):
    shu, table, groups, rows, prorate = scenario
    result = compute_shu(shu, table, groups, columns_from_rows(rows), prorate_patronage=prorate)
    lines = list(result.member_lines())

    # Every Rupiah is accounted for, exactly.
    others = sum(v for k, v in result.funds.items() if k not in ("cadangan", "jasa_anggota"))
    assert sum(x.total_idr for x in lines) + others + result.reserve_idr == shu
    assert sum(result.table_split.values()) == shu
    assert result.funds["cadangan"] == result.table_split["cadangan"] + sum(
        r.amount_idr for r in result.redirected
    )
    assert sum(g.pool_idr for g in result.groups) == result.table_split["jasa_anggota"]

    # Lines are in group order, then member number; one line per eligible member.
    order = {g.code: i for i, g in enumerate(groups)}
    keys = [(order[x.group], x.member_no) for x in lines]
    assert keys == sorted(keys) and len(lines) == len(rows)

    # Each member within one Rupiah of the exact share of each pool.
    months_of = {r[0]: (r[4] if len(r) == 5 else 12) for r in rows}
    for g in result.groups:
        assert g.modal_pool_idr + g.usaha_pool_idr == g.pool_idr
        gl = [x for x in lines if x.group == g.code]
        for kind, pool, paid, attr, basis_of, prorated in (
            (
                POOL_MODAL,
                g.modal_pool_idr,
                g.modal_paid_idr,
                "jasa_modal_idr",
                "capital_basis_idr",
                True,
            ),
            (
                POOL_USAHA,
                g.usaha_pool_idr,
                g.usaha_paid_idr,
                "jasa_usaha_idr",
                "patronage",
                prorate,
            ),
        ):
            weights = [
                getattr(x, basis_of) * (months_of[x.member_no] if prorated else 12) for x in gl
            ]
            amounts = [getattr(x, attr) for x in gl]
            assert sum(amounts) == paid
            if not any(weights):  # nobody to pay: a non-zero pool went to the reserve
                assert paid == 0
                assert (pool == 0) or any(
                    r == Redirect(g.code, kind, pool) for r in result.redirected
                )
                continue
            assert paid == pool
            total_w = sum(weights)
            for w, amount in zip(weights, amounts, strict=True):
                assert abs(amount - Fraction(pool * w, total_w)) < 1
    for r in result.redirected:
        assert r.amount_idr > 0 and r.pool in (POOL_MODAL, POOL_USAHA)

    # Nothing is a float.
    _check_no_floats(result)
    _check_no_floats(lines)
    for x in lines[:5]:
        explanation = explain_member(result, x.member_no)
        _check_no_floats(explanation)
        assert explanation.total_idr == x.total_idr
        if not explanation.modal_pool_redirected:
            assert abs(explanation.jasa_modal_exact - x.jasa_modal_idr) < 1
        if not explanation.usaha_pool_redirected:
            assert abs(explanation.jasa_usaha_exact - x.jasa_usaha_idr) < 1


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_row_order(scenario, rnd):
    shu, table, groups, rows, prorate = scenario
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    first = compute_shu(shu, table, groups, columns_from_rows(rows), prorate_patronage=prorate)
    second = compute_shu(shu, table, groups, columns_from_rows(shuffled), prorate_patronage=prorate)
    assert first == second
    assert list(first.member_lines()) == list(second.member_lines())


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.one_of(st.integers(0, 3), st.integers(0, 10**9)), min_size=1, max_size=50).filter(
        any
    ),
)
def test_split_by_weight_matches_kmp_money_allocate(total, weights):
    expected = allocate(total, list(enumerate(weights)))
    assert split_by_weight(total, weights) == [expected[i] for i in range(len(weights))]


def test_large_group_is_consistent():
    # 20 000 members, many equal bases (lots of ties): still exact and matches allocate.
    rnd = random.Random(7)
    n = 20_000
    capital = [rnd.choice([0, 100_000, 125_000, 150_000]) for _ in range(n)]
    amounts = split_by_weight(987_654_321, capital)
    expected = allocate(987_654_321, list(enumerate(capital)))
    assert amounts == [expected[i] for i in range(n)]
    assert sum(amounts) == 987_654_321
