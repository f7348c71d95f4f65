"""The one export helper every feature uses: CSV, XLSX (openpyxl) and a small PDF table.

Give it a header and an iterator of rows; it streams (CSV) or writes row by row into a
write-only workbook (XLSX), so a million-line journal never sits in memory. Every text cell
that a spreadsheet would read as a formula (starting with ``= + - @``, a tab or a carriage
return) is prefixed with a single quote: an exported member name like ``=HYPERLINK(...)``
stays text.

In a view::

    return send_export(rows, headers, "neraca-saldo-2026-12-31", request.args["format"])
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import enum
import io
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from flask import Response, send_file, stream_with_context

from kmp.errors import DomainError
from kmp.i18n import gettext
from kmp.timeutil import JAKARTA

__all__ = [
    "FORMATS",
    "ExportFormatError",
    "cell_value",
    "escape_formula",
    "iter_csv",
    "send_export",
    "write_csv",
    "write_pdf",
    "write_workbook",
    "write_xlsx",
]

#: Format -> (mimetype, file extension).
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": ("application/pdf", "pdf"),
}

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CSV_CHUNK = 64 * 1024
_SPOOL_MAX = 8 * 1024 * 1024


class ExportFormatError(DomainError):
    status = 400
    code = "export_format"


def escape_formula(text: str) -> str:
    """``'=1+1'`` -> ``"'=1+1"``: a spreadsheet shows the text instead of running it."""
    if text and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def cell_value(value: Any) -> Any:
    """Normalise one cell for a spreadsheet: ints, dates and naive Jakarta datetimes pass as
    themselves; integral Decimals become ints; everything else becomes (escaped) text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else escape_formula(str(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(JAKARTA).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float):
        # Money is never a float in KMP; anything else (a ratio) is exported as text as is.
        return escape_formula(repr(value))
    if isinstance(value, enum.Enum):
        value = value.value
    return escape_formula(str(value))


def _csv_text(value: Any) -> Any:
    value = cell_value(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def iter_csv(
    headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, bom: bool = True
) -> Iterator[str]:
    """Yield the CSV text in chunks of about 64 KB (UTF-8 BOM first so Excel reads UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write("\ufeff")
    writer.writerow([_csv_text(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
        if buffer.tell() >= _CSV_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def write_csv(headers: Sequence[Any], rows: Iterable[Sequence[Any]], fileobj: IO[bytes]) -> None:
    for chunk in iter_csv(headers, rows):
        fileobj.write(chunk.encode("utf-8"))


def write_xlsx(
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    fileobj: IO[bytes],
    *,
    sheet_title: str = "Data",
) -> None:
    """Write a one-sheet workbook row by row (openpyxl write-only mode: bounded memory)."""
    write_workbook([(sheet_title, headers, rows)], fileobj)


def write_workbook(
    sheets: Iterable[tuple[str, Sequence[Any] | None, Iterable[Sequence[Any]]]],
    fileobj: IO[bytes],
) -> None:
    """Several sheets in one workbook: ``(title, header row or None, rows)`` each, written row
    by row in write-only mode with the same cell rules as :func:`write_xlsx`."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for title, headers, rows in sheets:
        name = _sheet_title(title)
        n = 2
        while name.lower() in used:
            name = f"{_sheet_title(title)[:27]} {n}"
            n += 1
        used.add(name.lower())
        _write_sheet(workbook.create_sheet(title=name), headers, rows)
    workbook.save(fileobj)


def _write_sheet(sheet, headers: Sequence[Any] | None, rows: Iterable[Sequence[Any]]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    bold = Font(bold=True)

    def header_cell(value):
        cell = WriteOnlyCell(sheet, value=_xlsx_text(cell_value(value)))
        cell.font = bold
        return cell

    if headers is not None:
        sheet.append([header_cell(h) for h in headers])
    for row in rows:
        out = []
        for value in row:
            value = cell_value(value)
            if isinstance(value, int):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "#,##0"
            elif isinstance(value, dt.datetime):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, dt.date):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "yyyy-mm-dd"
            else:
                cell = WriteOnlyCell(sheet, value=_xlsx_text(value))
                cell.data_type = "s"  # never a formula, even if escaping were bypassed
            out.append(cell)
        sheet.append(out)


def _xlsx_text(value: Any) -> Any:
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("", value)
    return value


def _sheet_title(title: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", str(title)).strip() or "Data"
    return cleaned[:31]


def write_pdf(
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    fileobj: IO[bytes],
    *,
    title: str = "",
    subtitle: str = "",
) -> None:
    """A table as an A4 PDF through the one PDF layer (``kmp.pdf``: Unicode fonts, the
    cooperative's header, print date). For short reports: the rows are laid out in memory."""
    from kmp.pdf import table_pdf

    fileobj.write(
        table_pdf(headers, (list(map(cell_value, r)) for r in rows), title=title, subtitle=subtitle)
    )


def export_filename(basename: str, fmt: str) -> str:
    stem = _SAFE_NAME.sub("-", basename).strip("-.") or "ekspor"
    return f"{stem}.{FORMATS[fmt][1]}"


def send_export(
    rows: Iterable[Sequence[Any]],
    headers: Sequence[Any],
    basename: str,
    fmt: str | None,
    *,
    sheet_title: str | None = None,
    title: str = "",
) -> Response:
    """The download response for ``fmt`` (``csv`` streamed; ``xlsx``/``pdf`` spooled to a
    temporary file). An unknown format is a 400 with a clear message."""
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise ExportFormatError(
            gettext("Format unduhan %(fmt)r tidak dikenal: pilih csv atau xlsx.", fmt=fmt),
            field="format",
        )
    mimetype, _ = FORMATS[fmt]
    filename = export_filename(basename, fmt)
    if fmt == "csv":
        response = Response(stream_with_context(iter_csv(headers, rows)), mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX)  # noqa: SIM115 - closed below
    try:
        if fmt == "xlsx":
            write_xlsx(headers, rows, spool, sheet_title=sheet_title or title or basename)
        else:
            write_pdf(headers, rows, spool, title=title or basename)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    if size <= _SPOOL_MAX:  # still in memory: answer with bytes, nothing left open
        data = spool.read()
        spool.close()
        response = Response(data, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    # A big workbook went to disk: stream the file (the WSGI server closes it).
    return send_file(
        spool, mimetype=mimetype, as_attachment=True, download_name=filename, max_age=0
    )
