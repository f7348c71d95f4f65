"""Must show 3: schemathesis runs against /api/v1/openapi.json (bounded examples) and finds
no 5xx and no response that breaks the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kmp.extensions import db
from members.partners import remittances as partners_remittances


@pytest.fixture
def api_schema(app, world, monkeypatch):
    """The live schema, with a linked worker, a remittance and a patronage batch stored so
    that reads return real data."""
    monkeypatch.setitem(app.config, "KMP_API_RATE_LIMIT", "100000 per minute")
    worker = world.worker(link_to=world.company)
    partners_remittances.submit_remittance(
        world.company,
        remittance_ref="seed-1",
        total_idr=25_000,
        lines=[partners_remittances.RemittanceLineIn(worker.platform_worker_id, "wajib", 25_000)],
    )
    db.session.commit()
    pytest.kmp_api_key = world.key()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {pytest.kmp_api_key}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
