"""Governance pages: role checks per route, the meeting and voting flows through HTTP, the
results page (tables, chart, receipts), the PDF and the receipt check."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from governance import meetings, services
from governance.models import (
    Attendance,
    BallotParticipation,
    Meeting,
    MinutesAttachment,
    Proposal,
    ProposalStatus,
)
from governance.views import BALLOT_ROLES, MANAGE_ROLES, PARTICIPANT_ROLES, READ_ROLES
from kmp.auth import Role
from kmp.extensions import db
from kmp.notify import Notification
from kmp.timeutil import JAKARTA, now_utc, set_clock
from tests.conftest import csrf_from
from tests.integration.governance_factories import (
    ensure_ad,
    make_member,
    make_proposal,
    make_voter,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _ad(db):  # noqa: ARG001
    ensure_ad()
    db.session.commit()


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%Y-%m-%dT%H:%M")


def _follow(client, response):
    assert response.status_code in (302, 303), response.status_code
    return client.get(response.headers["Location"])


# --------------------------------------------------------------------------- role checks


@pytest.fixture
def world(make_user):
    """A meeting with an attachment, an open ballot, a closed ballot and a draft election."""
    pengurus = make_user(Role.PENGURUS)
    meeting = meetings.create_meeting(
        kind="ralb",
        title="RALB uji",
        starts_at=now_utc() + dt.timedelta(days=20),
        mode="hybrid",
        location="Balai warga",
        by_user=pengurus,
    )
    meetings.save_minutes(meeting, "Notulen", pengurus)
    attachment = meetings.add_minutes_attachment(
        meeting, file_name="a.png", content_type="image/png", data=PNG
    )
    make_member("pengemudi")
    db.session.commit()
    open_ballot = make_proposal(pengurus, title="Terbuka")
    closed = make_proposal(pengurus, title="Selesai")
    services.close_proposal(closed, by_user=pengurus)
    election = services.create_proposal(
        kind="election",
        title="Pemilihan",
        seats=5,
        office="pengurus",
        term_start=dt.date(2026, 7, 1),
        term_end=dt.date(2031, 6, 30),
        opens_at=now_utc() + dt.timedelta(days=1),
        closes_at=now_utc() + dt.timedelta(days=2),
        by_user=pengurus,
    )
    db.session.commit()
    return {
        "m": meeting.id,
        "a": attachment.id,
        "p": open_ballot.id,
        "c": closed.id,
        "e": election.id,
    }


M, R, P, A = MANAGE_ROLES, READ_ROLES, PARTICIPANT_ROLES, (Role.ANGGOTA,)
#: Ballot pages are open to company staff logins too (a partner login WITHOUT a company, as
#: here, is still refused the vote itself with a 403: it has no member to vote for).
B, AB = BALLOT_ROLES, (Role.ANGGOTA, Role.PARTNER)
ROUTES = [
    ("GET", "/rapat", P),
    ("GET", "/rapat/baru", M),
    ("GET", "/rapat/{m}", P),
    ("GET", "/rapat/{m}/presensi", R),
    ("GET", "/rapat/{m}/notulen", R),
    ("GET", "/rapat/{m}/notulen/lampiran/{a}", P),
    ("GET", "/pemungutan", B),
    ("GET", "/pemungutan/baru", M),
    ("GET", "/pemungutan/{p}", B),
    ("GET", "/pemungutan/{p}/tanda-terima", AB),
    ("GET", "/pemungutan/{c}/cek", B),
    ("GET", "/pemungutan/{c}/hasil", B),
    ("GET", "/pemungutan/{c}/hasil.pdf", B),
    ("GET", "/pemungutan/{p}/pemilih", R),
    ("GET", "/pemungutan/{e}/calon", P),
    ("GET", "/tata-kelola/jejak", R),
    ("POST", "/rapat/baru", M),
    ("POST", "/rapat/{m}/presensi", M),
    ("POST", "/rapat/{m}/hadir-daring", A),
    ("POST", "/rapat/{m}/notulen", M),
    ("POST", "/rapat/{m}/notulen/lampiran", M),
    ("POST", "/pemungutan/baru", M),
    ("POST", "/pemungutan/{p}/pilih", A),
    ("POST", "/pemungutan/{e}/calon", M),
    ("POST", "/pemungutan/{e}/calon/999/tarik", M),
    ("POST", "/rapat/{m}/undangan", M),
    ("POST", "/rapat/{m}/notulen/terbitkan", M),
    ("POST", "/rapat/{m}/diadakan", M),
    ("POST", "/pemungutan/{e}/buka", M),
    ("POST", "/pemungutan/{p}/tutup", M),
    ("POST", "/pemungutan/{e}/batal", M),
    ("POST", "/rapat/{m}/batal", M),
    ("GET", "/rapat/{m}/penghitung", R),
    ("POST", "/rapat/{m}/penghitung", M),
    ("POST", "/rapat/{m}/penghitung/999/hapus", M),
    ("GET", "/rapat/{m}/kuorum.json", R),
    # Only the meeting's tellers (none here): a 403 for every role.
    ("GET", "/rapat/{m}/pindai", ()),
    ("POST", "/rapat/{m}/pindai", ()),
    ("GET", "/pemungutan/{p}/kertas", ()),
    ("POST", "/pemungutan/{p}/kertas/ambil", ()),
    ("POST", "/pemungutan/{p}/kertas/lembar", ()),
    ("POST", "/pemungutan/{p}/kertas/putus", ()),
    ("POST", "/pemungutan/{p}/kertas/gabung", ()),
]


def test_every_governance_route_is_guarded_and_listed(app):
    endpoints = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("governance.") and rule.endpoint != "governance.static"
    }
    for endpoint in endpoints:
        assert getattr(app.view_functions[endpoint], "kmp_roles", None), endpoint
    listed = set()
    adapter = app.url_map.bind("localhost")
    for method, path, _roles in ROUTES:
        url = path.format(m=1, a=1, p=1, c=1, e=1)
        listed.add(adapter.match(url, method=method)[0])
    assert listed == endpoints


def test_anonymous_is_sent_to_login(client, world):
    for method, path, _roles in ROUTES:
        response = client.open(path.format(**world), method=method)
        if method == "POST":
            assert response.status_code in (302, 400), path  # CSRF or login first
        else:
            assert response.status_code == 302, path
            assert "/masuk" in response.headers["Location"]


@pytest.mark.parametrize(
    "role",
    [Role.ANGGOTA, Role.PENGAWAS, Role.ADMIN, Role.PARTNER, Role.BENDAHARA, Role.PENGURUS],
)
def test_role_checks_per_route(client, login_as, csrf_token, world, role):
    user = login_as(role)
    if role is Role.ANGGOTA:
        make_member("kurir", user=user)
        db.session.commit()
    token = csrf_token("/akun")
    for method, path, allowed in ROUTES:
        url = path.format(**world)
        data = {"csrf_token": token} if method == "POST" else None
        response = client.open(url, method=method, data=data)
        if role in allowed:
            assert response.status_code != 403, (role, method, url)
            assert response.status_code < 500, (role, method, url)
        else:
            assert response.status_code == 403, (role, method, url, response.status_code)
    # The pengawas changed nothing.
    if role is Role.PENGAWAS:
        db.session.expire_all()
        assert db.session.get(Proposal, world["p"]).status is ProposalStatus.OPEN
        assert db.session.get(Meeting, world["m"]).notice_sent_at is None


# --------------------------------------------------------------------------- meetings


def test_meeting_flow_notice_checkin_minutes(client, login_as, csrf_token, make_user):
    member = make_member("kurir", name="Kurniawan")
    make_member("pengemudi")
    db.session.commit()
    pengurus = login_as(Role.PENGURUS)
    token = csrf_token("/rapat/baru")
    starts = now_utc() + dt.timedelta(days=15)
    response = client.post(
        "/rapat/baru",
        data={
            "csrf_token": token,
            "kind": "rat",
            "title": "RAT tahun buku 2025",
            "agenda": "Laporan pertanggungjawaban\nPembagian SHU",
            "starts_at": _local(starts),
            "mode": "hybrid",
            "location": "Aula koperasi",
            "fiscal_year": "2025",
            "group_code": "",
        },
    )
    page = _follow(client, response)
    assert page.status_code == 200
    meeting = db.session.scalar(select(Meeting))
    assert meeting.fiscal_year == 2025 and meeting.created_by_id == pengurus.id
    assert "Pembagian SHU" in page.get_data(as_text=True)

    response = client.post(f"/rapat/{meeting.id}/undangan", data={"csrf_token": token})
    page = _follow(client, response).get_data(as_text=True)
    assert "Undangan dikirim ke 2 anggota" in page
    notices = db.session.scalars(
        select(Notification).where(Notification.kind == "meeting_notice")
    ).all()
    assert len(notices) == 2 and {n.campaign for n in notices} == {f"meeting:{meeting.id}"}
    again = _follow(
        client, client.post(f"/rapat/{meeting.id}/undangan", data={"csrf_token": token})
    )
    assert "sudah dikirim" in again.get_data(as_text=True)

    response = client.post(
        f"/rapat/{meeting.id}/presensi",
        data={"csrf_token": token, "member_no": member.member_no.lower()},
    )
    assert "Kurniawan tercatat hadir" in _follow(client, response).get_data(as_text=True)
    twice = client.post(
        f"/rapat/{meeting.id}/presensi", data={"csrf_token": token, "member_no": member.member_no}
    )
    assert twice.status_code == 422 and "sudah tercatat hadir" in twice.get_data(as_text=True)
    unknown = client.post(
        f"/rapat/{meeting.id}/presensi", data={"csrf_token": token, "member_no": "XXX-1"}
    )
    assert unknown.status_code == 422 and "tidak ditemukan" in unknown.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1

    client.post(
        f"/rapat/{meeting.id}/notulen",
        data={"csrf_token": token, "text": "Rapat dibuka pukul 09.00.\n\nSelesai."},
    )
    bad = client.post(
        f"/rapat/{meeting.id}/notulen/lampiran",
        data={
            "csrf_token": token,
            "file": (__import__("io").BytesIO(b"MZ..."), "virus.exe", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "tidak cocok" in bad.get_data(as_text=True)
    ok = client.post(
        f"/rapat/{meeting.id}/notulen/lampiran",
        data={
            "csrf_token": token,
            "file": (__import__("io").BytesIO(PNG), "foto.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert ok.status_code == 303
    attachment = db.session.scalar(select(MinutesAttachment))
    client.post(f"/rapat/{meeting.id}/notulen/terbitkan", data={"csrf_token": token})

    # A member reads the published minutes and downloads the attachment.
    user, _member = make_voter(make_user, "pengguna")
    login_as(user=user)
    page = client.get(f"/rapat/{meeting.id}").get_data(as_text=True)
    assert "Rapat dibuka pukul 09.00." in page and "foto.png" in page
    download = client.get(f"/rapat/{meeting.id}/notulen/lampiran/{attachment.id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_online_attendance_by_the_member(client, login_as, csrf_token, make_user):
    pengurus = make_user(Role.PENGURUS)
    meeting = meetings.create_meeting(
        kind="ra_paripurna",
        title="Paripurna",
        starts_at=now_utc() + dt.timedelta(minutes=30),
        mode="online",
        by_user=pengurus,
    )
    db.session.commit()
    user, member = make_voter(make_user, "kurir")
    login_as(user=user)
    token = csrf_token(f"/rapat/{meeting.id}")
    page = _follow(
        client, client.post(f"/rapat/{meeting.id}/hadir-daring", data={"csrf_token": token})
    )
    assert "Kehadiran daring Anda tercatat" in page.get_data(as_text=True)
    assert 'data-testid="attended"' in client.get(f"/rapat/{meeting.id}").get_data(as_text=True)


def test_stylesheet_is_public(client):
    with client.get("/static/css/app.css") as response:
        assert response.status_code == 200 and b".gov-table" in response.data


def test_rat_overdue_is_flagged(client, login_as):
    set_clock(lambda: dt.datetime(2026, 7, 2, 3, 0, tzinfo=dt.UTC))
    login_as(Role.PENGAWAS)
    page = client.get("/rapat").get_data(as_text=True)
    assert 'data-testid="rat-flag"' in page and "RAT tahun buku 2025 belum diadakan" in page


def test_late_notice_is_flagged(db, make_user):
    meeting = meetings.create_meeting(
        kind="ralb",
        title="Mendadak",
        starts_at=now_utc() + dt.timedelta(days=3),
        mode="online",
        by_user=make_user(Role.PENGURUS),
    )
    make_member("pengemudi")
    meetings.send_notice(meeting)
    assert meeting.notice_late


# --------------------------------------------------------------------------- voting


def _receipt_from(page: str) -> str:
    match = re.search(r'data-testid="receipt-code">([0-9A-Z-]+)<', page)
    assert match, "no receipt code on the page"
    return match.group(1)


def test_create_proposal_through_the_form(client, login_as, csrf_token):
    make_member("pengemudi")
    db.session.commit()
    login_as(Role.PENGURUS)
    token = csrf_token("/pemungutan/baru")
    opens = now_utc() + dt.timedelta(hours=1)
    response = client.post(
        "/pemungutan/baru",
        data={
            "csrf_token": token,
            "kind": "shu_allocation",
            "title": "Pembagian SHU 2025",
            "body": "Usulan pembagian.",
            "meeting_id": "",
            "opens_at": _local(opens),
            "closes_at": _local(opens + dt.timedelta(days=2)),
            "secret": "y",
            "reference": "distribution_run:3",
            "office": "",
        },
    )
    page = _follow(client, response).get_data(as_text=True)
    proposal = db.session.scalar(select(Proposal))
    assert proposal.reference == "distribution_run:3" and proposal.secret
    assert proposal.status is ProposalStatus.DRAFT
    assert "Pembagian SHU 2025" in page
    bad = client.post(
        "/pemungutan/baru",
        data={
            "csrf_token": token,
            "kind": "ordinary",
            "title": "Salah",
            "meeting_id": "",
            "opens_at": _local(opens),
            "closes_at": _local(opens - dt.timedelta(hours=1)),
            "office": "",
        },
    )
    assert bad.status_code == 422 and "Waktu tutup harus sesudah waktu buka" in bad.get_data(
        as_text=True
    )
    response = client.post(f"/pemungutan/{proposal.id}/buka", data={"csrf_token": token})
    page = _follow(client, response).get_data(as_text=True)
    assert 'data-testid="census-fingerprint"' in page
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status is ProposalStatus.OPEN


def test_member_votes_changes_and_finds_the_receipt(client, login_as, csrf_token, make_user):
    voters = [make_voter(make_user, g) for g in ("pengemudi", "pengemudi", "kurir", "pengguna")]
    proposal = make_proposal(allow_change=True, title="Iuran ambulans")
    (user, _member) = voters[0]
    login_as(user=user)
    page = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    for key in ("yes", "no", "abstain"):
        assert f'data-testid="option-{key}"' in page
    assert proposal.census_fingerprint in page
    token = csrf_from(page)
    page = _follow(
        client,
        client.post(f"/pemungutan/{proposal.id}/pilih", data={"csrf_token": token, "option": "no"}),
    )
    first = _receipt_from(page.get_data(as_text=True))
    page = _follow(
        client,
        client.post(
            f"/pemungutan/{proposal.id}/pilih", data={"csrf_token": token, "option": "yes"}
        ),
    )
    text = page.get_data(as_text=True)
    receipt = _receipt_from(text)
    assert receipt != first and "Suara Anda diubah" in text
    ballot = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert f'data-testid="my-receipt">{receipt}<' in ballot

    for other_user, _m in voters[1:]:
        login_as(user=other_user)
        other_token = csrf_token(f"/pemungutan/{proposal.id}")
        client.post(
            f"/pemungutan/{proposal.id}/pilih", data={"csrf_token": other_token, "option": "yes"}
        )
    assert db.session.scalar(select(func.count()).select_from(BallotParticipation)) == 4

    # Closed on schedule by the job.
    services.run_ballot_schedule(now=proposal.closes_at)
    db.session.commit()
    login_as(user=user)
    results = client.get(f"/pemungutan/{proposal.id}/hasil").get_data(as_text=True)
    for marker in (
        'data-testid="group-table"',
        'data-testid="result-table"',
        'data-testid="receipt-list"',
        'data-testid="chart"',
        "<svg",
        'data-testid="weighted-yes"',
        'data-testid="plain-yes"',
        'data-testid="my-receipt-row"',
        'data-testid="group-kurir"',
    ):
        assert marker in results, marker
    assert first not in results and receipt in results
    assert "100,00 %" in results  # everyone ended on yes
    assert "<script" not in results.split("</main>")[0] and "style=" not in results

    check = client.get(f"/pemungutan/{proposal.id}/cek?kode={receipt.lower()}")
    assert check.status_code == 200
    assert 'data-testid="receipt-choice">Setuju<' in check.get_data(as_text=True)
    missing = client.get(f"/pemungutan/{proposal.id}/cek?kode={first}")
    assert missing.status_code == 404

    pdf = client.get(f"/pemungutan/{proposal.id}/hasil.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Type"] == "application/pdf"

    late = client.post(
        f"/pemungutan/{proposal.id}/pilih", data={"csrf_token": token, "option": "no"}
    )
    assert "sudah ditutup" in _follow(client, late).get_data(as_text=True)


def test_member_outside_the_census_sees_the_reason(client, login_as, make_user, app):
    user, member = make_voter(make_user, "kurir")
    make_member("kurir")
    from members.savings import billing

    previous = billing.arrears_months
    billing.arrears_months = lambda ids, on: {i: 5 if i == member.id else 0 for i in ids}
    try:
        proposal = make_proposal()
    finally:
        billing.arrears_months = previous
    login_as(user=user)
    page = client.get(f"/pemungutan/{proposal.id}").get_data(as_text=True)
    assert 'data-testid="census-refusal"' in page
    assert "tunggakan simpanan wajib Anda 5 bulan" in page
    assert 'data-testid="option-yes"' not in page
    token = csrf_from(page)
    refused = _follow(
        client,
        client.post(
            f"/pemungutan/{proposal.id}/pilih", data={"csrf_token": token, "option": "yes"}
        ),
    )
    assert "tidak ada dalam daftar pemilih" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(BallotParticipation)) == 0


def test_members_do_not_see_drafts(client, login_as, make_user):
    make_member("pengemudi")
    draft = make_proposal(
        open_now=False,
        opens_at=now_utc() + dt.timedelta(hours=1),
        closes_at=now_utc() + dt.timedelta(hours=2),
    )
    user, _member = make_voter(make_user, "pengemudi")
    login_as(user=user)
    assert client.get(f"/pemungutan/{draft.id}").status_code == 404
    assert draft.title not in client.get("/pemungutan").get_data(as_text=True)


def test_pengawas_reads_census_results_and_audit(client, login_as, make_user):
    voters = [make_voter(make_user, "pengemudi") for _ in range(2)]
    proposal = make_proposal(secret=False)
    for _user, member in voters:
        services.cast_vote(proposal, member, "yes")
    services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    login_as(Role.PENGAWAS)
    census = client.get(f"/pemungutan/{proposal.id}/pemilih")
    assert census.status_code == 200 and voters[0][1].member_no in census.get_data(as_text=True)
    csv = client.get(f"/pemungutan/{proposal.id}/pemilih?format=csv").get_data(as_text=True)
    assert f"{voters[0][1].member_no},pengemudi" in csv
    results = client.get(f"/pemungutan/{proposal.id}/hasil").get_data(as_text=True)
    assert 'data-testid="roll-call"' in results and voters[1][1].full_name in results
    audit = client.get("/tata-kelola/jejak").get_data(as_text=True)
    assert "Pemungutan suara ditutup" in audit  # a label, not the code proposal_closed
    assert "<td>proposal_closed</td>" not in audit


def test_nomination_page_refuses_uncertified(client, login_as, csrf_token):
    login_as(Role.PENGURUS)
    proposal = services.create_proposal(
        kind="election",
        title="Pemilihan pengawas",
        seats=4,
        office="pengawas",
        term_start=dt.date(2026, 7, 1),
        term_end=dt.date(2029, 6, 30),
        opens_at=now_utc() + dt.timedelta(days=1),
        closes_at=now_utc() + dt.timedelta(days=2),
    )
    candidate = make_member("pengemudi", name="Eko Belum Sertifikasi")
    db.session.commit()
    token = csrf_token(f"/pemungutan/{proposal.id}/calon")
    response = client.post(
        f"/pemungutan/{proposal.id}/calon",
        data={"csrf_token": token, "member_no": candidate.member_no},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Eko Belum Sertifikasi" in page and "belum punya sertifikat kompetensi" in page
