"""kmp.exports: formula escaping, CSV streaming, XLSX and PDF writing, the Flask response."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import enum
import io

import pytest
from flask import Flask
from openpyxl import load_workbook

from kmp.exports import (
    ExportFormatError,
    cell_value,
    escape_formula,
    export_filename,
    iter_csv,
    send_export,
    write_csv,
    write_pdf,
    write_xlsx,
)

HEADERS = ["Nama", "Jumlah (Rp)", "Tanggal"]


class Kind(enum.StrEnum):
    DEPOSIT = "deposit"


@pytest.mark.parametrize(
    "text", ["=1+1", "+62812", "-5", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://evil","klik")']
)
def test_formula_starts_are_quoted(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Budi", "Rp 5.000", "'already", " =x", "1-2"])
def test_ordinary_text_is_unchanged(text):
    assert escape_formula(text) == text


def test_cell_value_normalises_types():
    aware = dt.datetime(2026, 1, 1, 17, 30, tzinfo=dt.UTC)
    assert cell_value(aware) == dt.datetime(2026, 1, 2, 0, 30)  # shown in Jakarta time
    assert cell_value(dt.date(2026, 1, 2)) == dt.date(2026, 1, 2)
    assert cell_value(-5) == -5  # numbers are numbers, not formulas
    assert cell_value(decimal.Decimal("1500000")) == 1_500_000
    assert cell_value(None) == ""
    assert cell_value(True) == "Ya"
    assert cell_value(Kind.DEPOSIT) == "deposit"
    assert cell_value("=cmd") == "'=cmd"


def _parse_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_round_trip_and_escaping():
    rows = [('=HYPERLINK("x")', 1_500_000, dt.date(2026, 3, 31)), ('Siti, "Ketua"', -5, None)]
    parsed = _parse_csv("".join(iter_csv(HEADERS, rows)))
    assert parsed == [
        HEADERS,
        ['\'=HYPERLINK("x")', "1500000", "2026-03-31"],
        ['Siti, "Ketua"', "-5", ""],
    ]


def test_csv_is_streamed_in_chunks_from_a_generator():
    consumed = []

    def rows():
        for n in range(20_000):
            consumed.append(n)
            yield (f"Anggota {n}", n, None)

    chunks = iter_csv(HEADERS, rows())
    first = next(chunks)
    assert 0 < len(consumed) < 20_000  # the first chunk left before every row was read
    rest = "".join(chunks)
    assert len(_parse_csv(first + rest)) == 20_001
    buffer = io.BytesIO()
    write_csv(HEADERS, [("a", 1, None)], buffer)
    assert buffer.getvalue().decode("utf-8-sig").splitlines() == [",".join(HEADERS), "a,1,"]


def test_xlsx_round_trip():
    buffer = io.BytesIO()
    rows = [("=1+1", 1_500_000, dt.date(2026, 3, 31)), ("Bell\x07 char", 0, None)]
    write_xlsx(HEADERS, (r for r in rows), buffer, sheet_title="Neraca: saldo/2026")
    workbook = load_workbook(io.BytesIO(buffer.getvalue()))
    sheet = workbook.active
    assert sheet.title == "Neraca  saldo 2026"
    values = [tuple(c.value for c in row) for row in sheet.iter_rows()]
    assert values[0] == tuple(HEADERS)
    assert values[1] == ("'=1+1", 1_500_000, dt.datetime(2026, 3, 31))
    assert values[2][0] == "Bell char"  # control characters XML cannot hold are dropped
    assert sheet["A2"].data_type == "s"  # text, never a formula
    assert sheet["B2"].number_format == "#,##0"
    assert sheet["A1"].font.bold


def test_pdf_is_written():
    buffer = io.BytesIO()
    write_pdf(
        HEADERS,
        [("Siti – Ketua ✓", 1_500_000, dt.date(2026, 3, 31))],
        buffer,
        title="Neraca saldo",
        subtitle="Per 31 Maret 2026",
    )
    assert buffer.getvalue().startswith(b"%PDF")


def test_export_filename_is_safe():
    assert export_filename("neraca saldo/2026-03-31", "csv") == "neraca-saldo-2026-03-31.csv"
    assert export_filename("../..", "xlsx") == "ekspor.xlsx"


@pytest.fixture
def flask_app():
    return Flask(__name__)


def test_send_export_csv_streams(flask_app):
    with flask_app.test_request_context("/"):
        response = send_export(iter([("Budi", 5, None)]), HEADERS, "laporan kas", "CSV")
        assert response.is_streamed
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == 'attachment; filename="laporan-kas.csv"'
        body = response.get_data(as_text=True)
    assert _parse_csv(body)[1] == ["Budi", "5", ""]


def test_send_export_xlsx_and_pdf(flask_app):
    with flask_app.test_request_context("/"):
        response = send_export([("Budi", 5, None)], HEADERS, "laporan", "xlsx")
        assert response.headers["Content-Disposition"] == 'attachment; filename="laporan.xlsx"'
        workbook = load_workbook(io.BytesIO(response.get_data()))
        assert workbook.active["B2"].value == 5
        response = send_export([("Budi", 5, None)], HEADERS, "laporan", "pdf", title="Kas")
        assert response.get_data().startswith(b"%PDF")


@pytest.mark.parametrize("fmt", [None, "", "pptx", "xls"])
def test_send_export_refuses_unknown_formats(flask_app, fmt):
    with flask_app.test_request_context("/"), pytest.raises(ExportFormatError) as error:
        send_export([], HEADERS, "x", fmt)
    assert error.value.status == 400
