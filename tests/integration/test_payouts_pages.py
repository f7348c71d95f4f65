"""SHU pages and CLI: roles, forms, downloads, the member's slip, patronage import."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from kmp.auth import Role
from kmp.extensions import db as _db
from kmp.ledger.chart import member_account_code
from kmp.ledger.queries import balance_of
from kmp.ledger.services import get_account
from payouts import services, transfers
from payouts.models import DistributionLine, DistributionRun, RunStatus
from payouts.patronage import PatronageRecord
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_ballot, shu_member


@pytest.fixture
def world(make_user):
    users = [make_user(Role.ANGGOTA) for _ in range(3)]
    members = [
        shu_member("pengemudi", wajib=25_000 * (i + 1), trips=10 * (i + 1), user=u)
        for i, u in enumerate(users)
    ]
    book_surplus(12_345_678)
    _db.session.commit()
    return users, members


def _count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def test_roles(world, client, login_as):
    login_as(Role.ANGGOTA)
    assert client.get("/shu/").status_code == 403
    assert client.get("/shu/jasa-usaha/impor").status_code == 403
    login_as(Role.PENGAWAS)
    assert client.get("/shu/").status_code == 200
    response = client.post("/shu/hitung", data={"fiscal_year": fiscal_year()})
    assert response.status_code in (400, 403)
    assert _count(DistributionRun) == 0


def test_compute_form_preview_and_downloads(world, client, login_as, csrf_token):
    login_as(Role.PENGURUS)
    token = csrf_token("/shu/")
    bad = client.post("/shu/hitung", data={"csrf_token": token, "fiscal_year": "3000"})
    assert bad.status_code == 422
    bad = client.post(
        "/shu/hitung",
        data={"csrf_token": token, "fiscal_year": fiscal_year(), "shu_idr": "1000"},
    )
    assert bad.status_code == 422 and "alasan" in bad.get_data(as_text=True)
    assert _count(DistributionLine) == 0
    ok = client.post("/shu/hitung", data={"csrf_token": token, "fiscal_year": fiscal_year()})
    assert ok.status_code == 302
    run = _db.session.scalars(select(DistributionRun)).one()
    page = client.get(f"/shu/{run.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and run.reference in html and "<svg" in html
    assert "style=" not in html and "<script>" not in html
    exported = client.get(f"/shu/{run.id}/baris.csv")
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0] == list(services.CSV_HEADERS)
    assert len(rows) == 4 and sum(int(r[6]) for r in rows[1:]) == run.members_total_idr
    xlsx = client.get(f"/shu/{run.id}/baris.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    pdf = client.get(f"/shu/{run.id}/laporan.pdf")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    report = client.get(f"/shu/{run.id}/laporan.xlsx")
    assert report.status_code == 200 and report.data[:2] == b"PK"
    assert client.get(f"/shu/{run.id}/laporan.doc").status_code == 400
    assert client.get(f"/shu/{run.id}/baris.doc").status_code == 400


def test_member_slip_explains_and_downloads(world, client, login_as, csrf_token, make_user):
    users, members = world
    run = services.create_run(fiscal_year())
    services.compute_run(run)
    _db.session.commit()
    login_as(user=users[1])
    listing = client.get("/shu/saya")
    assert listing.status_code == 200 and str(run.fiscal_year) in listing.get_data(as_text=True)
    page = client.get(f"/shu/saya/{run.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    line = transfers.member_line(run, members[1].id)
    assert "Dari mana angka ini?" in html and "20 perjalanan" in html
    assert f"{line.total_idr:,}".replace(",", ".") in html
    pdf = client.get(f"/shu/saya/{run.id}/slip.pdf")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    token = csrf_token(f"/shu/saya/{run.id}")
    bad = client.post(f"/shu/saya/{run.id}", data={"csrf_token": token, "method": "bitcoin"})
    assert bad.status_code == 422
    ok = client.post(f"/shu/saya/{run.id}", data={"csrf_token": token, "method": "cash"})
    assert ok.status_code == 302
    _db.session.expire_all()
    assert transfers.member_line(run, members[1].id).method.value == "cash"
    # another member's slip is not reachable
    other = make_user(Role.ANGGOTA)
    login_as(user=other)
    assert client.get(f"/shu/saya/{run.id}").status_code == 404


def test_import_page_all_or_nothing(world, client, login_as, csrf_token):
    _, members = world
    login_as(Role.BENDAHARA)
    fy = fiscal_year()
    before = _count(PatronageRecord)
    good = (
        f"member_no,period,measure,value,external_id\n{members[0].member_no},{fy}-04,trips,7,x1\n"
    )
    bad = good + "NOPE-1,2025-13,trips,-1,x2\n"
    token = csrf_token("/shu/jasa-usaha/impor")
    response = client.post(
        "/shu/jasa-usaha/impor",
        data={
            "csrf_token": token,
            "source_ref": "csv",
            "file": (io.BytesIO(bad.encode()), "a.csv"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Baris 3" in html and "tidak dikenal" in html
    assert _count(PatronageRecord) == before
    for _ in range(2):
        response = client.post(
            "/shu/jasa-usaha/impor",
            data={
                "csrf_token": token,
                "source_ref": "csv",
                "file": (io.BytesIO(good.encode()), "a.csv"),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 200
    assert _count(PatronageRecord) == before + 1


def test_cli_distribute_dry_run_then_full_flow(world, app, tmp_path, make_user):
    users, members = world
    runner = app.test_cli_runner()
    out = tmp_path / "shu.csv"
    fy = str(fiscal_year())
    result = runner.invoke(
        args=["payouts", "distribute", "--year", fy, "--dry-run", "--csv", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "cadangan" in result.output
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == list(services.CSV_HEADERS) and len(rows) == 4
    assert _count(DistributionRun) == 0
    result = runner.invoke(args=["payouts", "distribute", "--year", fy, "--shu-idr", "5"])
    assert result.exit_code != 0 and "--reason" in result.output
    result = runner.invoke(args=["payouts", "distribute", "--year", fy])
    assert result.exit_code == 0, result.output
    assert "distribution_run:" in result.output
    run = _db.session.scalars(select(DistributionRun)).one()
    assert run.status is RunStatus.COMPUTED
    shu_ballot(run, members, by_user=make_user(Role.PENGURUS))
    _db.session.commit()
    result = runner.invoke(args=["payouts", "distribute", "--year", fy])
    assert result.exit_code == 0, result.output
    _db.session.expire_all()
    assert _db.session.get(DistributionRun, run.id).status is RunStatus.PAID
    account = get_account(member_account_code("sukarela", members[2].member_no))
    credited = balance_of(account) * account.normal_sign
    result = runner.invoke(args=["payouts", "distribute", "--year", fy])
    assert result.exit_code == 0 and "sudah" in result.output
    _db.session.expire_all()
    assert balance_of(account) * account.normal_sign == credited > 0


def test_cli_import_patronage(world, app, tmp_path):
    _, members = world
    fy = fiscal_year()
    path = tmp_path / "p.csv"
    path.write_text(
        "member_no,period,measure,value,external_id\n"
        f"{members[0].member_no},{fy}-05,trips,3,c1\n"
        f"{members[1].member_no},{fy}-05,deliveries,3,c2\n"
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["payouts", "import-patronage", str(path)])
    assert result.exit_code == 1 and "Baris 3" in result.output
    path.write_text(
        "platform,platform_worker_id,period,measure,value,external_id\n"
        f"{members[0].platform or 'x'},{members[0].platform_worker_id or 'y'},{fy}-05,trips,3,c1\n"
    )
    result = runner.invoke(args=["payouts", "import-patronage", "--dry-run", str(path)])
    if members[0].platform:
        assert result.exit_code == 0, result.output
    path.write_text(
        f"member_no,period,measure,value,external_id\n{members[0].member_no},{fy}-05,trips,3,c1\n"
    )
    before = _count(PatronageRecord)
    assert runner.invoke(args=["payouts", "import-patronage", str(path)]).exit_code == 0
    assert runner.invoke(args=["payouts", "import-patronage", str(path)]).exit_code == 0
    assert _count(PatronageRecord) == before + 1


def test_every_payouts_route_is_guarded(app, client):
    public = {"payouts.iris_notification"}  # authenticated by the Iris signature instead
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("payouts.")}
    assert "payouts.my_slip" in endpoints
    for endpoint in endpoints - public:
        assert getattr(app.view_functions[endpoint], "kmp_roles", None), endpoint
    for path in ("/shu/", "/shu/saya", "/shu/1", "/shu/1/laporan.pdf", "/shu/jasa-usaha/impor"):
        assert client.get(path).status_code == 302, path
