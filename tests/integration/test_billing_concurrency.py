"""Two wajib payments of one member settled at the same time pay different months
(PostgreSQL row locks on the member's open obligations)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.savings import billing
from members.savings.models import ObligationPayment, WajibObligation
from tests.integration.members_support import fast_passwords  # noqa: F401
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
                amount = billing.settle_obligations(
                    member_id, 25_000, paid_on=business_date(), source=f"payment:{n}"
                )
                db.session.commit()
                with lock:
                    applied.append(amount)
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
    rows = db.session.scalars(select(WajibObligation)).all()
    assert all(not r.is_open and r.paid_idr == 25_000 for r in rows)
    payments = db.session.scalars(select(ObligationPayment)).all()
    assert len(payments) == 4 and len({p.obligation_id for p in payments}) == 4
