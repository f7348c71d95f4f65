"""Officers (terms of at most 5 years) and competence certificates."""

import datetime as dt

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from kmp import errors, timeutil
from kmp.extensions import db
from members.officers import queries as officers_queries
from members.officers import services as officers_services
from members.officers.models import Officer
from tests.integration.members_support import (
    apply_member,
)

TODAY = timeutil.business_date()


def test_term_of_at_most_five_years():
    member = apply_member(1)
    start = dt.date(2024, 2, 29)
    officer = officers_services.appoint_officer(
        member,
        body="pengurus",
        function="ketua",
        term_start=start,
        term_end=dt.date(2029, 2, 28),
        by_user=None,
    )
    db.session.commit()
    assert officer.id
    with pytest.raises(errors.DomainError, match="paling lama 5 tahun") as caught:
        officers_services.appoint_officer(
            member,
            body="pengurus",
            function="ketua",
            term_start=start,
            term_end=dt.date(2029, 3, 1),
            by_user=None,
        )
    assert caught.value.field == "term_end"
    with pytest.raises(errors.DomainError, match="sesudah awalnya"):
        officers_services.appoint_officer(
            member,
            body="pengurus",
            function="ketua",
            term_start=start,
            term_end=start,
            by_user=None,
        )
    with pytest.raises(errors.DomainError, match="tidak cocok"):
        officers_services.appoint_officer(
            member,
            body="pengawas",
            function="ketua",
            term_start=start,
            term_end=dt.date(2025, 1, 1),
            by_user=None,
        )


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        (dt.date(2026, 1, 1), dt.date(2031, 1, 1), True),
        (dt.date(2026, 1, 1), dt.date(2031, 1, 2), False),
        (dt.date(2026, 6, 30), dt.date(2031, 7, 1), False),
        (dt.date(2026, 6, 30), dt.date(2028, 12, 31), True),
    ],
)
def test_the_database_refuses_longer_terms_too(start, end, ok):
    member = apply_member(1)
    statement = insert(Officer).values(
        member_id=member.id, body="pengurus", function="ketua", term_start=start, term_end=end
    )
    if ok:
        db.session.execute(statement)
        db.session.commit()
    else:
        with pytest.raises(IntegrityError):
            db.session.execute(statement)
        db.session.rollback()


def test_certificates_and_the_watch_list(make_user):
    holders = [apply_member(n) for n in range(1, 5)]
    start, end = TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=700)
    for member, function in zip(
        holders, ("ketua", "sekretaris", "bendahara", "pengawas"), strict=True
    ):
        officers_services.appoint_officer(
            member,
            body="pengawas" if function == "pengawas" else "pengurus",
            function=function,
            term_start=start,
            term_end=end,
            by_user=None,
        )
    officers_services.add_certificate(
        holders[0],
        scheme="Pengurus Koperasi",
        lsp_bnsp_number="A-1",
        issued_on=TODAY - dt.timedelta(days=10),
        expires_on=TODAY + dt.timedelta(days=400),
        by_user=None,
    )
    officers_services.add_certificate(
        holders[1],
        scheme="Pengurus Koperasi",
        lsp_bnsp_number="A-2",
        issued_on=TODAY - dt.timedelta(days=300),
        expires_on=TODAY + dt.timedelta(days=60),
        by_user=None,
    )
    officers_services.add_certificate(
        holders[2],
        scheme="Pengurus Koperasi",
        lsp_bnsp_number="A-3",
        issued_on=TODAY - dt.timedelta(days=800),
        expires_on=TODAY - dt.timedelta(days=1),
        by_user=None,
    )
    db.session.commit()
    watch = {
        row.officer.member_id: row.problem for row in officers_queries.certification_watchlist()
    }
    assert watch == {holders[1].id: "expiring", holders[2].id: "expired", holders[3].id: "missing"}
    assert officers_services.has_valid_certificate(holders[0])
    assert officers_services.has_valid_certificate(
        holders[0].user
    )  # the login counts as the member
    assert not officers_services.has_valid_certificate(holders[2])
    assert officers_services.has_valid_certificate(holders[2], TODAY - dt.timedelta(days=5))
    assert not officers_services.has_valid_certificate(holders[3])
    with pytest.raises(errors.Forbidden, match="sertifikat"):
        officers_services.ensure_may_hold_office(holders[3])
    officers_services.ensure_may_hold_office(holders[0])
    board_user = make_user("pengurus")
    assert not officers_services.has_valid_certificate(board_user)
    officers_services.add_certificate(
        board_user,
        scheme="Pengawas",
        lsp_bnsp_number="B-1",
        issued_on=TODAY,
        expires_on=TODAY + dt.timedelta(days=1),
        by_user=None,
    )
    assert officers_services.has_valid_certificate(board_user)


def test_certificate_validation():
    member = apply_member(1)
    with pytest.raises(errors.DomainError, match="sesudah tanggal terbit"):
        officers_services.add_certificate(
            member, scheme="X", lsp_bnsp_number="1", issued_on=TODAY, expires_on=TODAY, by_user=None
        )
    with pytest.raises(errors.DomainError, match="PDF, PNG atau JPG"):
        officers_services.add_certificate(
            member,
            scheme="X",
            lsp_bnsp_number="1",
            issued_on=TODAY,
            expires_on=TODAY + dt.timedelta(days=9),
            by_user=None,
            file_name="x.exe",
            file_type="application/x-msdownload",
            file_data=b"MZ",
        )


def test_officer_pages(client, login_as, csrf_token, make_user):
    from tests.integration.members_support import admit

    pengurus = make_user("pengurus", "bendahara")
    admit_no = admit(apply_member(1), pengurus, pengurus)
    login_as(user=pengurus)
    token = csrf_token("/pengurus/jabatan")
    data = {
        "csrf_token": token,
        "officer-holder": admit_no.member_no,
        "officer-body": "pengurus",
        "officer-function": "ketua",
        "officer-term_start": "2026-01-01",
        "officer-term_end": "2031-06-01",
    }
    response = client.post("/pengurus/jabatan", data=data)
    assert response.status_code == 422 and "paling lama 5 tahun" in response.get_data(as_text=True)
    response = client.post("/pengurus/jabatan", data={**data, "officer-term_end": "2030-12-31"})
    assert response.status_code == 303
    html = client.get("/pengurus/sertifikasi").get_data(as_text=True)
    assert 'data-problem="missing"' in html and admit_no.full_name in html
    response = client.post(
        "/pengurus/jabatan/sertifikat",
        data={
            "csrf_token": token,
            "cert-holder": admit_no.member_no,
            "cert-scheme": "Pengurus",
            "cert-lsp_bnsp_number": "LSP-1",
            "cert-issued_on": TODAY.isoformat(),
            "cert-expires_on": (TODAY + dt.timedelta(days=1000)).isoformat(),
        },
    )
    assert response.status_code == 303
    assert 'data-problem="missing"' not in client.get("/pengurus/sertifikasi").get_data(
        as_text=True
    )
    login_as("pengawas")
    assert client.get("/pengurus/jabatan").status_code == 200
    assert client.post("/pengurus/jabatan", data=data).status_code == 403
