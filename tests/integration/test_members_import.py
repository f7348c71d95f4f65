"""Import (issue 4, "Must show" 4): a 10-row file with 2 bad rows writes nothing and reports
both; the fixed file imports with opening balances and `kmp ledger-check` passing."""

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import Account, JournalEntry
from kmp.ledger.queries import balances_of_member, check_ledger
from members.ad import services as ad_services
from members.importer.services import COLUMNS, import_members
from members.register import admission as register_admission
from members.register import services as register_services
from members.register.models import Member, MemberNumberCounter
from members.register.states import MemberStatus
from tests.integration.members_support import (
    apply_member,
)

HEADER = ",".join(COLUMNS)


def _row(n, **overrides):
    values = {
        "member_no": "",
        "full_name": f"Anggota Lama {n}",
        "nik": f"3174011505900{n:03d}",
        "phone": f"0812555500{n:02d}",
        "email": "",
        "group": "pengemudi",
        "joined_date": "2023-02-01",
        "platform": "gojek",
        "platform_worker_id": f"OLD-{n}",
        "opening_pokok_idr": "100000",
        "opening_wajib_idr": "250.000",
        "opening_sukarela_idr": "0",
        "opening_date": "",
    }
    values.update(overrides)
    return ",".join(values[c] for c in COLUMNS)


def _good_rows():
    rows = [_row(n) for n in range(1, 11)]
    rows[0] = _row(1, member_no="DRV-2023-000050")
    rows[1] = _row(2, group="kurir", platform="grab")
    rows[2] = _row(
        3,
        group="pengguna",
        platform="",
        platform_worker_id="",
        opening_sukarela_idr="75000",
        opening_date="2026-01-02",
        email="c@x.id",
    )
    return rows


def _file(rows):
    return (HEADER + "\n" + "\n".join(rows) + "\n").encode()


def _bad_file():
    rows = _good_rows()
    rows[3] = _row(4, nik="3174013102900004")  # row 5: 31 February
    rows[7] = _row(8, phone="0812555500" + "01")  # row 9: phone of row 2
    return _file(rows)


def _nothing_written():
    assert db.session.scalar(select(func.count()).select_from(Member)) == 0
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 0
    assert db.session.scalar(select(func.count()).select_from(MemberNumberCounter)) == 0
    assert (
        db.session.scalar(
            select(func.count()).select_from(Account).where(Account.owner_id.is_not(None))
        )
        == 0
    )


def test_two_bad_rows_write_nothing_and_both_are_reported():
    result = import_members(_bad_file())
    db.session.rollback()
    assert not result.ok
    assert [(e.row, e.column) for e in result.errors] == [(5, "nik"), (9, "phone")]
    assert "tanggal lahir" in result.errors[0].reason
    assert "baris 2" in result.errors[1].reason
    _nothing_written()


def test_the_fixed_file_imports_with_opening_balances(app):
    result = import_members(_file(_good_rows()))
    db.session.commit()
    assert result.ok and result.imported == 10 and result.entries == 10
    members = list(db.session.scalars(select(Member).order_by(Member.id)))
    assert all(m.status is MemberStatus.ACTIVE and m.is_imported for m in members)
    assert members[0].member_no == "DRV-2023-000050"  # kept from the file
    assert members[1].member_no == "KUR-2023-000001"
    assert members[2].member_no == "PGN-2023-000001"
    assert members[3].member_no == "DRV-2023-000051"  # counter moved past the given number
    assert str(members[0].joined_date) == "2023-02-01"
    balances = balances_of_member(members[2].id)
    no = members[2].member_no
    assert balances[f"equity:savings:principal:{no}"] == 100_000
    assert balances[f"equity:savings:mandatory:{no}"] == 250_000
    assert balances[f"liability:savings:voluntary:{no}"] == 75_000
    entry = db.session.scalar(
        select(JournalEntry).where(JournalEntry.source_id == str(members[2].id))
    )
    assert str(entry.entry_date) == "2026-01-02"
    opening = db.session.scalar(select(Account).where(Account.code == ad_services.OPENING_BALANCE))
    assert opening.balance_idr == 10 * 350_000 + 75_000
    assert register_admission.pokok_status(members[0]).fully_paid
    assert check_ledger().ok
    result = app.test_cli_runner().invoke(args=["kmp", "ledger-check"])
    assert result.exit_code == 0, result.output
    assert register_services.reserve_numbers("DRV", 2023) == 58  # 7 more were assigned


def test_dry_run_writes_nothing():
    result = import_members(_file(_good_rows()), dry_run=True)
    db.session.rollback()
    assert result.ok and result.dry_run and result.total_opening_idr == 3_575_000
    _nothing_written()


def test_duplicates_against_the_database_are_reported():
    apply_member(99, nik="3174011505900003", phone="081255550099")
    result = import_members(_file(_good_rows()))
    db.session.rollback()
    assert [(e.row, e.column) for e in result.errors] == [(4, "nik")]
    assert db.session.scalar(select(func.count()).select_from(Member)) == 1


def test_closed_year_is_refused(make_user):
    from kmp.ledger.services import close_period

    close_period(2025)
    db.session.commit()
    rows = _good_rows()
    rows[5] = _row(6, opening_date="2025-12-31")
    result = import_members(_file(rows))
    db.session.rollback()
    assert [(e.row, e.column) for e in result.errors] == [(7, "opening_date")]


def test_cli_import(app, tmp_path):
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_bad_file())
    result = runner.invoke(args=["members", "import", str(bad)])
    assert result.exit_code == 1
    assert "baris 5, kolom nik" in result.output and "baris 9, kolom phone" in result.output
    good = tmp_path / "good.csv"
    good.write_bytes(_file(_good_rows()))
    result = runner.invoke(args=["members", "import", str(good), "--dry-run"])
    assert result.exit_code == 0 and "tidak ada yang disimpan" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Member)) == 0
    result = runner.invoke(args=["members", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "10 anggota diimpor" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Member)) == 10
    assert check_ledger().ok


def test_upload_page(client, login_as, csrf_token):
    import io

    login_as("pengurus")
    response = client.post(
        "/pengurus/impor",
        data={
            "csrf_token": csrf_token("/pengurus/impor"),
            "file": (io.BytesIO(_bad_file()), "anggota.csv"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="import-errors"' in html and "<td>5</td><td>nik</td>" in html
    assert "<td>9</td><td>phone</td>" in html
    _nothing_written()
    response = client.post(
        "/pengurus/impor",
        data={
            "csrf_token": csrf_token("/pengurus/impor"),
            "file": (io.BytesIO(_file(_good_rows())), "anggota.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "10 anggota diimpor" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Member)) == 10


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("pengurus", 200),
        ("admin", 200),
        ("bendahara", 200),
        ("pengawas", 403),
        ("anggota", 403),
        ("partner", 403),
    ],
)
def test_upload_page_roles(client, login_as, role, status):
    login_as(role)
    assert client.get("/pengurus/impor").status_code == status
    assert client.get("/pengurus/impor/contoh.csv").status_code == status
