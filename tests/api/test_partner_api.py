"""Partner API: every endpoint and every error (issue 8, Must show 1, 2 and 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.chart import PARTNER_PAYABLE, member_account_code
from kmp.ledger.models import JournalEntry
from kmp.ledger.services import get_account
from members.partners import keys as partners_keys
from members.partners import links as partners_links
from members.partners import remittances as partners_remittances
from members.partners.models import ApiKey, Remittance, RemittanceLine
from payouts.patronage import PatronageRecord

WORKERS = "/api/v1/workers"
REMIT = "/api/v1/remittances"
PATRONAGE = "/api/v1/patronage"


def _remittance(ref, lines, total=None):
    lines = [{"platform_worker_id": w, "purpose": p, "amount_idr": a} for w, p, a in lines]
    return {
        "remittance_id": ref,
        "total_idr": sum(ln["amount_idr"] for ln in lines) if total is None else total,
        "lines": lines,
    }


def balance_of(code: str) -> int:
    """Natural balance of an account (credit-normal accounts positive when in credit)."""
    db.session.expire_all()
    account = get_account(code)
    return account.balance_idr * account.normal_sign


def _error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", WORKERS),
        ("get", WORKERS + "/W-1"),
        ("post", REMIT),
        ("get", REMIT),
        ("get", REMIT + "/1"),
        ("get", "/api/v1/contributions"),
        ("post", PATRONAGE),
    ],
)
@pytest.mark.parametrize("key", [None, "kmp_deadbeef_wrong", "not-a-key"])
def test_every_endpoint_refuses_a_missing_or_bad_key(world, api, method, path, key):  # noqa: ARG001
    response = getattr(api(key), method)(path, **({"json": {}} if method == "post" else {}))
    _error(response, 401, "invalid_api_key")


def test_revoked_key_is_refused_and_last_used_is_recorded(world, api):
    key = world.key()
    row = db.session.scalar(select(ApiKey))
    assert row.last_used_at is None and row.key_hash != key and key not in row.key_hash
    assert api(key).get(WORKERS).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(ApiKey)).last_used_at is not None
    partners_keys.revoke_api_key(db.session.scalar(select(ApiKey)), world.pengurus)
    db.session.commit()
    _error(api(key).get(WORKERS), 401, "invalid_api_key")


@pytest.mark.parametrize(
    "scope,method,path",
    [
        ("patronage:write", "get", WORKERS),
        ("patronage:write", "get", WORKERS + "/W-1"),
        ("members:read", "post", REMIT),
        ("members:read", "get", REMIT),
        ("members:read", "get", "/api/v1/contributions"),
        ("members:read", "post", PATRONAGE),
    ],
)
def test_wrong_scope_is_403(world, api, scope, method, path):
    key = world.key(scopes=[scope])
    kwargs = {"json": {}} if method == "post" else {}
    _error(getattr(api(key), method)(path, **kwargs), 403, "insufficient_scope")


def test_rate_limit_answers_429_with_retry_after(world, api, app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_API_RATE_LIMIT", "3 per minute")
    client = api(world.key())
    for _ in range(3):
        assert client.get(WORKERS).status_code == 200
    response = client.get(WORKERS)
    _error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    # another company's key has its own budget
    assert api(world.key(world.other)).get(WORKERS).status_code == 200


# --------------------------------------------------------------------------- workers, consent


def test_consent_controls_what_the_partner_sees(world, api, client, login_as):
    """Must show 5: aggregates only, then member number and arrears, then aggregates again."""
    worker = world.worker()
    worker_id = worker.platform_worker_id
    client_api = api(world.key())

    # before consent: 404 on lookup, not listed, aggregates only
    _error(client_api.get(f"{WORKERS}/{worker_id}"), 404)
    assert client_api.get(WORKERS).get_json()["items"] == []
    assert client_api.get("/api/v1/contributions").get_json()["linked_workers"] == 0

    # the worker consents in KMP (the member's own page)
    login_as(user=worker.user)
    page = client.get("/anggota/mitra")
    assert page.status_code == 200
    from tests.conftest import csrf_from

    response = client.post(
        "/anggota/mitra",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "company_id": str(world.company.id),
            "platform_worker_id": worker_id,
            "consent": "y",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    seen = client_api.get(f"{WORKERS}/{worker_id}").get_json()
    assert seen["member_no"] == worker.member_no
    assert seen["status"] == "active" and seen["arrears_idr"] == 0
    assert set(seen) == {
        "id",
        "platform_worker_id",
        "member_no",
        "status",
        "arrears_idr",
        "linked_at",
    }
    assert client_api.get("/api/v1/contributions").get_json()["linked_workers"] == 1

    # the worker withdraws consent: back to aggregates only
    page = client.get("/anggota/mitra")
    link = partners_links.links_of_member(worker)[0]
    response = client.post(
        f"/anggota/mitra/{link.id}/cabut",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert response.status_code == 303
    _error(client_api.get(f"{WORKERS}/{worker_id}"), 404)
    assert client_api.get(WORKERS).get_json()["items"] == []


def test_other_companys_worker_is_404(world, api):
    mine = world.worker(link_to=world.company)
    theirs = world.worker(link_to=world.other)
    client_api = api(world.key())
    assert client_api.get(f"{WORKERS}/{mine.platform_worker_id}").status_code == 200
    _error(client_api.get(f"{WORKERS}/{theirs.platform_worker_id}"), 404)
    _error(client_api.get(f"{WORKERS}/no%00such"), 404)


def test_worker_list_paginates_by_cursor(world, api):
    made = {world.worker(link_to=world.company).member_no for _ in range(5)}
    client_api = api(world.key())
    seen, cursor, pages = set(), None, 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client_api.get(WORKERS, query_string=query).get_json()
        assert "items" in body, body
        seen |= {w["member_no"] for w in body["items"]}
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == made and pages == 3
    err = _error(client_api.get(WORKERS, query_string={"cursor": "!!bad"}), 422)
    assert "cursor" in err["details"]["fields"]
    err = _error(client_api.get(WORKERS, query_string={"limit": 0}), 422, "validation_error")
    assert "limit" in err["details"]["fields"]
    err = _error(client_api.get(WORKERS, query_string={"sort": "x"}), 422, "validation_error")
    assert "sort" in err["details"]["fields"]


# --------------------------------------------------------------------------- remittances


def test_remittance_validation_errors_list_each_field(world, api):
    client_api = api(world.key())
    err = _error(
        client_api.post(
            REMIT,
            json={
                "remittance_id": "",
                "total_idr": 1000.0,
                "lines": [{"platform_worker_id": "W-1", "purpose": "arisan", "amount_idr": "5"}],
            },
        ),
        422,
        "validation_error",
    )
    fields = err["details"]["fields"]
    assert "remittance_id" in fields and "total_idr" in fields
    assert set(fields["lines"]["0"]) == {"purpose", "amount_idr"}
    # unknown field
    body = _remittance("R-1", [("W-1", "wajib", 1000)])
    err = _error(client_api.post(REMIT, json={**body, "discount": 5}), 422, "validation_error")
    assert "discount" in err["details"]["fields"]
    # not JSON / wrong type
    assert client_api.post(REMIT, json=[1, 2]).status_code == 422
    response = client_api.client.post(
        REMIT,
        data="{not json",
        headers={"Authorization": f"Bearer {client_api.key}", "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422) and "error" in response.get_json()
    assert db.session.scalar(select(func.count(Remittance.id))) == 0


def test_total_not_equal_to_lines_is_422_and_writes_nothing(world, api):
    worker = world.worker(link_to=world.company)
    body = _remittance("R-2", [(worker.platform_worker_id, "wajib", 50_000)], total=60_000)
    err = _error(api(world.key()).post(REMIT, json=body), 422, "total_mismatch")
    assert "total_idr" in err["details"]["fields"]
    assert db.session.scalar(select(func.count(Remittance.id))) == 0
    assert db.session.scalar(select(func.count(JournalEntry.id))) == _entries_before(world)


def _entries_before(world):  # noqa: ARG001 - admissions posted the pokok receipts
    return db.session.scalar(
        select(func.count(JournalEntry.id)).where(JournalEntry.source_kind != "remittance")
    )


def test_three_good_two_bad_lines_post_three_and_replay_changes_nothing(world, api, app):
    """Must show 2."""
    good = [world.worker(link_to=world.company) for _ in range(3)]
    withdrawn = world.worker(link_to=world.company)
    partners_links.withdraw_link(partners_links.links_of_member(withdrawn)[0])
    db.session.commit()
    theirs = world.worker(link_to=world.other)
    body = _remittance(
        "2025-03/ojek",
        [
            (good[0].platform_worker_id, "wajib", 25_000),
            (good[1].platform_worker_id, "wajib", 25_000),
            (good[2].platform_worker_id.lower(), "sukarela", 40_000),
            (withdrawn.platform_worker_id, "wajib", 25_000),
            (theirs.platform_worker_id, "wajib", 30_000),
        ],
    )
    client_api = api(world.key())
    first = client_api.post(REMIT, json=body)
    assert first.status_code == 201, first.get_data(as_text=True)
    result = first.get_json()
    assert (result["total_idr"], result["accepted_idr"], result["rejected_idr"]) == (
        145_000,
        90_000,
        55_000,
    )
    statuses = [(ln["status"], ln["reason_code"]) for ln in result["lines"]]
    assert statuses == [
        ("accepted", None),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "no_consent"),
        ("rejected", "unknown_worker"),
    ]
    assert balance_of(member_account_code("wajib", good[0].member_no)) == 25_000
    assert balance_of(member_account_code("sukarela", good[2].member_no)) == 40_000
    assert balance_of(PARTNER_PAYABLE) == 55_000
    assert balance_of(partners_remittances.REMITTANCE_CLEARING) == 145_000
    entries = db.session.scalar(
        select(func.count(JournalEntry.id)).where(JournalEntry.source_kind == "remittance")
    )
    assert entries == 1

    replay = client_api.post(REMIT, json=body)
    assert replay.status_code == 200
    again = replay.get_json()
    assert again.pop("replayed") is True and result.pop("replayed") is False
    assert again == result
    assert balance_of(PARTNER_PAYABLE) == 55_000
    assert db.session.scalar(select(func.count(RemittanceLine.id))) == 5

    changed = dict(body, total_idr=145_001)
    changed["lines"] = [*body["lines"][:-1], {**body["lines"][-1], "amount_idr": 30_001}]
    _error(client_api.post(REMIT, json=changed), 409, "remittance_id_reused")

    # read back
    got = client_api.get(f"{REMIT}/{result['id']}").get_json()
    assert got["lines"] == result["lines"]
    listed = client_api.get(REMIT).get_json()
    assert [r["remittance_id"] for r in listed["items"]] == ["2025-03/ojek"]
    _error(api(world.key(world.other)).get(f"{REMIT}/{result['id']}"), 404)

    check = app.test_cli_runner().invoke(args=["kmp", "ledger-check"])
    assert check.exit_code == 0, check.output


def test_contributions_summarise_without_personal_data(world, api):
    worker = world.worker(link_to=world.company)
    client_api = api(world.key())
    body = _remittance("R-9", [(worker.platform_worker_id, "wajib", 25_000), ("NOPE", "wajib", 5)])
    assert client_api.post(REMIT, json=body).status_code == 201
    summary = client_api.get("/api/v1/contributions").get_json()
    assert summary["linked_workers"] == 1 and summary["active_workers"] == 1
    assert summary["accepted_idr"] == 25_000 and summary["rejected_idr"] == 5
    assert summary["months"][0]["wajib_idr"] == 25_000
    assert worker.member_no not in str(summary)
    assert summary["pokok_idr"] > 0  # the company's own capital


# --------------------------------------------------------------------------- patronage


def _record(worker_id, ext, value=12, measure="trips", period="2025-03"):
    return {
        "platform_worker_id": worker_id,
        "period": period,
        "measure": measure,
        "value": value,
        "external_id": ext,
    }


def test_patronage_reports_bad_records_keeps_good_and_replays(world, api):
    worker = world.worker(link_to=world.company)
    theirs = world.worker(link_to=world.other)
    wid = worker.platform_worker_id
    records = [
        _record(wid, "t-1"),
        _record(wid, "t-2", value=3, measure="deliveries"),
        _record(wid, "t-3", period="2025-13"),
        _record(theirs.platform_worker_id, "t-4"),
        {**_record(wid, "t-5"), "colour": "red"},
        _record(wid, "t-6", value=1.5),
    ]
    client_api = api(world.key())
    first = client_api.post(PATRONAGE, json={"records": records})
    assert first.status_code == 201, first.get_data(as_text=True)
    result = first.get_json()
    assert (result["received"], result["inserted"], result["rejected"]) == (6, 2, 4)
    by_index = {e["index"]: e for e in result["errors"]}
    assert set(by_index) == {2, 3, 4, 5}
    assert "period" in by_index[2]["fields"]
    assert by_index[3]["code"] == "unknown_worker"
    assert "colour" in by_index[4]["fields"]
    assert "value" in by_index[5]["fields"]
    assert db.session.scalar(select(func.count(PatronageRecord.id))) == 2

    replay = client_api.post(PATRONAGE, json={"records": records})
    assert replay.status_code == 200
    again = replay.get_json()
    assert again.pop("replayed") is True and result.pop("replayed") is False
    assert again == result
    assert db.session.scalar(select(func.count(PatronageRecord.id))) == 2

    # a new batch repeating an external id: duplicates counted, nothing doubled
    response = client_api.post(
        PATRONAGE, json={"batch_id": "b-2", "records": [_record(wid, "t-1"), _record(wid, "t-7")]}
    )
    assert response.get_json()["inserted"] == 1 and response.get_json()["duplicates"] == 1
    assert db.session.scalar(select(func.count(PatronageRecord.id))) == 3
    _error(
        client_api.post(PATRONAGE, json={"batch_id": "b-2", "records": [_record(wid, "t-8")]}),
        409,
        "batch_id_reused",
    )


def test_patronage_atomic_rejects_all_and_envelope_errors(world, api):
    worker = world.worker(link_to=world.company)
    wid = worker.platform_worker_id
    client_api = api(world.key())
    err = _error(
        client_api.post(
            PATRONAGE,
            json={"atomic": True, "records": [_record(wid, "a-1"), _record("GHOST", "a-2")]},
        ),
        422,
        "validation_error",
    )
    assert err["details"]["records"][0]["index"] == 1
    assert db.session.scalar(select(func.count(PatronageRecord.id))) == 0
    err = _error(client_api.post(PATRONAGE, json={"records": [], "extra": 1}), 422)
    assert {"records", "extra"} <= set(err["details"]["fields"])
    err = _error(client_api.post(PATRONAGE, json={"records": [_record(wid, "x")] * 10_001}), 422)
    assert "records" in err["details"]["fields"]


def test_unknown_api_path_and_method_use_the_envelope(world, api):
    client_api = api(world.key())
    _error(client_api.get("/api/v1/nothing-here"), 404)
    _error(client_api.client.delete(REMIT), 405)


def test_openapi_document_and_readable_docs_page(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/v1/workers",
        "/api/v1/workers/{platform_worker_id}",
        "/api/v1/remittances",
        "/api/v1/remittances/{remittance_id}",
        "/api/v1/contributions",
        "/api/v1/patronage",
    }
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert "error" in spec["components"]["schemas"]["ErrorEnvelope"]["properties"]
    line = spec["components"]["schemas"]["RemittanceLineLoad"]
    assert line["properties"]["amount_idr"]["type"] == "integer"
    assert line.get("additionalProperties") is False
    html = client.get("/api/v1/docs").get_data(as_text=True)
    assert "POST /api/v1/remittances" in html and "RemittanceLoad" in html
    assert "<script>" not in html and 'style="' not in html


def test_a_trailing_newline_is_a_field_error_not_a_stored_value(world, api):
    """``^...$`` with ``re.match`` accepts "2025-03\\n": on PostgreSQL that broke the 7-character
    period column (a 500); every API pattern now matches the whole value."""
    worker = world.worker(link_to=world.company)
    wid = worker.platform_worker_id
    client_api = api(world.key())
    records = [
        _record(wid, "nl-1", period="2025-03\n"),
        _record(wid + "\n", "nl-2"),
        _record(wid, "nl-3\n"),
        _record(wid, "nl-4"),
    ]
    response = client_api.post(PATRONAGE, json={"records": records})
    assert response.status_code == 201, response.get_data(as_text=True)
    result = response.get_json()
    assert (result["inserted"], result["rejected"]) == (1, 3)
    fields = {e["index"]: set(e.get("fields", {})) for e in result["errors"]}
    assert "period" in fields[0] and "platform_worker_id" in fields[1]
    assert "external_id" in fields[2]
    assert db.session.scalars(select(PatronageRecord.period)).all() == ["2025-03"]
    err = _error(client_api.post(REMIT, json=_remittance("R-9\n", [(wid, "wajib", 1000)])), 422)
    assert "remittance_id" in err["details"]["fields"]
