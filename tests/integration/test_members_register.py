"""The member register: search, filters, pagination, masking per role, exports, the card."""

import io

import openpyxl
import pytest

from kmp.extensions import db
from members.importer.services import COLUMNS, import_members
from members.register.models import Member
from tests.integration.members_support import (
    apply_member,
)


def _import(count: int):
    lines = [",".join(COLUMNS)]
    for n in range(1, count + 1):
        group = "kurir" if n % 5 == 0 else "pengemudi"
        lines.append(
            ",".join(
                [
                    "",
                    f"Anggota {n:03d}",
                    f"3174011505{n:06d}",
                    f"0813{n:08d}",
                    "",
                    group,
                    "2024-01-15",
                    "grab",
                    f"GRB-{n}",
                    "100000",
                    "0",
                    "0",
                    "",
                ]
            )
        )
    result = import_members(("\n".join(lines) + "\n").encode())
    assert result.ok, result.errors
    db.session.commit()


def _ids(html):
    import re

    return re.findall(r'data-member-id="(\d+)"', html)


@pytest.fixture
def imported():
    _import(12)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Anggota 007", 1),
        ("anggota 00", 9),
        ("DRV-2024-000003", 1),
        ("081300000004", 1),
        ("+62 813-0000-0004", 1),
        ("000011", 1),
        ("GRB-12", 1),
        ("tidak ada", 0),
    ],
)
def test_search(client, login_as, imported, query, expected):
    login_as("pengurus")
    html = client.get("/pengurus/anggota", query_string={"q": query}).get_data(as_text=True)
    assert len(_ids(html)) == expected, query


def test_filters_and_pagination(client, login_as):
    _import(55)
    apply_member(900, group="pengguna")
    login_as("pengawas")
    html = client.get("/pengurus/anggota?kelompok=kurir").get_data(as_text=True)
    assert len(_ids(html)) == 11
    html = client.get("/pengurus/anggota?status=applied").get_data(as_text=True)
    assert len(_ids(html)) == 1
    first = _ids(client.get("/pengurus/anggota").get_data(as_text=True))
    second = _ids(client.get("/pengurus/anggota?halaman=2").get_data(as_text=True))
    assert len(first) == 50 and len(second) == 6 and not set(first) & set(second)


def test_nik_is_masked_on_board_pages_and_a_reveal_is_audited(client, login_as, imported):
    """Issue 22: the NIK is masked on every board page; who needs it (pengurus, bendahara,
    admin) reveals it on the member's page on purpose, and the reveal is in the audit trail.
    The pengawas sees phone and NIK masked and cannot reveal."""
    from sqlalchemy import select

    from kmp.audit import AuditRecord

    member = db.session.get(Member, 1)
    user = login_as("pengurus")
    html = client.get("/pengurus/anggota").get_data(as_text=True)
    assert member.nik not in html and "••••" + member.nik[-4:] in html
    assert member.phone in html
    detail = client.get("/pengurus/anggota/1").get_data(as_text=True)
    assert member.nik not in detail and 'data-testid="reveal-nik"' in detail
    revealed = client.get("/pengurus/anggota/1?tampilkan=nik").get_data(as_text=True)
    assert member.nik in revealed
    record = db.session.scalar(
        select(AuditRecord).where(AuditRecord.action == "member.nik_revealed")
    )
    assert record is not None and record.target == "members:1" and record.actor_id == user.id
    login_as("pengawas")
    html = client.get("/pengurus/anggota").get_data(as_text=True)
    assert member.nik not in html and member.phone not in html
    assert "••••" + member.nik[-4:] in html
    detail = client.get("/pengurus/anggota/1?tampilkan=nik").get_data(as_text=True)
    assert member.nik not in detail and 'data-testid="reveal-nik"' not in detail


def test_exports(client, login_as, imported):
    member = db.session.get(Member, 1)
    login_as("pengurus")
    response = client.get("/pengurus/anggota/ekspor?format=csv&kelompok=kurir")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "text/csv" in response.content_type
    assert text.lstrip("\ufeff").splitlines()[0].startswith("member_no,nama,kelompok")
    assert len(text.strip().splitlines()) == 1 + 2
    full = client.get("/pengurus/anggota/ekspor?format=csv").get_data(as_text=True)
    assert member.nik in full
    response = client.get("/pengurus/anggota/ekspor?format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.active.max_row == 13
    login_as("pengawas")
    masked = client.get("/pengurus/anggota/ekspor?format=csv").get_data(as_text=True)
    assert member.nik not in masked and member.nik[-4:] in masked
    assert client.get("/pengurus/anggota/ekspor?format=doc").status_code == 400


def test_member_card_for_the_board(client, login_as, imported):
    login_as("pengawas")
    html = client.get("/pengurus/anggota/1/kartu").get_data(as_text=True)
    assert 'data-testid="member-card-qr"' in html and "<svg" in html and "style=" not in html


BOARD_PAGES = [
    "/pengurus/anggota",
    "/pengurus/anggota/1",
    "/pengurus/anggota/1/kartu",
    "/pengurus/anggota/ekspor?format=csv",
    "/pengurus/jabatan",
    "/pengurus/sertifikasi",
]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("pengurus", 200),
        ("bendahara", 200),
        ("pengawas", 200),
        ("admin", 200),
        ("anggota", 403),
        ("partner", 403),
    ],
)
def test_register_roles(client, login_as, imported, role, status):
    login_as(role)
    for path in BOARD_PAGES:
        assert client.get(path).status_code == status, path


def test_anonymous_is_sent_to_login(client, imported):
    for path in [*BOARD_PAGES, "/anggota", "/mitra", "/pengurus/pendaftaran", "/admin/ad"]:
        response = client.get(path)
        assert response.status_code == 302 and "/masuk" in response.headers["Location"], path
