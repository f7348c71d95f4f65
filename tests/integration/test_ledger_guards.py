"""The database keeps the books (issue 24): raw SQL that adds a one-legged posting, changes a
posted amount or deletes an entry is refused by the database itself, on SQLite and PostgreSQL;
money columns are bounded (|amount| <= 10^15) so maintained balances never overflow silently.
``post_entries`` still posts what it posted before (prefix sums of zero, many lines)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from kmp.db import RUPIAH_BOUND
from kmp.extensions import db
from kmp.ledger.chart import CASH, open_member_accounts
from kmp.ledger.models import Account, JournalEntry, Posting
from kmp.ledger.queries import check_ledger
from kmp.ledger.services import LedgerError, UnbalancedEntry, post_entry
from kmp.timeutil import set_clock

SAVINGS = "liability:savings:voluntary:A-0001"
DAY = dt.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def member():
    set_clock(lambda: dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))
    open_member_accounts(1, "A-0001")
    db.session.commit()


def _deposit(amount: int = 10_000, key: str = "d1") -> JournalEntry:
    entry = post_entry(
        idempotency_key=key,
        description="Setoran",
        lines=[(CASH, amount), (SAVINGS, -amount)],
        source_kind="deposit",
    )
    db.session.commit()
    return entry


def _account_id(code: str) -> int:
    return db.session.scalar(select(Account.id).where(Account.code == code))


def _refused(*statements: tuple[str, dict]) -> str:
    """Run raw SQL and commit; the database must refuse it (at the statement or at COMMIT)."""
    with pytest.raises(DBAPIError) as caught:
        for sql, params in statements:
            db.session.execute(text(sql), params)
        db.session.commit()
    db.session.rollback()
    return str(caught.value)


_ENTRY = (
    "INSERT INTO journal_entries (idempotency_key, entry_date, recorded_at, description, "
    "source_kind, fingerprint, posting_count) "
    "VALUES (:key, :day, :at, 'raw', 'raw', 'x', :n)"
)
_POSTING = (
    "INSERT INTO postings (entry_id, account_id, amount_idr, entry_date) VALUES (:e, :a, :v, :day)"
)


def _new_entry_id(key: str) -> int:
    return db.session.scalar(select(JournalEntry.id).where(JournalEntry.idempotency_key == key))


def _raw_entry(key: str, lines: list[tuple[int, int]], declared: int | None = None) -> None:
    db.session.execute(
        text(_ENTRY),
        {
            "key": key,
            "day": DAY,
            "at": dt.datetime(2026, 3, 15, 3, 0),
            "n": len(lines) if declared is None else declared,
        },
    )
    entry_id = _new_entry_id(key)
    for account_id, amount in lines:
        db.session.execute(
            text(_POSTING), {"e": entry_id, "a": account_id, "v": amount, "day": DAY}
        )


def _counts() -> tuple[int, int]:
    entries = db.session.scalar(select(db.func.count()).select_from(JournalEntry))
    postings = db.session.scalar(select(db.func.count()).select_from(Posting))
    return entries, postings


def test_a_one_legged_posting_on_a_posted_entry_is_refused():
    entry = _deposit()
    message = _refused(
        (_POSTING, {"e": entry.id, "a": _account_id(CASH), "v": 5, "day": DAY}),
    )
    assert "kmp:" in message
    assert _counts() == (1, 2) and check_ledger().ok


def test_a_balanced_pair_added_to_a_posted_entry_is_refused_too():
    entry = _deposit()
    cash, savings = _account_id(CASH), _account_id(SAVINGS)
    _refused(
        (_POSTING, {"e": entry.id, "a": cash, "v": 5, "day": DAY}),
        (_POSTING, {"e": entry.id, "a": savings, "v": -5, "day": DAY}),
    )
    assert _counts() == (1, 2) and check_ledger().ok


def test_a_new_entry_left_one_legged_is_refused_at_commit():
    cash = _account_id(CASH)
    with pytest.raises(DBAPIError):
        _raw_entry("raw:1", [(cash, 5)], declared=2)
        db.session.commit()
    db.session.rollback()
    assert _counts() == (0, 0)


def test_an_entry_declaring_one_posting_is_refused():
    message = _refused(
        (
            _ENTRY,
            {"key": "raw:1", "day": DAY, "at": dt.datetime(2026, 3, 15, 3, 0), "n": 1},
        )
    )
    assert "two_postings" in message
    assert _counts() == (0, 0)


def test_an_entry_without_postings_is_refused_at_commit():
    with pytest.raises(DBAPIError):
        _raw_entry("raw:1", [], declared=2)
        db.session.commit()
    db.session.rollback()
    assert _counts() == (0, 0)


def test_an_unbalanced_entry_is_refused():
    cash, savings = _account_id(CASH), _account_id(SAVINGS)
    with pytest.raises(DBAPIError) as caught:
        _raw_entry("raw:1", [(cash, 5), (savings, -4)])
        db.session.commit()
    db.session.rollback()
    assert "sum to zero" in str(caught.value) or "summing to zero" in str(caught.value)
    assert _counts() == (0, 0)


def test_a_balanced_raw_entry_is_accepted():
    cash, savings = _account_id(CASH), _account_id(SAVINGS)
    _raw_entry("raw:1", [(cash, 5), (savings, -2), (savings, -3)])
    db.session.commit()
    assert _counts() == (1, 3)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE postings SET amount_idr = amount_idr + 7",
        "UPDATE journal_entries SET description = 'x'",
        "DELETE FROM postings",
        "DELETE FROM journal_entries",
    ],
)
def test_changing_or_deleting_posted_rows_is_refused(sql):
    _deposit()
    message = _refused((sql, {}))
    assert "append-only" in message
    assert _counts() == (1, 2) and check_ledger().ok


def test_an_amount_above_the_bound_is_refused_by_the_database():
    cash, savings = _account_id(CASH), _account_id(SAVINGS)
    big = RUPIAH_BOUND + 1
    with pytest.raises(DBAPIError) as caught:
        _raw_entry("raw:1", [(cash, big), (savings, -big)])
        db.session.commit()
    db.session.rollback()
    assert "bounded" in str(caught.value)


def test_a_maintained_balance_cannot_overflow():
    message = _refused(
        (
            "UPDATE accounts SET balance_idr = balance_idr + :v WHERE code = :c",
            {"v": 9 * 10**18, "c": CASH},
        )
    )
    assert "bounded" in message


def test_post_entry_refuses_an_amount_above_the_bound_clearly():
    with pytest.raises(UnbalancedEntry) as caught:
        post_entry(
            idempotency_key="big",
            description="x",
            lines=[(CASH, RUPIAH_BOUND + 1), (SAVINGS, -RUPIAH_BOUND - 1)],
            source_kind="deposit",
        )
    assert caught.value.code == "amount_out_of_bounds"


def test_post_entry_refuses_a_balance_beyond_the_bound_as_a_ledger_error():
    _deposit(RUPIAH_BOUND, "d1")
    with pytest.raises(LedgerError) as caught:
        _deposit(1, "d2")
    assert caught.value.code == "amount_out_of_bounds"
    db.session.rollback()
    assert check_ledger().ok


def test_post_entry_still_posts_entries_whose_first_lines_already_sum_to_zero():
    open_member_accounts(2, "A-0002")
    other = "liability:savings:voluntary:A-0002"
    post_entry(
        idempotency_key="four-lines",
        description="Dua setoran dalam satu entri",
        lines=[(CASH, 100), (SAVINGS, -100), (CASH, 50), (other, -50)],
        source_kind="deposit",
    )
    db.session.commit()
    assert _counts() == (1, 4) and check_ledger().ok


def test_many_entries_in_one_transaction_with_a_rollback_in_between():
    _deposit(10, "a")
    savepoint = db.session.begin_nested()
    post_entry(
        idempotency_key="b",
        description="Setoran",
        lines=[(CASH, 20), (SAVINGS, -20)],
        source_kind="deposit",
    )
    savepoint.rollback()
    _deposit(30, "c")
    assert _counts() == (2, 4) and check_ledger().ok
