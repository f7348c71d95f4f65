"""A platform company sees its own SHU: its staff logins open "SHU saya", the slip and its
PDF; only the company's manager (its representative or the login that applied) chooses how
the company's SHU is paid (found by the whole-year journey: a company login got 403)."""

from __future__ import annotations

import datetime as dt

from kmp.extensions import db
from payouts import services, transfers
from payouts.patronage import PatronageRow, ingest_patronage
from tests.factories import book_pokok, company_member
from tests.integration.payouts_support import book_surplus, fiscal_year


def _company_with_a_share():
    fy = fiscal_year()
    joined = dt.datetime(fy, 1, 15, 3, tzinfo=dt.UTC)
    company, (rep, plain) = company_member("PT Slip Nusantara", staff=2, activated_at=joined)
    book_pokok(
        [(company.id, company.member_no, "platform")],
        amount_idr=5_000_000,
        entry_date=dt.date(fy, 2, 1),
    )
    ingest_patronage(
        [PatronageRow(company.id, f"{fy}-06", "contribution_idr", 7_500_000, "slip-1")],
        source="manual",
    )
    book_surplus(9_876_543)
    run = services.create_run(fy)
    services.compute_run(run)
    db.session.commit()
    return company, rep, plain, run


def test_the_company_sees_its_slip_and_its_manager_chooses(client, login_as, csrf_token):
    company, rep, plain, run = _company_with_a_share()
    line = transfers.member_line(run, company.id)
    assert line.total_idr > 0
    for user in (plain, rep):
        login_as(user=user)
        listing = client.get("/shu/saya")
        assert listing.status_code == 200 and str(run.fiscal_year) in listing.text
        slip = client.get(f"/shu/saya/{run.id}")
        assert slip.status_code == 200
        assert f"{line.total_idr:,}".replace(",", ".") in slip.text
        pdf = client.get(f"/shu/saya/{run.id}/slip.pdf")
        assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"

    login_as(user=plain)  # a staff login that is neither the representative nor the applicant
    assert 'name="method"' not in client.get(f"/shu/saya/{run.id}").text
    token = csrf_token(f"/shu/saya/{run.id}")
    refused = client.post(f"/shu/saya/{run.id}", data={"csrf_token": token, "method": "cash"})
    assert refused.status_code == 403
    db.session.expire_all()
    assert transfers.member_line(run, company.id).method.value == "sukarela"

    login_as(user=rep)
    token = csrf_token(f"/shu/saya/{run.id}")
    chosen = client.post(f"/shu/saya/{run.id}", data={"csrf_token": token, "method": "cash"})
    assert chosen.status_code == 302
    db.session.expire_all()
    assert transfers.member_line(run, company.id).method.value == "cash"


def test_a_partner_login_of_no_company_has_no_slip(client, login_as):
    company, _rep, _plain, run = _company_with_a_share()
    login_as("partner")
    assert client.get("/shu/saya").status_code == 200
    assert client.get(f"/shu/saya/{run.id}").status_code == 404
