"""The ledger core: refusals, reversals, period close, append-only journal (ORM and PostgreSQL
trigger), transactions owned by the caller, reports, statements, and ``kmp ledger-check``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from kmp.errors import Conflict, NotFound
from kmp.extensions import db
from kmp.ledger.chart import CASH, open_member_accounts
from kmp.ledger.models import (
    Account,
    AppendOnlyError,
    JournalEntry,
    Posting,
    journal_guards_suspended,
)
from kmp.ledger.queries import (
    balance_of,
    balance_sheet,
    check_ledger,
    income_statement,
    member_statement,
    trial_balance,
)
from kmp.ledger.services import (
    ClosedAccount,
    EntrySpec,
    IdempotencyConflict,
    LedgerError,
    Overdraft,
    PeriodClosed,
    UnbalancedEntry,
    close_period,
    post_entries,
    post_entry,
    reverse_entry,
)
from kmp.timeutil import set_clock

SAVINGS = "liability:savings:voluntary:A-0001"


@pytest.fixture(autouse=True)
def member():
    set_clock(lambda: dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC))
    ids = open_member_accounts(1, "A-0001")
    db.session.commit()
    return ids


def deposit(amount: int, key: str, *, code: str = SAVINGS, day: dt.date | None = None):
    return post_entry(
        idempotency_key=key,
        description="Setoran",
        lines=[(CASH, amount), (code, -amount)],
        source_kind="deposit",
        entry_date=day,
    )


def withdraw(amount: int, key: str, *, code: str = SAVINGS):
    return post_entry(
        idempotency_key=key,
        description="Penarikan",
        lines=[(code, amount), (CASH, -amount)],
        source_kind="withdrawal",
    )


def natural(code: str) -> int:
    account = db.session.scalar(select(Account).where(Account.code == code))
    db.session.refresh(account)
    return account.natural_balance_idr


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- refusals ------------------------------------------------------------------------------


def test_unbalanced_zero_and_single_line_entries_are_refused():
    with pytest.raises(UnbalancedEntry, match="tidak seimbang"):
        post_entry(
            idempotency_key="u", description="x", lines=[(CASH, 10), (SAVINGS, -9)], source_kind="t"
        )
    with pytest.raises(UnbalancedEntry) as error:
        post_entry(
            idempotency_key="z",
            description="x",
            lines=[(CASH, 10), (SAVINGS, -10), ("income:other", 0)],
            source_kind="t",
        )
    assert error.value.code == "zero_posting"
    with pytest.raises(UnbalancedEntry) as error:
        post_entry(idempotency_key="s", description="x", lines=[(CASH, 0)], source_kind="t")
    assert error.value.code == "too_few_postings"
    with pytest.raises(UnbalancedEntry) as error:
        post_entry(
            idempotency_key="f",
            description="x",
            lines=[(CASH, 1.5), (SAVINGS, -1.5)],
            source_kind="t",
        )
    assert error.value.code == "amount_not_int"
    with pytest.raises(NotFound):
        post_entry(
            idempotency_key="n",
            description="x",
            lines=[(CASH, 5), ("asset:nope", -5)],
            source_kind="t",
        )
    assert count(JournalEntry) == count(Posting) == 0


def test_overdraft_is_refused_with_a_clear_error_and_writes_nothing():
    deposit(100_000, "d1")
    db.session.commit()
    with pytest.raises(Overdraft, match=f"Saldo tidak cukup di akun {SAVINGS}") as error:
        withdraw(100_001, "w1")
    assert error.value.status == 409
    db.session.rollback()
    assert natural(SAVINGS) == 100_000
    withdraw(100_000, "w2")
    db.session.commit()
    assert natural(SAVINGS) == 0
    assert check_ledger().ok


def test_closed_account_is_refused():
    account = db.session.scalar(select(Account).where(Account.code == "income:other"))
    account.is_closed = True
    db.session.commit()
    with pytest.raises(ClosedAccount, match="sudah ditutup"):
        post_entry(
            idempotency_key="c",
            description="x",
            lines=[(CASH, 5), ("income:other", -5)],
            source_kind="t",
        )


def test_idempotent_replay_and_conflict():
    first = deposit(50_000, "pay:1")
    db.session.commit()
    again = deposit(50_000, "pay:1")
    assert again.id == first.id
    assert count(JournalEntry) == 1 and natural(SAVINGS) == 50_000
    with pytest.raises(IdempotencyConflict, match="sudah dipakai"):
        deposit(50_001, "pay:1")
    batch = [
        EntrySpec("b1", "x", [(CASH, 1), (SAVINGS, -1)], "t"),
        EntrySpec("b1", "x", [(CASH, 1), (SAVINGS, -1)], "t"),
    ]
    with pytest.raises(IdempotencyConflict):
        post_entries(batch)


def test_post_entries_is_all_or_nothing():
    deposit(10_000, "d1")
    db.session.commit()
    specs = [
        EntrySpec("ok", "x", [(CASH, 5_000), (SAVINGS, -5_000)], "t"),
        EntrySpec("too-much", "x", [(SAVINGS, 20_000), (CASH, -20_000)], "t"),
    ]
    with pytest.raises(Overdraft):
        post_entries(specs)
    db.session.rollback()
    assert count(JournalEntry) == 1 and natural(SAVINGS) == 10_000


def test_the_caller_owns_the_transaction():
    """A rollback after post_entry undoes it, on SQLite too (a bare SAVEPOINT there used to
    start and, on RELEASE, commit its own transaction)."""
    db.session.commit()
    deposit(7_000, "rolled-back")
    deposit(8_000, "rolled-back-2")
    db.session.rollback()
    assert count(JournalEntry) == 0
    assert natural(SAVINGS) == 0
    assert check_ledger().ok


# --- reversal and period close -------------------------------------------------------------


def test_reversal_mirrors_the_entry_once():
    entry = deposit(40_000, "d1")
    db.session.commit()
    reversal = reverse_entry(entry, "  salah nominal ")
    db.session.commit()
    assert reversal.reverses_id == entry.id
    assert sorted((p.account_id, p.amount_idr) for p in reversal.postings) == sorted(
        (p.account_id, -p.amount_idr) for p in entry.postings
    )
    assert "salah nominal" in reversal.description
    assert natural(SAVINGS) == 0
    with pytest.raises(Conflict) as error:
        reverse_entry(entry, "sekali lagi")
    assert error.value.code == "already_reversed"
    with pytest.raises(LedgerError) as error:
        reverse_entry(reversal, "membalik pembalik")
    assert error.value.code == "reversal_of_reversal"
    with pytest.raises(LedgerError) as error:
        reverse_entry(deposit(1, "d2"), "   ")
    assert error.value.code == "reason_required"
    assert check_ledger().ok


def test_reversal_that_would_overdraw_is_refused():
    entry = deposit(40_000, "d1")
    withdraw(30_000, "w1")
    db.session.commit()
    with pytest.raises(Overdraft):
        reverse_entry(entry, "setoran batal")
    db.session.rollback()
    assert natural(SAVINGS) == 10_000


def test_closed_period_refuses_entries_and_reversal_goes_to_the_open_period(make_user):
    old = deposit(25_000, "d2025", day=dt.date(2025, 12, 31))
    db.session.commit()
    board = make_user("pengurus")
    period = close_period(2025, by_user=board, note="RAT")
    db.session.commit()
    assert (period.fiscal_year, period.closed_by_id) == (2025, board.id)
    with pytest.raises(PeriodClosed, match="2025 sudah ditutup"):
        deposit(1_000, "late", day=dt.date(2025, 6, 1))
    db.session.rollback()
    reversal = reverse_entry(old, "koreksi sesudah tutup buku")
    db.session.commit()
    assert reversal.entry_date == dt.date(2026, 3, 15)
    assert (
        balance_of(
            db.session.scalar(select(Account).where(Account.code == SAVINGS)),
            as_of=dt.date(2025, 12, 31),
        )
        == -25_000
    )
    with pytest.raises(Conflict):
        close_period(2025)
    with pytest.raises(LedgerError) as error:
        close_period(2026)
    assert error.value.code == "period_not_over"


# --- append-only ---------------------------------------------------------------------------


def test_orm_refuses_update_and_delete_of_postings_and_entries():
    entry = deposit(10_000, "d1")
    db.session.commit()
    posting = entry.postings[0]
    posting.amount_idr = 1
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    entry.description = "diubah"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(entry.postings[0])
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    for statement in (
        update(Posting).values(amount_idr=1),
        delete(Posting),
        update(JournalEntry).values(description="x"),
        delete(JournalEntry),
    ):
        with pytest.raises(AppendOnlyError):
            db.session.execute(statement)
        db.session.rollback()
    with pytest.raises(AppendOnlyError):
        db.session.query(Posting).filter(Posting.id > 0).delete()
    db.session.rollback()
    assert count(Posting) == 2 and check_ledger().ok


@pytest.mark.postgres
def test_postgresql_trigger_refuses_raw_update_and_delete():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    deposit(10_000, "d1")
    db.session.commit()
    for sql in (
        "UPDATE postings SET amount_idr = 1",
        "DELETE FROM postings",
        "UPDATE journal_entries SET description = 'x'",
        "DELETE FROM journal_entries",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(sql))
        db.session.rollback()
    assert count(Posting) == 2 and check_ledger().ok


# --- reports and statements ----------------------------------------------------------------


def test_reports_balance_and_group_member_accounts():
    open_member_accounts(2, "A-0002")
    deposit(100_000, "d1")
    deposit(60_000, "d2", code="liability:savings:voluntary:A-0002")
    post_entry(
        idempotency_key="shu",
        description="SHU anggota",
        lines=[("equity:shu-current-year", 9_000), ("liability:shu-payable:A-0001", -9_000)],
        source_kind="shu",
    )
    post_entry(
        idempotency_key="fee",
        description="Fee",
        source_kind="fee",
        lines=[(CASH, 20_000), ("income:platform-fees", -20_000)],
    )
    db.session.commit()
    rows = {r.code: r for r in trial_balance()}
    assert rows["liability:savings:voluntary"].credit_idr == 160_000
    assert rows["liability:shu-payable"].credit_idr == 9_000
    assert not any(code.endswith("A-0001") for code in rows)
    assert sum(r.debit_idr for r in rows.values()) == sum(r.credit_idr for r in rows.values())
    ungrouped = {r.code for r in trial_balance(group_members=False)}
    assert "liability:shu-payable:A-0001" in ungrouped
    assert {r.code: r.credit_idr for r in trial_balance(dt.date(2026, 3, 15))} == {
        r.code: r.credit_idr for r in rows.values()
    }
    sheet = balance_sheet(dt.date(2026, 3, 15))
    assert sheet["balanced"] and sheet["assets"].total_idr == 180_000
    report = income_statement(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert report["surplus_idr"] == 20_000


def test_member_statement_running_balance_across_pages():
    ids = open_member_accounts(1, "A-0001")
    for n in range(7):
        deposit(10_000, f"d{n}", day=dt.date(2026, 1, 1 + n))
    withdraw(5_000, "w")
    db.session.commit()
    full = member_statement(list(ids.values()), dt.date(2026, 1, 3), None, 1, per_page=100)
    voluntary = next(a for a in full.accounts if a.code == SAVINGS)
    assert voluntary.opening_idr == 20_000 and voluntary.closing_idr == 65_000
    assert [line.balance_idr for line in full.lines] == [
        30_000,
        40_000,
        50_000,
        60_000,
        70_000,
        65_000,
    ]
    assert full.lines[-1].amount_idr == -5_000
    page2 = member_statement([ids["sukarela"]], dt.date(2026, 1, 3), None, 2, per_page=4)
    assert (page2.page, page2.pages, page2.total_lines) == (2, 2, 6)
    assert [line.balance_idr for line in page2.lines] == [70_000, 65_000]
    assert member_statement([], None, None, 1).lines == []
    clamped = member_statement([ids["sukarela"]], None, dt.date(2026, 1, 2), 9, per_page=1)
    assert (clamped.page, clamped.lines[0].balance_idr) == (2, 20_000)


# --- kmp ledger-check ----------------------------------------------------------------------


def _ledger_check(app):
    result = app.test_cli_runner().invoke(args=["kmp", "ledger-check"])
    output = result.output + (getattr(result, "stderr", "") or "")
    return result.exit_code, output


def _seed():
    open_member_accounts(2, "A-0002")
    deposit(100_000, "d1")
    deposit(50_000, "d2", code="liability:savings:voluntary:A-0002")
    withdraw(30_000, "w1")
    db.session.commit()


def test_ledger_check_passes_on_a_seeded_ledger(app):
    _seed()
    code, output = _ledger_check(app)
    assert code == 0, output
    assert "ledger-check OK: 3 entries, 6 postings" in output


def test_ledger_check_names_a_tampered_balance(app):
    _seed()
    db.session.execute(
        text("UPDATE accounts SET balance_idr = balance_idr - 1 WHERE code = :c"),
        {"c": "asset:bank"},
    )
    db.session.commit()
    code, output = _ledger_check(app)
    assert code == 1
    assert "ledger-check FAILED" in output
    assert "account asset:bank: maintained balance -1 != sum of postings 0" in output


def test_ledger_check_names_an_unbalanced_entry(app):
    _seed()
    entry_id, account_id = db.session.execute(
        select(Posting.entry_id, Posting.account_id).order_by(Posting.id).limit(1)
    ).one()
    with journal_guards_suspended(db.session.connection()):  # as a DBA could: the 2nd line
        db.session.execute(
            text(
                "INSERT INTO postings (entry_id, account_id, amount_idr, entry_date) "
                "VALUES (:e, :a, 5, :d)"
            ),
            {"e": entry_id, "a": account_id, "d": dt.date(2026, 3, 15)},
        )
    db.session.commit()
    code, output = _ledger_check(app)
    assert code == 1
    assert f"entry {entry_id} does not balance (sum 5, 3 postings)" in output
    assert "trial balance is off by 5" in output


def test_ledger_check_names_an_edited_posting_with_the_guards_off(app):
    _seed()
    posting = db.session.scalar(select(Posting).order_by(Posting.id.desc()).limit(1))
    with journal_guards_suspended(db.session.connection()):  # the triggers refuse it otherwise
        db.session.execute(
            text("UPDATE postings SET amount_idr = amount_idr + 7 WHERE id = :i"),
            {"i": posting.id},
        )
    db.session.commit()
    code, output = _ledger_check(app)
    assert code == 1
    assert f"entry {posting.entry_id} does not balance (sum 7, 2 postings)" in output


@pytest.mark.postgres
def test_ledger_check_names_an_edited_posting_with_the_trigger_disabled(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    _seed()
    posting = db.session.scalar(select(Posting).order_by(Posting.id.desc()).limit(1))
    db.session.execute(text("ALTER TABLE postings DISABLE TRIGGER postings_append_only"))
    db.session.execute(
        text("UPDATE postings SET amount_idr = amount_idr + 7 WHERE id = :i"), {"i": posting.id}
    )
    db.session.execute(text("ALTER TABLE postings ENABLE TRIGGER postings_append_only"))
    db.session.commit()
    code, output = _ledger_check(app)
    assert code == 1
    assert f"entry {posting.entry_id} does not balance (sum 7, 2 postings)" in output
