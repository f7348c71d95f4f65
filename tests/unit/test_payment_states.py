"""The pure payment state ranking and order ids."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmp.payments.gateway import (
    NON_PAID_TERMINAL_STATES,
    ORDER_ID_RE,
    PaymentState,
    UnknownStatusError,
    is_late_settlement,
    new_order_id,
    next_state,
    state_from_status,
    validate_order_id,
)

S = PaymentState

STATUSES = [
    "settlement",
    "capture",
    "authorize",
    "pending",
    "deny",
    "cancel",
    "expire",
    "failure",
    "refund",
    "partial_refund",
    "chargeback",
    "partial_chargeback",
]
FRAUD = [None, "accept", "challenge", "deny"]


def test_ranks() -> None:
    expected = {
        S.CREATED: 0,
        S.TOKEN_ISSUED: 1,
        S.TOKEN_UNKNOWN: 1,
        S.PENDING: 2,
        S.CHALLENGE: 3,
        S.EXPIRED: 4,
        S.CANCELLED: 4,
        S.DENIED: 4,
        S.FAILED: 4,
        S.PAID: 5,
        S.PARTIALLY_REFUNDED: 6,
        S.REFUNDED: 7,
        S.REVERSED: 7,
    }
    assert {state: state.rank for state in S} == expected
    assert S.PAID == "PAID" and S("EXPIRED") is S.EXPIRED


@pytest.mark.parametrize(
    ("status", "fraud", "state"),
    [
        ("settlement", "accept", S.PAID),
        ("settlement", None, S.PAID),
        ("capture", "accept", S.PAID),
        ("capture", None, S.PAID),  # missing fraud_status counts as accept
        ("capture", "", S.PAID),
        ("capture", "challenge", S.CHALLENGE),
        ("capture", "deny", S.DENIED),
        ("authorize", None, S.PENDING),
        ("pending", "accept", S.PENDING),
        ("deny", None, S.DENIED),
        ("cancel", None, S.CANCELLED),
        ("expire", None, S.EXPIRED),
        ("failure", None, S.FAILED),
        ("refund", None, S.REFUNDED),
        ("partial_refund", None, S.PARTIALLY_REFUNDED),
        ("chargeback", None, S.REVERSED),
        ("partial_chargeback", None, S.PARTIALLY_REFUNDED),
        (" Settlement ", "ACCEPT", S.PAID),
    ],
)
def test_state_from_status(status: str, fraud: str | None, state: PaymentState) -> None:
    assert state_from_status(status, fraud) is state


@pytest.mark.parametrize("status", [None, "", "refunded", "settled", 200])
def test_unknown_status(status: object) -> None:
    with pytest.raises(UnknownStatusError):
        state_from_status(status)  # type: ignore[arg-type]
    assert issubclass(UnknownStatusError, ValueError)


def test_duplicate_and_stale_events_are_ignored() -> None:
    assert next_state(S.PAID, S.PAID) is None
    assert next_state(S.PENDING, S.PENDING) is None
    assert next_state(S.PAID, S.PENDING) is None  # pending after settlement
    assert next_state(S.CHALLENGE, S.PENDING) is None
    assert next_state(S.EXPIRED, S.CANCELLED) is None
    assert next_state(S.TOKEN_UNKNOWN, S.TOKEN_ISSUED) is None
    assert next_state(S.PAID, S.EXPIRED) is None
    assert next_state(S.REVERSED, S.DENIED) is None
    assert next_state(S.REFUNDED, S.PAID) is None


def test_forward_moves() -> None:
    assert next_state(S.CREATED, S.TOKEN_ISSUED) is S.TOKEN_ISSUED
    assert next_state(S.TOKEN_ISSUED, S.PENDING) is S.PENDING
    assert next_state(S.PENDING, S.PAID) is S.PAID
    assert next_state(S.CHALLENGE, S.PAID) is S.PAID
    assert next_state(S.CHALLENGE, S.DENIED) is S.DENIED
    assert next_state(S.PENDING, S.EXPIRED) is S.EXPIRED
    assert next_state(S.PAID, S.PARTIALLY_REFUNDED) is S.PARTIALLY_REFUNDED
    assert next_state(S.PARTIALLY_REFUNDED, S.REFUNDED) is S.REFUNDED
    assert next_state(S.PAID, S.REFUNDED) is S.REFUNDED


@pytest.mark.parametrize("closed", sorted(NON_PAID_TERMINAL_STATES))
def test_settlement_after_close_wins_and_is_flagged(closed: PaymentState) -> None:
    new = next_state(closed, S.PAID)
    assert new is S.PAID
    assert is_late_settlement(closed, new)


def test_normal_payment_is_not_flagged() -> None:
    assert not is_late_settlement(S.PENDING, S.PAID)
    assert not is_late_settlement(S.EXPIRED, None)
    assert not is_late_settlement(S.PAID, S.REVERSED)


@pytest.mark.parametrize("event", [S.DENIED, S.CANCELLED, S.FAILED])
@pytest.mark.parametrize("paid", [S.PAID, S.PARTIALLY_REFUNDED])
def test_deny_after_settlement_is_reversal(paid: PaymentState, event: PaymentState) -> None:
    assert next_state(paid, event) is S.REVERSED


def test_out_of_order_delivery() -> None:
    """settlement, then the stale pending, then a duplicate settlement: one transition."""
    state = S.TOKEN_ISSUED
    applied = []
    for status in ["settlement", "pending", "settlement"]:
        new = next_state(state, state_from_status(status, "accept"))
        if new is not None:
            applied.append(new)
            state = new
    assert applied == [S.PAID]


@given(st.sampled_from(list(S)), st.lists(st.sampled_from(list(S)), max_size=30))
def test_rank_never_decreases(start: PaymentState, events: list[PaymentState]) -> None:
    state = start
    for event in events:
        new = next_state(state, event)
        if new is None:
            continue
        assert new.rank > state.rank
        assert next_state(new, event) is None  # re-delivery is a no-op
        state = new
    assert state.rank >= start.rank


@given(
    st.lists(st.tuples(st.sampled_from(STATUSES), st.sampled_from(FRAUD)), min_size=1, max_size=20)
)
def test_midtrans_event_sequences(events: list[tuple[str, str | None]]) -> None:
    state = S.TOKEN_ISSUED
    for status, fraud in events:
        incoming = state_from_status(status, fraud)
        new = next_state(state, incoming)
        if new is None:
            assert incoming.rank <= state.rank
            continue
        assert new.rank > state.rank
        if new is S.REVERSED and incoming is not S.REVERSED:
            assert state in (S.PAID, S.PARTIALLY_REFUNDED)
        state = new


@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_applying_the_same_event_twice_is_idempotent(a: PaymentState, b: PaymentState) -> None:
    first = next_state(a, b)
    if first is not None:
        assert next_state(first, b) is None


# --------------------------------------------------------------------------- order ids

DAY = dt.date(2025, 1, 1)


def test_new_order_id_format() -> None:
    order_id = new_order_id("sim", 1, DAY)
    assert re.fullmatch(r"KOP-SIM-20250101-0001-[0-9a-f]{4}", order_id)
    assert ORDER_ID_RE.fullmatch(order_id)
    assert new_order_id("WAJ", "A7", DAY).startswith("KOP-WAJ-20250101-A7-")
    assert new_order_id("POK", 123456, DAY).startswith("KOP-POK-20250101-123456-")
    assert len({new_order_id("SIM", 1, DAY) for _ in range(30)}) > 1


@pytest.mark.parametrize(
    ("purpose", "intent", "day"),
    [
        ("S-M", 1, DAY),
        ("", 1, DAY),
        ("ABCDEFGHIJK", 1, DAY),
        ("SIM", -1, DAY),
        ("SIM", True, DAY),
        ("SIM", "a b", DAY),
        ("SIM", 1.0, DAY),
        ("SIM", 1, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
        ("SIM", 1, "2025-01-01"),
        ("ABCDEFGHIJ", "X" * 24, DAY),  # 53 characters: too long for Midtrans
    ],
)
def test_new_order_id_refuses_bad_input(purpose: object, intent: object, day: object) -> None:
    with pytest.raises(ValueError):
        new_order_id(purpose, intent, day)  # type: ignore[arg-type]


@given(
    st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True),
    st.integers(min_value=0, max_value=10**12),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(9999, 12, 31)),
)
def test_new_order_id_always_valid(purpose: str, intent: int, day: dt.date) -> None:
    order_id = new_order_id(purpose, intent, day)
    assert ORDER_ID_RE.fullmatch(order_id)
    assert order_id.startswith(f"KOP-{purpose.upper()}-{day:%Y%m%d}-")


@pytest.mark.parametrize("bad", ["has space", "x" * 51, "", "a/b", "ü", None, 12])
def test_validate_order_id(bad: object) -> None:
    with pytest.raises(ValueError):
        validate_order_id(bad)
    assert validate_order_id("KOP-SIM-20250101-0001-a1b2.~_") == "KOP-SIM-20250101-0001-a1b2.~_"
