"""Issue 24: bad ids and NUL characters from forms, URLs and JSON are a 4xx, never a 500.

Each of these answered 500 on the old main (found by ``tests/integration/test_fuzz_fields.py``):
a 40-digit id in a URL or a form reached the database (SQLite: "Python int too large to
convert to SQLite INTEGER"; PostgreSQL: out of range), and a NUL character was stored on SQLite
and refused by PostgreSQL's text columns with a 500.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.auth import User
from kmp.extensions import db
from kmp.forms import MAX_ID, coerce_id, parse_id
from members.partners import links as partners_links

FORTY = "9" * 40


@pytest.fixture
def no_csrf(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)


def _as(client, user):
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


@pytest.mark.parametrize(
    "value,expected",
    [("12", 12), (" 7 ", 7), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), (FORTY, None)]
    + [("0", None), ("-1", None), ("1e3", None), ("٣", None), ("", None), (None, None)],
)
def test_parse_id(value, expected):
    assert parse_id(value) == expected
    if expected is None:
        with pytest.raises(ValueError):
            coerce_id(value)
    else:
        assert coerce_id(value) == expected


@pytest.mark.parametrize(
    "path",
    [f"/pengurus/anggota/{FORTY}", f"/mitra/{FORTY}/kontribusi", f"/mitra/1/remitansi/{FORTY}"],
)
def test_a_forty_digit_id_in_a_url_is_a_404(client, login_as, path):
    login_as("pengurus", "bendahara")
    assert client.get(path).status_code == 404


def test_a_forty_digit_company_id_in_the_link_form_is_a_message(world, client, no_csrf):  # noqa: ARG001
    worker = world.worker()
    _as(client, worker.user)
    response = client.post("/anggota/mitra", data={"company_id": FORTY, "consent": "y"})
    assert response.status_code == 422
    assert "Pilih perusahaan dari daftar" in response.get_data(as_text=True)
    assert partners_links.links_of_member(worker) == []


def test_a_forty_digit_member_id_in_the_admission_queue_is_a_400(client, login_as, no_csrf):  # noqa: ARG001
    login_as("pengurus", "bendahara")
    response = client.post(
        "/pengurus/pendaftaran", data={"member_id": FORTY, "action": "approve", "reason": "x"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "where",
    ["form", "query", "path"],
)
def test_a_nul_character_is_refused_with_a_message(client, login_as, no_csrf, where):  # noqa: ARG001
    user = login_as("anggota")
    version = user.session_version
    if where == "form":
        new = "rahasia-baru\x00-12345"
        response = client.post("/akun", data={"current": "x", "new": new, "confirm": new})
    elif where == "query":
        response = client.get("/akun?q=a%00b")
    else:
        response = client.get("/akun%00")
    if where == "path":
        assert response.status_code == 404  # names nothing that can exist
    else:
        assert response.status_code == 400
        assert "karakter NUL" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).session_version == version  # nothing changed


def test_a_nul_character_in_a_json_body_is_a_400_envelope(world, api):
    worker = world.worker(link_to=world.company)
    body = (
        '{"remittance_id": "R-\\u0000", "total_idr": 1, "lines": [{"platform_worker_id": "'
        + worker.platform_worker_id
        + '", "purpose": "wajib", "amount_idr": 1}]}'
    )
    response = api(world.key()).client.post(
        "/api/v1/remittances",
        data=body,
        headers={"Authorization": f"Bearer {world.key()}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.get_json()) == {"error"}
    from members.partners.models import Remittance

    assert db.session.scalar(select(func.count(Remittance.id))) == 0
