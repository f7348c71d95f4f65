"""Partner portal pages: who sees what, CSV remittance upload, receipts, exports, API keys,
the board's overview and the worker's consent page (issue 8)."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.partners import links as partners_links
from members.partners import summary as partners_summary
from members.partners.models import ApiKey, Remittance
from members.register import services as register_services
from members.register.states import MemberStatus
from tests.conftest import csrf_from


def _rep(company):
    return db.session.get(type(company.staff[0].user), company.user_id)


def test_partner_sees_only_its_company_board_sees_all(world, client, login_as):
    login_as(user=_rep(world.company))
    assert client.get(f"/mitra/{world.company.id}/kontribusi").status_code == 200
    assert client.get(f"/mitra/{world.other.id}/kontribusi").status_code == 403
    assert client.get(f"/mitra/{world.other.id}/kunci-api").status_code == 403
    assert client.get("/pengurus/mitra").status_code == 403
    html = client.get(f"/mitra/{world.company.id}").get_data(as_text=True)
    assert f"/mitra/{world.company.id}/kontribusi" in html  # the company page links the portal
    for role in ("pengurus", "pengawas"):
        login_as(role)
        for company in (world.company, world.other):
            assert client.get(f"/mitra/{company.id}/kontribusi").status_code == 200
        board = client.get("/pengurus/mitra").get_data(as_text=True)
        assert "PT Ojek Nusantara" in board and "PT Kurir Kilat" in board
    login_as("anggota")
    assert client.get(f"/mitra/{world.company.id}/kontribusi").status_code == 403


def test_dashboard_shows_consenting_workers_only(world, client, login_as):
    worker = world.worker()
    login_as(user=_rep(world.company))
    html = client.get(f"/mitra/{world.company.id}/kontribusi").get_data(as_text=True)
    assert worker.member_no not in html and 'data-testid="no-consenting-workers"' in html
    link = partners_links.link_worker(worker, world.company, None)
    db.session.commit()
    html = client.get(f"/mitra/{world.company.id}/kontribusi").get_data(as_text=True)
    assert worker.member_no in html
    partners_links.withdraw_link(link)
    db.session.commit()
    html = client.get(f"/mitra/{world.company.id}/kontribusi").get_data(as_text=True)
    assert worker.member_no not in html


def _upload(client, company, ref, text):
    page = client.get(f"/mitra/{company.id}/remitansi/unggah")
    return client.post(
        f"/mitra/{company.id}/remitansi/unggah",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "remittance_id": ref,
            "file": (io.BytesIO(text.encode()), "remitansi.csv"),
        },
        content_type="multipart/form-data",
    )


def test_csv_upload_posts_good_lines_reports_bad_and_receipt_pdf(world, client, login_as):
    worker = world.worker(link_to=world.company)
    login_as(user=_rep(world.company))
    csv_text = (
        "platform_worker_id,purpose,amount_idr\n"
        f"{worker.platform_worker_id},wajib,25000\n"
        "GHOST-1,wajib,10000\n"
    )
    response = _upload(client, world.company, "TRF-001", csv_text)
    assert response.status_code == 303, response.get_data(as_text=True)
    remittance = db.session.scalar(select(Remittance))
    assert (remittance.accepted_idr, remittance.rejected_idr) == (25_000, 10_000)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "GHOST-1" in detail and "ID mitra tidak dikenal" in detail
    pdf = client.get(f"/mitra/{world.company.id}/remitansi/{remittance.id}/kwitansi.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    export = client.get(f"/mitra/{world.company.id}/kontribusi/ekspor?format=csv")
    assert "TRF-001" in export.get_data(as_text=True)
    xlsx = client.get(f"/mitra/{world.company.id}/kontribusi/ekspor?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    # the same upload again: the original result, nothing doubled
    assert _upload(client, world.company, "TRF-001", csv_text).status_code == 303
    assert db.session.scalar(select(func.count(Remittance.id))) == 1
    # another company cannot read it
    login_as(user=_rep(world.other))
    assert client.get(f"/mitra/{world.company.id}/remitansi/{remittance.id}").status_code == 403
    assert client.get(f"/mitra/{world.other.id}/remitansi/{remittance.id}").status_code == 404


def test_csv_upload_refuses_bad_files_with_a_message(world, client, login_as):
    login_as(user=_rep(world.company))
    for text, message in [
        ("who,what\nx,y\n", "Kolom CSV harus"),
        ("platform_worker_id,purpose,amount_idr\nW-1,wajib,12.5\n", "bilangan bulat"),
        ("platform_worker_id,purpose,amount_idr\n", "kosong"),
    ]:
        response = _upload(client, world.company, "TRF-BAD", text)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Remittance.id))) == 0


def test_api_key_created_once_and_revoked_by_representative_only(world, client, login_as):
    staff = register_services.add_company_staff(
        world.company,
        full_name="Staf Biasa",
        password="rahasia-12345",
        by_user=world.pengurus,
        email="staf@ojek.example",
    )
    db.session.commit()
    login_as(user=staff.user)
    page = client.get(f"/mitra/{world.company.id}/kunci-api")
    assert page.status_code == 200
    response = client.post(
        f"/mitra/{world.company.id}/kunci-api",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "name": "x",
            "scopes": ["members:read"],
        },
    )
    assert response.status_code == 403

    login_as(user=_rep(world.company))
    page = client.get(f"/mitra/{world.company.id}/kunci-api")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        f"/mitra/{world.company.id}/kunci-api",
        data={"csrf_token": token, "name": "", "scopes": []},
    )
    assert response.status_code == 422
    response = client.post(
        f"/mitra/{world.company.id}/kunci-api",
        data={"csrf_token": token, "name": "server", "scopes": ["members:read", "patronage:write"]},
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    key = db.session.scalar(select(ApiKey))
    assert f"kmp_{key.prefix}_" in html and key.scope_list == ["members:read", "patronage:write"]
    again = client.get(f"/mitra/{world.company.id}/kunci-api").get_data(as_text=True)
    assert 'data-testid="new-key-value"' not in again  # shown once
    response = client.post(
        f"/mitra/{world.company.id}/kunci-api/{key.id}/cabut", data={"csrf_token": token}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    # without CSRF nothing happens
    assert client.post(f"/mitra/{world.company.id}/kunci-api", data={"name": "x"}).status_code in (
        400,
        422,
    )


def test_worker_link_page_refuses_bad_input(world, client):
    worker = world.worker()
    from tests.conftest import csrf_from as token_of

    with client.session_transaction() as session:
        session["_user_id"] = worker.user.get_id()
        session["_fresh"] = True
    page = client.get("/anggota/mitra")
    assert "PT Ojek Nusantara" in page.get_data(as_text=True)
    token = token_of(page.get_data(as_text=True))
    no_consent = client.post(
        "/anggota/mitra", data={"csrf_token": token, "company_id": str(world.company.id)}
    )
    assert no_consent.status_code == 422
    bogus = client.post(
        "/anggota/mitra", data={"csrf_token": token, "company_id": "999999", "consent": "y"}
    )
    assert bogus.status_code == 422
    assert "Pilih perusahaan dari daftar" in bogus.get_data(as_text=True)
    not_company = client.post(
        "/anggota/mitra", data={"csrf_token": token, "company_id": str(worker.id), "consent": "y"}
    )
    assert not_company.status_code == 422
    assert "Perusahaan mitra tidak ditemukan" in not_company.get_data(as_text=True)
    assert partners_links.links_of_member(worker) == []


def test_company_summary_counts_linked_active_and_arrears_set_based(world):
    from members.savings.billing import bill_wajib
    from members.savings.models import Obligation

    paid, owing, gone = (world.worker(link_to=world.company) for _ in range(3))
    world.worker(link_to=world.other)  # another company's worker: never counted
    withdrawn = world.worker(link_to=world.company)
    partners_links.withdraw_link(partners_links.links_of_member(withdrawn)[0])
    bill_wajib(business_date())
    db.session.commit()
    for member in (paid,):  # settle a month: ``owing`` and the exited ``gone`` still owe
        for obligation in db.session.scalars(
            select(Obligation).where(Obligation.member_id == member.id)
        ):
            obligation.paid_idr, obligation.is_open = obligation.amount_idr, False
    gone.status = MemberStatus.EXITED  # no longer counted in arrears (nor as active)
    db.session.commit()

    summary = partners_summary.company_summary(world.company)
    assert (summary["linked"], summary["active"], summary["arrears_count"]) == (3, 2, 1)
    other = partners_summary.company_summary(world.other)
    assert (other["linked"], other["active"], other["arrears_count"]) == (1, 1, 1)
