"""Issue 17, must show 4: names outside Latin-1 print as typed in every PDF (one PDF layer
with embedded Unicode fonts): a cash receipt, a table export and the PDF layer itself, for
Vietnamese, Arabic and Chinese names."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from kmp.pdf import Document, cjk_font, table_pdf
from members.register.services import new_request_token
from members.savings.deposits import record_receipt
from tests.integration.savings_support import active_member, login_member

NAMES = ("Nguyễn Thị Hồng", "عبد الله", "王小明")


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _present(name: str, text: str) -> bool:
    # Arabic is shaped (joined, right to left): compare letters without spaces/order marks
    squash = "".join(ch for ch in text if not ch.isspace() and ch not in "\u200e\u200f")
    return name.replace(" ", "") in squash or name[::-1].replace(" ", "") in squash


@pytest.mark.parametrize("name", NAMES)
def test_the_pdf_layer_prints_every_name(name):
    if name == "王小明" and cjk_font() is None:
        pytest.skip("no CJK font installed (fonts-droid-fallback)")
    doc = Document(title="Kwitansi", subject=name, coop_name="Koperasi Uji")
    doc.pairs([("Diterima dari", name)])
    doc.table(["Nama", "Jumlah"], [[name, 25_000]])
    assert _present(name, pdf_text(doc.output()))
    assert _present(name, pdf_text(table_pdf(["Nama"], [[name]], title=name)))


@pytest.mark.parametrize("name", NAMES)
def test_a_cash_receipt_pdf_carries_the_members_name(client, make_user, name):
    if name == "王小明" and cjk_font() is None:
        pytest.skip("no CJK font installed (fonts-droid-fallback)")
    bendahara, pengurus = make_user("bendahara"), make_user("pengurus")
    member = active_member(1, bendahara, pengurus)
    member.full_name = name
    receipt = record_receipt(
        member,
        purpose="sukarela",
        amount_idr=50_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    from kmp.extensions import db

    db.session.commit()
    login_member(client, member)
    response = client.get(f"/kwitansi/{receipt.number}/pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert _present(name, text) and receipt.number in text


@pytest.mark.parametrize("name", NAMES)
def test_the_shu_slip_and_the_shu_report_carry_the_name(client, login_as, make_user, name):
    """The member's SHU slip prints the member's name; the board's SHU report prints the
    sitting ketua's name on the signature line. Both on the one PDF layer (kmp/pdf.py)."""
    if name == "王小明" and cjk_font() is None:
        pytest.skip("no CJK font installed (fonts-droid-fallback)")
    import datetime as dt

    from kmp.auth import Role
    from kmp.extensions import db
    from kmp.timeutil import business_date
    from members.officers import services as officers
    from payouts import services
    from tests.integration.payouts_support import book_surplus, fiscal_year, shu_member
    from tests.integration.training_support import certify

    member_user = make_user(Role.ANGGOTA)
    member = shu_member("pengemudi", wajib=50_000, trips=20, user=member_user)
    member.full_name = name
    shu_member("kurir", wajib=25_000, trips=5, user=make_user(Role.ANGGOTA))
    book_surplus(5_000_000)
    ketua = make_user(Role.PENGURUS, full_name=name)
    certify(ketua, "pengurus")
    today = business_date()
    officers.appoint_officer(
        ketua,
        body="pengurus",
        function="ketua",
        term_start=today - dt.timedelta(days=30),
        term_end=today + dt.timedelta(days=700),
        by_user=None,
    )
    db.session.commit()
    run = services.create_run(fiscal_year(), None)
    services.compute_run(run, by_user=None)
    db.session.commit()

    login_as(user=member_user)
    slip = client.get(f"/shu/saya/{run.id}/slip.pdf")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    slip_text = pdf_text(slip.data)
    assert _present(name, slip_text) and f"Slip SHU Tahun Buku {run.fiscal_year}" in slip_text
    assert b"/Helvetica" not in slip.data  # no Latin-1 core font left

    login_as(user=ketua)
    report = client.get(f"/shu/{run.id}/laporan.pdf")
    assert report.status_code == 200 and report.mimetype == "application/pdf"
    report_text = pdf_text(report.data)
    assert _present(f"({name})", report_text) or _present(name, report_text)
    assert f"Laporan Pembagian SHU Tahun Buku {run.fiscal_year}" in report_text
    assert b"/Helvetica" not in report.data
