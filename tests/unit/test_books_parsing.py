"""Pure parsing for the books: amounts as treasurers type them, bank amounts and dates."""

from __future__ import annotations

import datetime as dt

import pytest

from kmp.ledger.books.approval import TRANSITIONS, ApprovalState
from kmp.ledger.books.groups import GROUPS, system_group
from kmp.ledger.reconcile.formats import parse_amount, parse_date
from kmp.money import MoneyError, parse_rupiah_input

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10.000.000", 10_000_000),
        ("10000000", 10_000_000),
        ("10 jt", 10_000_000),
        ("10jt", 10_000_000),
        ("1,5 juta", 1_500_000),
        ("Rp 2,5 jt", 2_500_000),
        ("750 rb", 750_000),
        ("2 miliar", 2_000_000_000),
        ("25.000,00", 25_000),
    ],
)
def test_parse_rupiah_input(text, value):
    assert parse_rupiah_input(text) == value


@pytest.mark.parametrize("text", ["sepuluh", "10 jtt", "1,2345 rb", "-5 jt", "1.5", ""])
def test_parse_rupiah_input_refuses(text):
    with pytest.raises(MoneyError):
        parse_rupiah_input(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,500,000.00", 1_500_000),
        ("1.500.000,00", 1_500_000),
        (".00", 0),
        ("(5.000)", -5_000),
        ("5.000-", -5_000),
        ("Rp 25.000", 25_000),
        (150000.0, 150_000),
        (42, 42),
    ],
)
def test_parse_bank_amounts(value, expected):
    assert parse_amount(value) == expected


def test_cents_are_refused_unless_rounding_is_asked():
    with pytest.raises(ValueError):
        parse_amount("8245.17")
    assert parse_amount("8245.50", round_cents=True) == 8246
    with pytest.raises(ValueError):
        parse_amount("12abc")


def test_dates_without_a_year_take_it_from_the_statement_period():
    period = (dt.date(2025, 12, 1), dt.date(2026, 1, 31))
    assert parse_date("'15/12", ("%d/%m",), period) == dt.date(2025, 12, 15)
    assert parse_date("03/01", ("%d/%m",), period) == dt.date(2026, 1, 3)
    assert parse_date("02/03/26 08:15:22", ("%d/%m/%y",), None) == dt.date(2026, 3, 2)
    with pytest.raises(ValueError):
        parse_date("03/01", ("%d/%m",), None)


def test_every_system_account_has_a_group_of_its_type():
    from kmp.ledger.chart import DEFAULT_CHART, MEMBER_ACCOUNTS

    by_key = {g.key: g for g in GROUPS}
    for code, _name, type_ in DEFAULT_CHART:
        assert by_key[system_group(code)].type == type_, code
    for prefix, _name, type_ in MEMBER_ACCOUNTS.values():
        assert by_key[system_group(prefix + ":A-0001")].type == type_, prefix
    assert system_group("liability:bpjs-deposits") == "trust_funds"
    assert system_group("asset:gateway-clearing") == "cash_bank"


def test_approval_states_end_where_they_should():
    assert TRANSITIONS[ApprovalState.PENDING] == {
        ApprovalState.POSTED,
        ApprovalState.REJECTED,
        ApprovalState.WITHDRAWN,
    }
    assert TRANSITIONS[ApprovalState.POSTED] == {ApprovalState.REVERSED}
    for state in (ApprovalState.REJECTED, ApprovalState.WITHDRAWN, ApprovalState.REVERSED):
        assert not TRANSITIONS[state]
