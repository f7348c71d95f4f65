"""Wajib payments of one member allocated at the same time pay different months, and what is
left over becomes advance credit exactly once (PostgreSQL: the allocator locks the member)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.savings import allocator
from members.savings.models import Obligation, ObligationPayment
from tests.integration.savings_support import active_member, bill_months

pytestmark = pytest.mark.postgres
THREADS = 6


def test_concurrent_settlements_pay_distinct_months(app, make_user):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    member = active_member(1, make_user("bendahara"), make_user("pengurus"))
    bill_months(4)
    member_id = member.id
    barrier = threading.Barrier(THREADS)
    applied: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def pay(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                allocation = allocator.allocate(
                    member_id,
                    25_000,
                    purpose="wajib",
                    source=f"payment:{n}",
                    paid_on=business_date(),
                )
                db.session.commit()
                with lock:
                    applied.append(allocation.applied_idr)
            except Exception as error:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(applied) == [0, 0, 25_000, 25_000, 25_000, 25_000]
    db.session.expire_all()
    rows = db.session.scalars(select(Obligation)).all()
    assert all(not r.is_open and r.paid_idr == 25_000 for r in rows)
    payments = db.session.scalars(select(ObligationPayment)).all()
    assert len(payments) == 4 and len({p.obligation_id for p in payments}) == 4
    assert allocator.credit_balance(member_id) == 50_000
