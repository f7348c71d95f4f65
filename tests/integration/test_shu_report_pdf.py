"""Issue 16, item 8: the board's SHU report PDF shows percentages as percentages and counts as
numbers, in readable colours (dark text; table cells light), with the cooperative's name, the
fiscal year and signature lines for the ketua, the bendahara and the pengawas. The PDF is read
back with pypdf (text and drawing operators)."""

from __future__ import annotations

import datetime as dt
import io
import re

from pypdf import PdfReader

from kmp.auth import Role
from kmp.extensions import db
from kmp.timeutil import business_date
from members.officers import services as officers
from payouts import services
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_member
from tests.integration.training_support import certify


def _luminance(rgb: tuple[float, float, float]) -> float:
    r, g, b = rgb
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _paint(content: str) -> tuple[list, list]:
    """(fill colour of each text show, (fill colour, operator) of each filled rectangle)."""
    tokens = re.sub(r"\((?:\\.|[^\\)])*\)", "(s)", content).split()  # no text inside strings
    fill, stack, texts, rects = (0.0, 0.0, 0.0), [], [], []
    for i, token in enumerate(tokens):
        if token == "q":
            stack.append(fill)
        elif token == "Q" and stack:
            fill = stack.pop()
        elif token == "rg":
            fill = tuple(float(t) for t in tokens[i - 3 : i])
        elif token == "g":
            fill = (float(tokens[i - 1]),) * 3
        elif token in ("Tj", "TJ"):
            texts.append(fill)
        elif token in ("f", "F", "B", "b") and tokens[i - 1] == "re":
            rects.append((fill, token))
    return texts, rects


def test_the_report_pdf_reads_right(client, login_as, make_user):
    fy = fiscal_year()
    voters = [make_user(Role.ANGGOTA) for _ in range(4)]
    for i in range(3):
        shu_member("pengemudi", wajib=25_000 * (i + 1), trips=10 * (i + 1), user=voters[i])
    shu_member("kurir", wajib=0, trips=5, user=voters[3])
    book_surplus(10_000_000)
    ketua = make_user(Role.PENGURUS, full_name="Ahmad Ketua")
    certify(ketua, "pengurus")  # the AD's competence rule: officers hold a certificate
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
    run = services.create_run(fy, None)
    services.compute_run(run, by_user=None)
    db.session.commit()

    login_as("pengurus")
    response = client.get(f"/shu/{run.id}/laporan.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = "\n".join(page.extract_text() for page in reader.pages)

    # the cooperative, the year
    assert "Koperasi Multi Pihak" in text
    assert f"Tahun Buku {fy}" in text and f"1 Januari - 31 Desember {fy}" in text
    # percentages as percentages (4000 bp = 40 %), never basis points as Rupiah
    assert re.search(r"Cadangan\s+40 %\s+Rp [0-9.]+\n", text)
    assert re.search(r"Dana sosial\s+5 %", text)
    assert "Rp 4.000\n" not in text and not re.search(r"Cadangan\s+Rp 4\.000\b", text)
    # counts as numbers, not "Rp 3"
    assert re.search(r"Pengemudi\s+3\s+Rp", text), text
    assert re.search(r"Kurir\s+1\s+Rp", text)
    assert "Anggota penerima: 4" in text
    assert not re.search(r"Pengemudi\s+Rp 3\b", text)
    # signature lines, with the sitting ketua's name
    for role in ("Ketua", "Bendahara", "Pengawas"):
        assert role in text
    assert "(Ahmad Ketua)" in text

    # readable colours: every text is dark, every table cell light; green only for bars
    for page in reader.pages:
        texts, rects = _paint(page.get_contents().get_data().decode("latin-1"))
        assert texts and all(_luminance(c) < 0.35 for c in texts), texts
        cells = [c for c, op in rects if op in ("B", "b")]
        assert cells and all(_luminance(c) > 0.8 for c in cells), cells
