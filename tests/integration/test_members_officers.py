"""Officers (terms of at most 5 years), the certification watch list and the pages."""

import datetime as dt

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from kmp import errors, timeutil
from kmp.extensions import db
from members.officers import queries as officers_queries
from members.officers import services as officers_services
from members.officers.models import Officer
from tests.integration.governance_factories import set_ad
from tests.integration.members_support import (
    apply_member,
)
from tests.integration.training_support import certify

TODAY = timeutil.business_date()


def test_term_of_at_most_five_years():
    member = apply_member(1)
    certify(member, expires_in_days=None, issued_days_ago=3000)
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


def test_certificates_and_the_watch_list():
    holders = [apply_member(n) for n in range(1, 6)]
    start, end = TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=700)
    set_ad(require_certified_officers=False)  # the terms began before the rule was switched on
    for member, function in zip(
        holders, ("ketua", "sekretaris", "bendahara", "pengawas", "anggota_pengurus"), strict=True
    ):
        officers_services.appoint_officer(
            member,
            body="pengawas" if function == "pengawas" else "pengurus",
            function=function,
            term_start=start,
            term_end=end,
            by_user=None,
        )
    set_ad(require_certified_officers=True)
    certify(holders[0], expires_in_days=400)
    certify(holders[1], expires_in_days=60)
    certify(holders[2], expires_in_days=-1)
    certify(holders[3], "pengurus")  # a pengawas with the board's scheme: not his office's
    certify(holders[4], verify=False)
    db.session.commit()
    watch = {
        row.officer.member_id: row.problem for row in officers_queries.certification_watchlist()
    }
    assert watch == {
        holders[1].id: "expiring",
        holders[2].id: "expired",
        holders[3].id: "missing",
        holders[4].id: "pending",
    }
    set_ad(require_certified_officers=False)
    assert officers_queries.certification_watchlist() == []


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
    data["officer-term_end"] = "2030-12-31"
    response = client.post("/pengurus/jabatan", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Pengurus Koperasi" in page  # no certificate yet
    assert db.session.query(Officer).count() == 0
    certify(admit_no)
    db.session.commit()
    response = client.post("/pengurus/jabatan", data=data)
    assert response.status_code == 303
    html = client.get("/pengurus/sertifikasi").get_data(as_text=True)
    assert 'data-problem="missing"' not in html
    login_as("pengawas")
    assert client.get("/pengurus/jabatan").status_code == 200
    assert client.post("/pengurus/jabatan", data=data).status_code == 403
