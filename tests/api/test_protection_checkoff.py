"""Issue 19, must-show 4 through the partner API: a check-off line for BPJS contributions
(purpose ``bpjs``, the contributions' family) posted twice is applied once."""

from __future__ import annotations

from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.services import get_account
from kmp.timeutil import business_date
from members.partners import links as partners_links
from members.protection import enrolment as enrolments
from members.savings.models import Obligation, ObligationPayment
from tests.integration.protection_support import choice

REMIT = "/api/v1/remittances"


def test_bpjs_check_off_line_posted_twice_is_applied_once(world, api):
    worker = world.worker(link_to=None)
    enrolment = enrolments.request_enrolment(worker, choice(jht=True, income=2_500_000))
    enrolments.confirm_enrolment(enrolment, by_user=world.bendahara)
    partners_links.link_worker(worker, world.company, None)
    db.session.commit()
    link = partners_links.links_of_member(worker)[0]
    body = {
        "remittance_id": f"BPJS-{business_date():%Y%m}",
        "total_idr": 81_800,
        "lines": [
            {"platform_worker_id": link.platform_worker_id, "purpose": "bpjs", "amount_idr": 81_800}
        ],
    }
    client_api = api(world.key())
    first = client_api.post(REMIT, json=body)
    assert first.status_code == 201, first.get_data(as_text=True)
    again = client_api.post(REMIT, json=body)
    assert again.status_code == 200  # replayed: the stored result, nothing applied again
    assert again.get_json()["id"] == first.get_json()["id"]
    assert first.get_json()["accepted_idr"] == 81_800
    applied = db.session.scalar(
        select(func.sum(ObligationPayment.amount_idr)).where(
            ObligationPayment.member_id == worker.id
        )
    )
    assert applied == 81_800
    open_left = db.session.scalar(
        select(func.count())
        .select_from(Obligation)
        .where(Obligation.member_id == worker.id, Obligation.is_open.is_(True))
    )
    assert open_left == 0
    assert get_account("liability:bpjs-deposits:jkk").natural_balance_idr == 25_000
    assert get_account("liability:bpjs-deposits:jht").natural_balance_idr == 50_000
    bad = client_api.post(
        REMIT,
        json={**body, "remittance_id": "X-2", "lines": [{**body["lines"][0], "purpose": "arisan"}]},
    )
    assert bad.status_code == 422 and "bpjs" in bad.get_data(as_text=True)
