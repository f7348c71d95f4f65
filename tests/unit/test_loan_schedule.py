"""Issue 18, must-show 1: schedules of the three methods, exact in whole Rupiah (unit and
hypothesis property tests), the effective annual rate, the collectibility classes, the CSV."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from members.loans.policy import class_of
from members.loans.schedule import (
    CSV_HEADER,
    Method,
    build_schedule,
    due_date,
    effective_annual_rate,
    monthly_rate,
    percent_text,
    round_half_up,
    schedule_csv,
)

START = dt.date(2026, 1, 15)

principals = st.integers(min_value=100_000, max_value=500_000_000)
rates = st.integers(min_value=0, max_value=4800)  # 0 - 48 % a year, in basis points
tenors = st.integers(min_value=1, max_value=60)
methods = st.sampled_from(list(Method))


def _check_common(s, principal: int) -> None:
    assert sum(r.principal_idr for r in s.rows) == principal
    assert s.rows[-1].balance_idr == 0
    balance = principal
    for row in s.rows:
        assert isinstance(row.principal_idr, int) and isinstance(row.interest_idr, int)
        assert row.principal_idr >= 0 and row.interest_idr >= 0
        balance -= row.principal_idr
        assert row.balance_idr == balance
    assert s.total_idr == principal + sum(r.interest_idr for r in s.rows)


@settings(max_examples=300, deadline=None)
@given(principals, rates, tenors, methods)
def test_every_method_sums_to_the_principal_and_ends_at_zero(principal, bp, months, method):
    s = build_schedule(principal, bp, months, method, START)
    assert len(s.rows) == months
    _check_common(s, principal)


@settings(max_examples=300, deadline=None)
@given(principals, rates, tenors)
def test_flat_interest_is_the_same_every_month(principal, bp, months):
    s = build_schedule(principal, bp, months, Method.FLAT, START)
    expected = round_half_up(principal * monthly_rate(bp))
    assert {r.interest_idr for r in s.rows} == {expected}
    assert {r.principal_idr for r in s.rows[:-1]} <= {principal // months}


@settings(max_examples=300, deadline=None)
@given(principals, rates, tenors)
def test_annuity_instalments_are_equal_except_the_last(principal, bp, months):
    s = build_schedule(principal, bp, months, Method.ANNUITY, START)
    totals = [r.total_idr for r in s.rows]
    assert len(set(totals[:-1])) <= 1
    r = monthly_rate(bp)
    if r:
        exact = principal * r / (1 - (1 + r) ** -months)
        assert totals[0] == round_half_up(exact) or months == 1
        # The last differs from the others only by the accumulated rounding: at most one
        # Rupiah a month, grown by the interest on it.
        assert abs(totals[-1] - exact) <= months * (1 + r) ** months


@settings(max_examples=300, deadline=None)
@given(principals, rates, tenors, st.sampled_from([Method.ANNUITY, Method.DECLINING]))
def test_interest_is_rate_times_the_previous_balance_rounded(principal, bp, months, method):
    s = build_schedule(principal, bp, months, method, START)
    previous = principal
    for row in s.rows:
        assert row.interest_idr == round_half_up(previous * monthly_rate(bp))
        previous = row.balance_idr


@settings(max_examples=300, deadline=None)
@given(principals, rates, tenors)
def test_declining_principal_parts_are_equal_except_the_last(principal, bp, months):
    s = build_schedule(principal, bp, months, Method.DECLINING, START)
    assert {r.principal_idr for r in s.rows[:-1]} <= {principal // months}
    assert s.rows[-1].principal_idr == principal - (months - 1) * (principal // months)


def test_the_issue_example_and_the_csv():
    s = build_schedule(1_200_000, 1800, 12, "flat", START)
    assert [r.interest_idr for r in s.rows] == [18_000] * 12
    assert [r.principal_idr for r in s.rows] == [100_000] * 12
    text = schedule_csv(s)
    lines = text.splitlines()
    assert lines[0] == CSV_HEADER == "no,due_date,principal_idr,interest_idr,total_idr,balance_idr"
    assert lines[1] == "1,2026-02-15,100000,18000,118000,1100000"
    assert lines[-1] == "12,2027-01-15,100000,18000,118000,0"
    annuity = build_schedule(1_200_000, 1800, 12, "annuity", START)
    # 1.200.000 x 0,015 / (1 - 1,015^-12) = 110.016,0... ; the last absorbs +3 Rupiah.
    assert [r.total_idr for r in annuity.rows] == [110_016] * 11 + [110_019]
    declining = build_schedule(1_000_000, 1200, 3, "declining", START)
    assert [(r.principal_idr, r.interest_idr) for r in declining.rows] == [
        (333_333, 10_000),
        (333_333, 6_667),
        (333_334, 3_333),
    ]


def test_rounding_halves_go_up_and_due_dates_clamp_to_the_month_end():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(7, 3)) == 2
    assert round_half_up(Fraction(-5, 2)) == -3
    assert due_date(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert due_date(dt.date(2026, 1, 31), 3) == dt.date(2026, 4, 30)
    assert due_date(dt.date(2026, 11, 30), 2) == dt.date(2027, 1, 30)


def test_zero_rate_and_bad_input():
    s = build_schedule(1_000_001, 0, 3, "annuity", START)
    assert s.interest_idr == 0 and sum(r.principal_idr for r in s.rows) == 1_000_001
    for args in ((0, 100, 3), (100, -1, 3), (100, 100, 0)):
        with pytest.raises(ValueError):
            build_schedule(*args, "flat", START)
    with pytest.raises(TypeError):
        build_schedule(1.5, 100, 3, "flat", START)
    with pytest.raises(ValueError):
        build_schedule(100, 100, 3, "balloon", START)


def test_effective_annual_rate():
    # No fees, 1,5 % a month on the declining balance: (1,015)^12 - 1 = 19,56 %.
    s = build_schedule(1_200_000, 1800, 12, "annuity", START)
    ear = effective_annual_rate(1_200_000, [r.total_idr for r in s.rows])
    assert abs(float(ear) - (1.015**12 - 1)) < 1e-4
    assert percent_text(ear) == "19,56 %"
    # Flat 18 % a year costs far more than 18 % effectively; fees raise it further.
    flat = build_schedule(1_200_000, 1800, 12, "flat", START)
    flat_ear = effective_annual_rate(1_200_000, [r.total_idr for r in flat.rows])
    with_fees = effective_annual_rate(1_178_000, [r.total_idr for r in flat.rows])
    assert Fraction(32, 100) < flat_ear < with_fees


@pytest.mark.parametrize(
    ("days", "cls"),
    [
        (0, "lancar"),
        (1, "dpk"),
        (90, "dpk"),
        (91, "kurang_lancar"),
        (120, "kurang_lancar"),
        (121, "diragukan"),
        (180, "diragukan"),
        (181, "macet"),
        (999, "macet"),
    ],
)
def test_collectibility_classes(days, cls):
    assert class_of(days) == cls
