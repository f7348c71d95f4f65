"""50 concurrent withdrawals that together exceed the balance (PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.chart import CASH, open_member_accounts
from kmp.ledger.models import Account, JournalEntry
from kmp.ledger.queries import check_ledger
from kmp.ledger.services import Overdraft, post_entry

SAVINGS = "liability:savings:voluntary:A-0001"
START = 1_000_000
EACH = 30_000
THREADS = 50


@pytest.mark.postgres
def test_concurrent_withdrawals_never_overdraw(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    open_member_accounts(1, "A-0001")
    post_entry(
        idempotency_key="seed",
        description="Setoran awal",
        source_kind="deposit",
        lines=[(CASH, START), (SAVINGS, -START)],
    )
    db.session.commit()

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def withdraw(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                post_entry(
                    idempotency_key=f"withdrawal:{n}",
                    description="Penarikan",
                    source_kind="withdrawal",
                    lines=[(SAVINGS, EACH), (CASH, -EACH)],
                )
                db.session.commit()
                outcome = "ok"
            except Overdraft as error:
                db.session.rollback()
                outcome = "overdraft" if "Saldo tidak cukup" in error.message else repr(error)
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                db.session.rollback()
                outcome = repr(error)
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=withdraw, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    fit = START // EACH  # 33 withdrawals of Rp 30.000 fit in Rp 1.000.000
    assert len(outcomes) == THREADS
    assert outcomes.count("ok") == fit, outcomes
    assert outcomes.count("overdraft") == THREADS - fit, outcomes
    db.session.expire_all()
    balance = db.session.scalar(select(Account).where(Account.code == SAVINGS)).natural_balance_idr
    assert balance == START - fit * EACH == 10_000
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 1 + fit
    assert check_ledger().ok
