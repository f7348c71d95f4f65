"""API writes are audited with the partner's key as the actor."""

from __future__ import annotations

from sqlalchemy import select

from kmp.audit import AuditRecord, verify_chain
from kmp.extensions import db
from tests.api.conftest import api, world  # noqa: F401 - fixtures


def test_api_write_is_recorded_with_the_key_as_actor(world, api):  # noqa: F811
    worker = world.worker(link_to=world.company)
    db.session.commit()
    body = {
        "remittance_id": "2025-03/audit",
        "total_idr": 25_000,
        "lines": [
            {
                "platform_worker_id": worker.platform_worker_id,
                "purpose": "wajib",
                "amount_idr": 25_000,
            }
        ],
    }
    response = api(world.key()).post("/api/v1/remittances", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    records = db.session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
    api_records = [r for r in records if r.actor.startswith("api-key:")]
    assert api_records, [r.actor for r in records]
    assert {r.roles for r in api_records} == {"partner"}
    assert any(r.action.startswith("insert:") for r in api_records)
    assert all(r.actor_id is None for r in api_records)
    # the journal is not copied row by row; the set-based posting leaves one summary
    assert not any(r.action in ("insert:journal_entries", "insert:postings") for r in records)
    (summary,) = [r for r in api_records if r.action == "bulk_insert:journal_entries"]
    assert summary.changes_dict["rows"] >= 1 and summary.changes_dict["postings"] >= 2
    assert verify_chain().ok
