"""The SIMULASI checkout page (fake gateway) and the treasurer's review list."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from kmp.extensions import db
from kmp.ledger.chart import GATEWAY_CLEARING
from kmp.ledger.models import JournalEntry
from kmp.ledger.queries import balance_of
from kmp.ledger.services import get_account
from kmp.payments.factory import get_gateway, set_gateway
from kmp.payments.gateway import MidtransGateway, PaymentState
from kmp.payments.models import GatewayInbox, PaymentAttempt
from kmp.payments.services import start_checkout
from tests.conftest import csrf_from
from tests.integration.test_payments import KEY, fresh, make_intent


@pytest.fixture(autouse=True)
def configured_gateway(app):
    set_gateway(app, None)  # whatever the config says: the fake in testing
    yield
    set_gateway(app, None)


def checkout(app, **meta) -> PaymentAttempt:
    intent = make_intent(150000, **meta)
    attempt = start_checkout(intent, get_gateway(app))
    db.session.commit()
    return attempt


def choose(client, attempt: PaymentAttempt, outcome: str):
    page = client.get(attempt.redirect_url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(attempt.redirect_url, data={"csrf_token": token, "outcome": outcome})


def test_simulate_page_is_clearly_marked(client, app):
    attempt = checkout(app)
    assert attempt.redirect_url == f"/payments/simulate/{attempt.order_id}"
    response = client.get(attempt.redirect_url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "SIMULASI — bukan pembayaran sungguhan" in html
    assert "Rp 150.000" in html and "Simpanan wajib" in html
    for label in ("Bayar", "Pending", "Kedaluwarsa", "Tolak"):
        assert f">{label}</button>" in html
    assert "<script>" not in html and 'style="' not in html


def test_pay_then_reverse_through_the_page(client, app):
    attempt = checkout(app, finish_url="/anggota/simpanan?tab=wajib")
    response = choose(client, attempt, "settlement")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/anggota/simpanan"
    query = parse_qs(location.query)
    assert query["tab"] == ["wajib"] and query["order_id"] == [attempt.order_id]
    assert query["transaction_status"] == ["settlement"] and query["status_code"] == ["200"]
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.PAID and attempt.receipt_entry_id is not None
    assert balance_of(get_account(GATEWAY_CLEARING)) == 150000
    assert db.session.scalars(select(GatewayInbox)).one().outcome == "applied:PAID"

    # Tolak after Bayar: the Permata/Indomaret reversal.
    response = choose(client, attempt, "deny")
    assert response.status_code == 303
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.REVERSED and attempt.reversal_entry_id is not None
    assert balance_of(get_account(GATEWAY_CLEARING)) == 0


@pytest.mark.parametrize(
    ("outcome", "state"),
    [("pending", PaymentState.PENDING), ("expire", PaymentState.EXPIRED)],
)
def test_pending_and_expire_buttons(client, app, outcome, state):
    attempt = checkout(app)
    response = choose(client, attempt, outcome)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/beranda?")
    assert fresh(attempt).state == state
    assert (
        db.session.scalar(select(JournalEntry.id).where(JournalEntry.source_kind == "payment"))
        is None
    )


def test_foreign_finish_url_is_not_followed(client, app):
    attempt = checkout(app, finish_url="https://evil.example/steal")
    response = choose(client, attempt, "settlement")
    assert urlsplit(response.headers["Location"]).path == "/beranda"


def test_bad_choice_and_missing_csrf_change_nothing(client, app):
    attempt = checkout(app)
    page = client.get(attempt.redirect_url).get_data(as_text=True)
    response = client.post(
        attempt.redirect_url, data={"csrf_token": csrf_from(page), "outcome": "refund"}
    )
    assert response.status_code == 422
    response = client.post(attempt.redirect_url, data={"outcome": "settlement"})
    assert response.status_code == 400
    assert fresh(attempt).state == PaymentState.TOKEN_ISSUED
    assert db.session.scalar(select(GatewayInbox.id)) is None


def test_simulate_page_404s(client, app):
    assert client.get("/payments/simulate/KOP-NOPE-1").status_code == 404
    assert client.get("/payments/simulate/bad%20id").status_code == 404
    assert client.get("/payments/simulate/txn:abc").status_code == 404
    attempt = checkout(app)
    set_gateway(app, MidtransGateway(KEY, "client", False))
    assert client.get(attempt.redirect_url).status_code == 404
    assert client.post(attempt.redirect_url, data={"outcome": "settlement"}).status_code in (
        400,
        404,
    )


# --------------------------------------------------------------------------- review list


def flagged_attempt(client, app) -> PaymentAttempt:
    """A settlement after expiry: paid and flagged."""
    attempt = checkout(app)
    choose(client, attempt, "expire")
    choose(client, attempt, "settlement")
    attempt = fresh(attempt)
    assert attempt.state == PaymentState.PAID and attempt.needs_review
    return attempt


def test_review_list_roles(client, app, login_as):
    assert client.get("/payments/tinjauan").status_code == 302  # to the login page
    login_as("anggota")
    assert client.get("/payments/tinjauan").status_code == 403
    for role in ("pengurus", "pengawas", "bendahara"):
        login_as(role)
        assert client.get("/payments/tinjauan").status_code == 200


def test_pengawas_reads_but_cannot_mark_reviewed(client, app, login_as):
    attempt = flagged_attempt(client, app)
    login_as("pengawas")
    html = client.get("/payments/tinjauan").get_data(as_text=True)
    assert attempt.order_id in html and "Tandai sudah ditinjau" not in html
    token = csrf_from(html)
    response = client.post(
        f"/payments/tinjauan/pembayaran/{attempt.id}", data={"csrf_token": token, "note": "ok"}
    )
    assert response.status_code == 403
    assert fresh(attempt).needs_review


def test_bendahara_marks_reviewed_with_a_note(client, app, login_as):
    attempt = flagged_attempt(client, app)
    treasurer = login_as("bendahara")
    html = client.get("/payments/tinjauan").get_data(as_text=True)
    assert f'data-testid="flagged-{attempt.order_id}"' in html
    token = csrf_from(html)
    url = f"/payments/tinjauan/pembayaran/{attempt.id}"
    response = client.post(url, data={"csrf_token": token, "note": "  "})
    assert response.status_code == 422
    assert "Catatan tinjauan wajib diisi." in response.get_data(as_text=True)
    assert fresh(attempt).needs_review

    response = client.post(url, data={"csrf_token": token, "note": "Sudah dikonfirmasi anggota"})
    assert response.status_code == 303
    attempt = fresh(attempt)
    assert not attempt.needs_review and attempt.flagged_for_review
    assert attempt.reviewed_by_id == treasurer.id
    assert attempt.review_note == "Sudah dikonfirmasi anggota"
    html = client.get("/payments/tinjauan").get_data(as_text=True)
    assert f'data-testid="flagged-{attempt.order_id}"' not in html
    assert "Sudah dikonfirmasi anggota" in html  # under "recently reviewed"

    # Reviewing twice is refused with a message.
    response = client.post(url, data={"csrf_token": token, "note": "lagi"})
    assert response.status_code == 422
    assert "tidak sedang menunggu tinjauan" in response.get_data(as_text=True)


def test_bendahara_reviews_an_unknown_notification(client, app, login_as):
    from tests.integration.test_payments import fixture_bytes, post

    post(client, fixture_bytes("settlement"))
    inbox = db.session.scalars(select(GatewayInbox)).one()
    login_as("bendahara")
    token = csrf_from(client.get("/payments/tinjauan").get_data(as_text=True))
    response = client.post(
        f"/payments/tinjauan/notifikasi/{inbox.id}",
        data={"csrf_token": token, "note": "Bukan pesanan koperasi"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert not db.session.get(GatewayInbox, inbox.id).needs_review
    assert (
        client.post(
            "/payments/tinjauan/notifikasi/999999", data={"csrf_token": token, "note": "x"}
        ).status_code
        == 404
    )
