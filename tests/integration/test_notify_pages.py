"""The board's message pages (per message, per campaign, masking) and a member's own message
settings: allowed and refused roles, filters, counts, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kmp.extensions import db
from kmp.notify import (
    Notification,
    ProviderError,
    channel_preference,
    deliver_pending,
    get_provider,
    opted_out_kinds,
    queue_bulk,
    queue_notification,
)
from tests.conftest import csrf_from

pytestmark = pytest.mark.usefixtures("fresh_notifier")
PHONE = "+6281298765432"


@pytest.fixture
def outbox(app):
    queue_notification(kind="wajib_bill", address=PHONE, body="Tagihan wajib Maret")
    queue_notification(kind="payment_receipt", address="siti@test.kmp.id", body="Terima kasih")
    queue_bulk(
        "meeting_notice",
        "meeting:5",
        [{"address": f"+62812660{i:04d}", "member_id": i} for i in range(4)],
        body="Undangan RAT",
    )
    db.session.commit()
    for channel in ("whatsapp", "sms"):
        get_provider(channel).fail("+628126600003", ProviderError("refused", permanent=True))
    deliver_pending()
    db.session.commit()


def test_board_sees_the_outbox_with_numbers_and_pengawas_masked(client, login_as, outbox):
    login_as("pengurus")
    page = client.get("/pesan").get_data(as_text=True)
    assert PHONE in page and "Tagihan simpanan wajib" in page
    login_as("pengawas")
    response = client.get("/pesan")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert PHONE not in page and "+62•••••••5432" in page
    assert "siti@test.kmp.id" not in page and "s•••@test.kmp.id" in page


@pytest.mark.parametrize("role", ["anggota", "partner"])
def test_members_and_partners_cannot_open_the_outbox(client, login_as, role, outbox):
    login_as(role)
    for path in ("/pesan", "/pesan/kampanye", "/pesan/kampanye/meeting:5"):
        assert client.get(path).status_code == 403
    assert client.get("/pesan").status_code == 403


def _table(client, query: str) -> str:
    page = client.get("/pesan" + query).get_data(as_text=True)
    return page[page.index('data-testid="message-table"') :]


def test_search_by_address_kind_and_status(client, login_as, outbox):
    login_as("bendahara")
    table = _table(client, "?alamat=0812 9876 5432")
    assert "Tagihan simpanan wajib" in table and "Bukti pembayaran" not in table
    table = _table(client, "?jenis=payment_receipt")
    assert "siti@test.kmp.id" in table and PHONE not in table
    table = _table(client, "?status=failed")
    assert "+628126600003" in table and PHONE not in table
    assert client.get("/pesan?status=nonsense").status_code == 400
    assert client.get("/pesan?hal=abc").status_code == 200


def test_message_detail(client, login_as, outbox):
    login_as("admin")
    row = db.session.scalar(select(Notification).where(Notification.address == "+628126600003"))
    page = client.get(f"/pesan/{row.id}").get_data(as_text=True)
    assert "refused" in page and "Gagal" in page
    assert client.get("/pesan/999999").status_code == 404


def test_campaign_page_counts(client, login_as, outbox):
    login_as("pengawas")
    listing = client.get("/pesan/kampanye").get_data(as_text=True)
    assert "meeting:5" in listing
    response = client.get("/pesan/kampanye/meeting:5")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-testid="count-sent"' in page and "+62••••••0003" in page
    assert client.get("/pesan/kampanye/nothing:1").status_code == 404


def test_member_chooses_a_channel_and_opts_out(client, login_as, make_user):
    user = make_user(email="pilih@test.kmp.id", phone="081298760001")
    login_as(user=user)
    page = client.get("/pesan/pengaturan")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/pesan/pengaturan",
        data={"csrf_token": token, "channel": "sms", "receive": ["wajib_bill", "payment_receipt"]},
    )
    assert response.status_code == 303
    assert str(channel_preference(user_id=user.id)) == "sms"
    out = opted_out_kinds(user_id=user.id)
    assert "announcement" in out and "wajib_bill" not in out and "password_reset" not in out
    again = client.get("/pesan/pengaturan").get_data(as_text=True)
    assert 'checked id="channel-2" name="channel" type="radio" value="sms"' in again
    assert 'id="receive-0" name="receive" type="checkbox" value="wajib_bill"' in again
    assert 'checked id="receive-5"' not in again  # member_welcome: opted out


def test_choosing_a_channel_without_its_address_is_refused(client, login_as, make_user):
    user = make_user(email="tanpahp@test.kmp.id")
    login_as(user=user)
    token = csrf_from(client.get("/pesan/pengaturan").get_data(as_text=True))
    response = client.post("/pesan/pengaturan", data={"csrf_token": token, "channel": "whatsapp"})
    assert response.status_code == 422
    assert "belum punya nomor HP" in response.get_data(as_text=True)
    assert channel_preference(user_id=user.id) is None
    bad = client.post("/pesan/pengaturan", data={"csrf_token": token, "channel": "pigeon"})
    assert bad.status_code == 422


def test_settings_need_a_login(client):
    response = client.get("/pesan/pengaturan")
    assert response.status_code in (302, 401) and "/masuk" in response.headers.get(
        "Location", "/masuk"
    )


def test_settings_page_in_english(client, login_as, make_user):
    user = make_user(phone="081298760002", locale="en")
    login_as(user=user)
    page = client.get("/pesan/pengaturan").get_data(as_text=True)
    assert "Message settings" in page and "Messages I want to receive" in page
