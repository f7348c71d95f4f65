"""Announcements (issue 21): the board previews a templated message with the number of
recipients, then sends it to one group or everyone through the outbox, once."""

from __future__ import annotations

import re

from sqlalchemy import select

from kmp.auth import Role
from kmp.extensions import db
from kmp.notify import Notification
from members.register.states import MemberStatus
from tests.conftest import csrf_from
from tests.integration.governance_factories import ensure_ad, make_member

BODY = "Halo {nama} ({nomor}), rapat kelompok Sabtu ini."


def _post(client, path, csrf, **data):
    return client.post(path, data={"csrf_token": csrf, **data})


def test_preview_count_then_send_once(client, login_as):
    ensure_ad()
    drivers = [make_member("pengemudi") for _ in range(3)]
    couriers = [make_member("kurir", name=f"Kurir {i}") for i in range(2)]
    make_member("kurir", status=MemberStatus.EXITED)
    db.session.commit()
    login_as(Role.PENGURUS)
    token = csrf_from(client.get("/pengurus/pengumuman").get_data(as_text=True))
    fields = {"group_code": "kurir", "subject": "Rapat kelompok", "body": BODY}
    page = _post(client, "/pengurus/pengumuman/pratinjau", token, **fields)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "2 penerima" in html
    first = min(couriers, key=lambda m: m.member_no)
    assert f"Halo {first.full_name} ({first.member_no})" in html
    assert db.session.scalar(select(Notification.id)) is None  # a preview sends nothing
    one_time = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', html).group(1)

    sent = _post(client, "/pengurus/pengumuman/kirim", token, token=one_time, **fields)
    assert sent.status_code == 303
    rows = list(db.session.scalars(select(Notification).where(Notification.kind == "announcement")))
    assert {n.member_id for n in rows} == {m.id for m in couriers}
    for n in rows:
        member = next(m for m in couriers if m.id == n.member_id)
        assert n.body == f"Halo {member.full_name} ({member.member_no}), rapat kelompok Sabtu ini."
        assert n.address == member.phone and n.subject == "Rapat kelompok"
    again = _post(client, "/pengurus/pengumuman/kirim", token, token=one_time, **fields)
    assert again.status_code == 409 and "sudah dikirim" in again.get_data(as_text=True)
    assert len(list(db.session.scalars(select(Notification.id)))) == 2

    everyone = _post(
        client, "/pengurus/pengumuman/pratinjau", token, **{**fields, "group_code": ""}
    )
    assert "5 penerima" in everyone.get_data(as_text=True)
    assert len(drivers) + len(couriers) == 5
    listing = client.get("/pengurus/pengumuman").get_data(as_text=True)
    assert "Rapat kelompok" in listing


def test_bad_input_and_roles(client, login_as):
    ensure_ad()
    login_as(Role.PENGURUS)
    token = csrf_from(client.get("/pengurus/pengumuman").get_data(as_text=True))
    bad = _post(
        client, "/pengurus/pengumuman/pratinjau", token, group_code="nope", subject="x", body="y"
    )
    assert bad.status_code == 422
    no_token = _post(
        client, "/pengurus/pengumuman/kirim", token, group_code="", subject="x", body="y"
    )
    assert no_token.status_code == 422 and "pratinjau" in no_token.get_data(as_text=True)
    assert db.session.scalar(select(Notification.id)) is None
    login_as(Role.PENGAWAS)
    assert client.get("/pengurus/pengumuman").status_code == 200
    denied = _post(client, "/pengurus/pengumuman/pratinjau", token, subject="x", body="y")
    assert denied.status_code == 403
