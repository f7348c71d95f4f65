from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmp.money import (
    MoneyError,
    allocate,
    allocate_list,
    format_rupiah,
    parse_gateway_amount,
    parse_rupiah,
)


def test_allocate_examples():
    assert allocate(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    # ties go to the earlier key in the order given
    assert allocate(1, [("x", 1), ("y", 1)]) == {"x": 1, "y": 0}
    assert allocate(1, [("y", 1), ("x", 1)]) == {"y": 1, "x": 0}
    # largest remainder beats order: 10 * 2/3 = 6.67, 10 * 1/3 = 3.33
    assert allocate(10, [("small", 1), ("big", 2)]) == {"small": 3, "big": 7}
    assert allocate(0, {"a": 0}) == {"a": 0}
    assert allocate(-100, {"a": 1, "b": 1, "c": 1}) == {"a": -34, "b": -33, "c": -33}
    assert allocate_list(7, [1, 1, 1]) == [3, 2, 2]


@pytest.mark.parametrize(
    ("total", "weights"),
    [(1, {}), (10, {"a": 0}), (1.5, {"a": 1}), (10, {"a": -1}), (10, {"a": 1.0}), (True, {"a": 1})],
)
def test_allocate_refuses(total, weights):
    with pytest.raises(MoneyError):
        allocate(total, weights)


@given(
    total=st.integers(min_value=0, max_value=10**15),
    weights=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=30).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_allocate_properties(total, weights):
    parts = allocate_list(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, weight_sum)
        assert abs(part - exact) < 1
        assert isinstance(part, int)
    assert allocate_list(total, weights) == parts  # deterministic


@pytest.mark.parametrize(
    ("text", "value"), [("150000.00", 150000), ("100000", 100000), ("0.00", 0), ("25000.0", 25000)]
)
def test_parse_gateway_amount(text, value):
    assert parse_gateway_amount(text) == value


@pytest.mark.parametrize(
    "text",
    ["150000.50", "1e5", "-100.00", " 100.00", "100,000.00", "", "abc", "100.001", "0100.00"],
)
def test_parse_gateway_amount_refuses(text):
    with pytest.raises(MoneyError):
        parse_gateway_amount(text)


def test_parse_gateway_amount_refuses_non_strings():
    with pytest.raises(MoneyError):
        parse_gateway_amount(150000.0)


def test_format_and_parse_rupiah():
    assert format_rupiah(1250000) == "Rp 1.250.000"
    assert format_rupiah(0) == "Rp 0"
    assert format_rupiah(-5000) == "-Rp 5.000"
    assert parse_rupiah("Rp 25.000") == 25000
    assert parse_rupiah("25000") == 25000
    assert parse_rupiah("25.000,00") == 25000
    with pytest.raises(MoneyError):
        parse_rupiah("25.5")


def test_whole_number_fast_path_gives_babels_exact_output():
    """format_number's fast path for whole numbers (issue 25) is Babel's output, per locale."""
    import random

    from babel import Locale
    from babel.numbers import format_decimal

    from kmp.money import format_number

    rng = random.Random(25)
    values = [0, 1, -1, 999, 1000, -1000, 10**15, -(10**15)]
    values += [rng.randint(-(10**13), 10**13) for _ in range(500)]
    for code in ("id", "en"):
        locale = Locale.parse(code)
        for value in values:
            assert format_number(value, locale) == format_decimal(
                value, locale=locale, decimal_quantization=False
            ), (code, value)
