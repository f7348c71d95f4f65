"""Issue 10, must show 6 (part): the database going away in the middle of a request gives a
friendly 503 page (HTML) or envelope (JSON), and nothing of the request is written."""

from __future__ import annotations

import pytest
from flask import has_request_context
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from kmp.auth import User
from kmp.extensions import db


def _password_change(client, csrf_token, **headers):
    token = csrf_token("/akun")
    return client.post(
        "/akun",
        data={
            "csrf_token": token,
            "current": "rahasia-12345",
            "new": "sandi-baru-6789",
            "confirm": "sandi-baru-6789",
        },
        headers=headers,
    )


@pytest.fixture
def database_dies_at_commit(monkeypatch):
    """The next COMMIT fails as if the server went away between the write and the commit."""

    cls = db.session.registry().__class__
    real = cls.commit

    def dead(self, *args, **kwargs):
        if has_request_context():  # only the request's commit; the test body works normally
            raise OperationalError(
                "COMMIT", {}, Exception("server closed the connection unexpectedly")
            )
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "commit", dead)


def test_database_loss_mid_request_gives_503_page_and_writes_nothing(
    client, login_as, csrf_token, database_dies_at_commit
):
    user = login_as("pengurus")
    response = _password_change(client, csrf_token)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Layanan sedang tidak tersedia" in html
    assert "Tidak ada data yang tersimpan sebagian" in html
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored.check_password("rahasia-12345")  # the write did not land
    assert stored.session_version == 1


def test_database_loss_mid_request_gives_json_envelope(
    client, login_as, csrf_token, database_dies_at_commit
):
    login_as("pengurus")
    response = _password_change(client, csrf_token, Accept="application/json")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


@pytest.mark.postgres
def test_postgres_backend_killed_mid_request(app, client, login_as, csrf_token):
    """The real thing on PostgreSQL: the request's own connection is terminated after its
    UPDATE was sent and before COMMIT."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    user = login_as("pengurus")
    token = csrf_token("/akun")
    fired = []

    def kill_after_flush(session, flush_context):  # noqa: ARG001
        if fired:
            return
        fired.append(True)
        pid = session.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer = db.engine.connect()
        killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        killer.commit()
        killer.close()

    event.listen(db.session.registry().__class__, "after_flush", kill_after_flush)
    try:
        response = client.post(
            "/akun",
            data={
                "csrf_token": token,
                "current": "rahasia-12345",
                "new": "sandi-baru-6789",
                "confirm": "sandi-baru-6789",
            },
        )
    finally:
        event.remove(db.session.registry().__class__, "after_flush", kill_after_flush)
    assert fired
    assert response.status_code == 503
    assert "Layanan sedang tidak tersedia" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(User.session_version).where(User.id == user.id)) == 1


def test_healthz_reports_database_down(client, monkeypatch):
    cls = db.session.registry().__class__
    real = cls.execute

    def dead(self, *args, **kwargs):
        if has_request_context():
            raise OperationalError("SELECT 1", {}, Exception("could not connect to server"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "execute", dead)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"
