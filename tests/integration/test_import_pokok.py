"""Issue 16, item 2 / "Census": the import activates a member only with the pokok fully paid;
a row short of the AD pokok waits as approved with the remainder owed, and the result says so
per row (service, CLI and page)."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import Account
from kmp.ledger.queries import check_ledger
from members.ad import services as ad_services
from members.census.services import compute_census
from members.importer.services import import_members
from members.register import admission
from members.register.models import Member, MemberEvent
from members.register.states import MemberStatus
from tests.integration.members_support import pay_pokok
from tests.integration.test_members_import import _file, _row


def _rows():
    return [
        _row(1, opening_wajib_idr="0"),
        _row(2, member_no="DRV-2023-000077", opening_pokok_idr="40.000", opening_wajib_idr="0"),
        _row(3, opening_pokok_idr="0", opening_wajib_idr=""),
    ]


def test_a_row_short_of_the_pokok_is_imported_as_approved_with_the_remainder_owed(make_user):
    result = import_members(_file(_rows()))
    db.session.commit()
    assert result.ok and result.imported == 3
    assert [(p.row, p.paid_idr, p.required_idr, p.remaining_idr) for p in result.pending] == [
        (3, 40_000, 100_000, 60_000),
        (4, 0, 100_000, 100_000),
    ]
    assert "sisa Rp 60.000" in str(result.pending[0])
    assert "DRV-2023-000077" in str(result.pending[0])
    full, short, nothing = db.session.scalars(select(Member).order_by(Member.id)).all()
    assert full.status is MemberStatus.ACTIVE and full.member_no
    for m in (short, nothing):
        assert m.status is MemberStatus.APPROVED
        assert m.member_no is None and m.activated_at is None and m.joined_date is None
    status = admission.pokok_status(short)
    assert (status.paid_idr, status.remaining_idr) == (40_000, 60_000)
    assert admission.pokok_status(nothing).remaining_idr == 100_000
    note = db.session.scalar(select(MemberEvent.note).where(MemberEvent.member_id == short.id))
    assert "nomor anggota lama DRV-2023-000077" in note and "2023-02-01" in note
    # no savings accounts for the approved ones; the ledger balances
    assert not db.session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.owner_id == short.id, Account.code.like("equity:savings:%"))
    )
    assert check_ledger().ok
    rows, _ = compute_census(ad_services.current_ad())
    assert [r.member_id for r in rows] == [full.id]

    # paying the remainder admits the member with a new number; the census counts it
    bendahara = make_user("bendahara")
    pay_pokok(short, bendahara)
    db.session.refresh(short)
    assert short.status is MemberStatus.ACTIVE and short.member_no.startswith("DRV-")
    assert admission.pokok_status(short).paid_idr == 100_000
    rows, _ = compute_census(ad_services.current_ad())
    assert {r.member_id for r in rows} == {full.id, short.id}
    assert check_ledger().ok


def test_a_short_row_with_opening_wajib_is_refused_with_a_message():
    result = import_members(_file([_row(1), _row(2, opening_pokok_idr="50000")]))
    db.session.rollback()
    assert [(e.row, e.column) for e in result.errors] == [(3, "opening_pokok_idr")]
    assert "wajib dan sukarela harus kosong" in result.errors[0].reason
    assert db.session.scalar(select(func.count()).select_from(Member)) == 0


def test_the_dry_run_and_the_cli_report_each_waiting_row(app, tmp_path):
    dry = import_members(_file(_rows()), dry_run=True)
    db.session.rollback()
    assert dry.ok and [p.row for p in dry.pending] == [3, 4]
    path = tmp_path / "anggota.csv"
    path.write_bytes(_file(_rows()))
    output = app.test_cli_runner().invoke(args=["members", "import", str(path)]).output
    assert "3 anggota diimpor (2 menunggu pelunasan simpanan pokok)" in output
    assert "baris 3" in output and "sisa Rp 60.000" in output


def test_the_page_lists_the_waiting_rows(client, login_as, csrf_token):
    login_as("pengurus")
    response = client.post(
        "/pengurus/impor",
        data={
            "csrf_token": csrf_token("/pengurus/impor"),
            "file": (io.BytesIO(_file(_rows())), "anggota.csv"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="import-pending"' in html
    assert "2 anggota menunggu pelunasan simpanan pokok" in html
    assert "Rp 60.000" in html
