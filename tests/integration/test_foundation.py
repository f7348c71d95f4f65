import subprocess
import sys

import pytest
from sqlalchemy import func, select

from kmp import create_app
from kmp.auth import User
from kmp.config import ConfigError
from kmp.extensions import db


def test_index_is_indonesian_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Masuk" in html
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_down(client, app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("could not connect to server"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "error"}


def test_healthz_down_with_unreachable_database(tmp_path):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"


def test_post_without_csrf_is_refused_and_writes_nothing(client, make_user):
    user = make_user("anggota", email="sinta@test.kmp.id")
    before = user.session_version
    response = client.post("/masuk", data={"login": "sinta@test.kmp.id", "password": "x"})
    assert response.status_code == 400
    response = client.post("/bahasa", data={"lang": "en"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, user.id).session_version == before


def test_csrf_refusal_on_account_form_writes_nothing(client, login_as):
    user = login_as("anggota")
    old_hash = user.password_hash
    response = client.post(
        "/akun",
        data={"current": "rahasia-12345", "new": "baru-rahasia-123", "confirm": "baru-rahasia-123"},
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == old_hash


def test_login_success_and_logout(client, make_user, csrf_token):
    make_user("anggota", email="budi@test.kmp.id", password="rahasia-12345")
    token = csrf_token("/masuk")
    response = client.post(
        "/masuk",
        data={"login": "budi@test.kmp.id", "password": "rahasia-12345", "csrf_token": token},
    )
    assert response.status_code == 302
    assert client.get("/akun").status_code == 200
    token = csrf_token("/akun")
    assert client.post("/keluar", data={"csrf_token": token}).status_code == 302
    assert client.get("/beranda").status_code == 302


def test_wrong_password_gives_indonesian_error_and_no_session(client, make_user, csrf_token):
    make_user("anggota", email="budi@test.kmp.id", password="rahasia-12345")
    token = csrf_token("/masuk")
    response = client.post(
        "/masuk",
        data={"login": "budi@test.kmp.id", "password": "salah-sekali1", "csrf_token": token},
    )
    assert response.status_code == 401
    assert "kata sandi salah" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert client.get("/beranda").status_code == 302


def test_sixth_wrong_password_within_a_minute_is_429(client, make_user, csrf_token):
    make_user("anggota", email="budi@test.kmp.id", password="rahasia-12345")
    token = csrf_token("/masuk")
    data = {"login": "budi@test.kmp.id", "password": "salah-sekali1", "csrf_token": token}
    statuses = [client.post("/masuk", data=data).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    response = client.post("/masuk", data=data)
    assert response.status_code == 429
    assert "Terlalu banyak percobaan" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers


def test_login_by_phone(client, make_user, csrf_token):
    make_user("anggota", email=None, phone="0812-3456-7890", password="rahasia-12345")
    token = csrf_token("/masuk")
    response = client.post(
        "/masuk",
        data={"login": "+62 812 3456 7890", "password": "rahasia-12345", "csrf_token": token},
    )
    assert response.status_code == 302


def test_open_redirect_refused(client, make_user, csrf_token):
    make_user("anggota", email="budi@test.kmp.id", password="rahasia-12345")
    token = csrf_token("/masuk")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/masuk",
            data={
                "login": "budi@test.kmp.id",
                "password": "rahasia-12345",
                "csrf_token": token,
                "next": target,
            },
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/beranda"
        client.get("/beranda")
        with client.session_transaction() as session:
            session.clear()
        token = csrf_token("/masuk")


def test_password_change_invalidates_other_sessions(app, make_user, csrf_token, client):
    user = make_user("anggota", email="budi@test.kmp.id", password="rahasia-12345")
    other = app.test_client()
    with other.session_transaction() as session:
        session["_user_id"] = user.get_id()
    assert other.get("/akun").status_code == 200
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
    token = csrf_token("/akun")
    response = client.post(
        "/akun",
        data={
            "current": "rahasia-12345",
            "new": "baru-rahasia-123",
            "confirm": "baru-rahasia-123",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/akun").status_code == 200  # this device stays logged in
    assert other.get("/beranda").status_code == 302  # the other device is logged out


def test_language_switch_is_remembered(client, csrf_token, login_as):
    user = login_as("anggota")
    token = csrf_token("/akun")
    response = client.post("/bahasa", data={"lang": "en", "csrf_token": token, "next": "/beranda"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/beranda"
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"
    assert '<html lang="en">' in client.get("/akun").get_data(as_text=True)


def test_error_pages_in_both_languages(client):
    response = client.get("/tidak-ada")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.get_data(as_text=True)
    client.set_cookie("kmp_lang", "en")
    response = client.get("/tidak-ada")
    assert "Page not found" in response.get_data(as_text=True)


def test_json_errors_use_the_envelope(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    from tests.integration.test_production_config import PRODUCTION

    production = create_app("production", **PRODUCTION)
    assert production.config["SESSION_COOKIE_SECURE"] is True


def test_production_without_secret_key_refuses_to_start():
    env = {"KMP_ENV": "production", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "SECRET_KEY is not set" in last
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production", SECRET_KEY=None)


def test_production_refuses_fake_gateway():
    with pytest.raises(ConfigError, match="fake"):
        create_app("production", SECRET_KEY="x" * 40, KMP_PAYMENT_GATEWAY="fake")


def test_production_refuses_fake_disburser_and_iris_without_key():
    with pytest.raises(ConfigError, match="KMP_DISBURSER=fake"):
        create_app(
            "production", SECRET_KEY="x" * 40, KMP_PAYMENT_GATEWAY="midtrans", KMP_DISBURSER="fake"
        )
    from tests.integration.test_production_config import PRODUCTION

    with pytest.raises(ConfigError, match="KMP_IRIS_CREATOR_KEY"):
        create_app("production", **dict(PRODUCTION, KMP_IRIS_CREATOR_KEY=""))


@pytest.mark.real_password_hash
def test_create_user_hashes_password(make_user):
    user = make_user("anggota", password="rahasia-12345")
    assert user.password_hash.startswith("scrypt:")
    assert "rahasia" not in user.password_hash
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
