"""The audit trail: attributable, append-only, hash-chained; browse, export, verify."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from sqlalchemy import func, select, text

from kmp import signals
from kmp.audit import AuditRecord, record_event, verify_chain
from kmp.extensions import db


def _records(**where):
    query = select(AuditRecord).order_by(AuditRecord.id)
    for key, value in where.items():
        query = query.where(getattr(AuditRecord, key) == value)
    return db.session.scalars(query).all()


def _change_password(client, csrf_token):
    token = csrf_token("/akun")
    return client.post(
        "/akun",
        data={
            "csrf_token": token,
            "current": "rahasia-12345",
            "new": "sandi-baru-6789",
            "confirm": "sandi-baru-6789",
        },
    )


def test_board_change_is_recorded_with_who_what_before_after(client, login_as, csrf_token):
    user = login_as("pengurus")
    response = _change_password(client, csrf_token)
    assert response.status_code == 302
    db.session.expire_all()
    (record,) = _records(table_name="users")
    assert record.action == "update:users"
    assert record.actor_id == user.id
    assert record.actor == user.email
    assert record.roles == "pengurus"
    assert record.target == f"users:{user.id}"
    assert record.ip == "127.0.0.1"
    changes = record.changes_dict
    assert changes["session_version"] == [1, 2]
    assert changes["password_hash"] == ["***", "***"]  # never the hash itself
    assert "last_login_at" not in changes
    assert verify_chain().ok


def test_member_self_service_is_not_recorded(client, login_as, csrf_token):
    login_as("anggota")
    assert _change_password(client, csrf_token).status_code == 302
    assert _records() == []


def test_failed_request_leaves_no_record(client, login_as, csrf_token):
    login_as("pengawas")
    token = csrf_token("/akun")
    response = client.post(
        "/akun", data={"csrf_token": token, "current": "salah-sekali-1", "new": "x", "confirm": "x"}
    )
    assert response.status_code == 422
    assert _records() == []


def test_explicit_event_through_the_signal(app):
    signals.audit_event.send(app, action="ad_updated", target="ad:2", before=1, after=2)
    db.session.commit()
    (record,) = _records()
    assert record.action == "ad_updated"
    assert record.target == "ad:2"
    assert record.actor == "sistem"
    assert record.changes_dict == {"before": 1, "after": 2}


def test_nik_is_masked_and_secrets_hidden(app):
    from kmp.audit import _shown

    assert _shown("nik", "3174011505900001") == "••••••••••••0001"
    assert _shown("totp_secret", "JBSWY3DPEHPK3PXP") == "***"
    assert _shown("token_hash", None) is None


def _seed_chain(app, n=5):
    for i in range(n):
        record_event(f"uji.{i}", f"target:{i}", before=i, after=i + 1)
    db.session.commit()
    return _records()


def _tamper(sql: str, params: dict):
    if db.engine.dialect.name == "postgresql":
        # an attacker with the owner's rights switches the trigger off first
        db.session.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
        db.session.execute(text(sql), params)
        db.session.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
    else:
        db.session.execute(text(sql), params)
    db.session.commit()


def test_verify_names_the_record_edited_with_direct_sql(app):
    records = _seed_chain(app)
    assert verify_chain().ok and verify_chain().count == 5
    victim = records[2]
    _tamper(
        "UPDATE audit_records SET changes = :c WHERE id = :i", {"c": '{"after":99}', "i": victim.id}
    )
    result = verify_chain()
    assert not result.ok
    assert result.broken_id == victim.id
    assert "edited" in result.reason


def test_verify_names_the_record_after_a_deleted_one(app):
    records = _seed_chain(app)
    _tamper("DELETE FROM audit_records WHERE id = :i", {"i": records[1].id})
    result = verify_chain()
    assert not result.ok
    assert result.broken_id == records[2].id


def test_cli_audit_verify(app):
    records = _seed_chain(app, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kmp", "audit-verify"])
    assert result.exit_code == 0, result.output
    assert "3 record(s)" in result.output
    _tamper(
        "UPDATE audit_records SET actor = :a WHERE id = :i", {"a": "maling", "i": records[0].id}
    )
    result = runner.invoke(args=["kmp", "audit-verify"])
    assert result.exit_code == 1
    assert f"#{records[0].id}" in result.output


def test_orm_refuses_to_change_a_record(app):
    (record, *_) = _seed_chain(app, 1)
    record.actor = "lain"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.postgres
def test_postgres_trigger_refuses_update_and_delete(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from sqlalchemy.exc import IntegrityError

    _seed_chain(app, 1)
    for sql in ("UPDATE audit_records SET actor = 'x'", "DELETE FROM audit_records"):
        with pytest.raises(IntegrityError, match="append-only"):
            db.session.execute(text(sql))
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)) == 1


def test_pengawas_browse_filter_and_export(client, login_as, app):
    _seed_chain(app, 3)
    record_event('=HYPERLINK("http://jahat")', "target:x")
    db.session.commit()
    login_as("pengawas")
    page = client.get("/jejak-audit/?jenis=event&target=target:1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "uji.1" in html and "uji.2" not in html
    response = client.get("/jejak-audit/ekspor?format=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 + 4
    assert rows[4][4].startswith("'=HYPERLINK")
    response = client.get("/jejak-audit/ekspor?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sheet.cell(row=5, column=5).value.startswith("'=HYPERLINK")
    assert client.get("/jejak-audit/ekspor?format=exe").status_code == 400
    assert client.get("/jejak-audit/?dari=bukan-tanggal&hal=x").status_code == 200


@pytest.mark.parametrize(("role", "status"), [("anggota", 403), ("pengurus", 403), ("admin", 200)])
def test_audit_page_roles(client, login_as, role, status):
    login_as(role)
    assert client.get("/jejak-audit/").status_code == status


def test_concurrent_style_appends_keep_one_chain(app):
    """Many flushes in one transaction and across transactions chain in id order."""
    for batch in range(3):
        for i in range(4):
            record_event(f"b{batch}.{i}")
        db.session.commit()
    records = _records()
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert json.loads(records[0].changes) == {"after": None, "before": None}
    assert verify_chain().count == 12


@pytest.mark.postgres
def test_concurrent_writers_cannot_fork_the_chain(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    import threading

    errors = []
    start = threading.Barrier(4)

    def writer(n):
        try:
            with app.app_context():
                start.wait()
                for i in range(10):
                    record_event(f"w{n}.{i}")
                    db.session.commit()
                db.session.remove()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    result = verify_chain()
    assert result.ok and result.count == 40
    hashes = db.session.scalars(select(AuditRecord.prev_hash)).all()
    assert len(set(hashes)) == 40  # no two records share a predecessor: no fork


def test_audit_verify_on_the_demo_then_after_a_direct_sql_edit(app, client, csrf_token):
    """Must show 2: the demo's chain verifies; a direct SQL edit is named by audit-verify."""
    from kmp.demo import seed_demo

    users = seed_demo()
    db.session.commit()
    from kmp.auth import User

    pengurus = db.session.scalar(select(User).where(User.email == users["users"]["pengurus"]))
    with client.session_transaction() as session:
        session["_user_id"] = pengurus.get_id()
    token = csrf_token("/akun")
    client.post(
        "/akun",
        data={
            "csrf_token": token,
            "current": "demo-kmp-2026",
            "new": "sandi-baru-6789",
            "confirm": "sandi-baru-6789",
        },
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["kmp", "audit-verify"])
    assert result.exit_code == 0, result.output
    records = _records()
    assert records and "OK" in result.output
    _tamper(
        "UPDATE audit_records SET ip = :ip WHERE id = :i", {"ip": "10.0.0.1", "i": records[-1].id}
    )
    result = runner.invoke(args=["kmp", "audit-verify"])
    assert result.exit_code == 1
    assert f"record #{records[-1].id}" in result.output
