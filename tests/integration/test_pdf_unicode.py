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
