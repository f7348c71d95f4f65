"""Reading bank statement exports (CSV or XLSX) into lines: built-in layouts for BCA, BRI,
Mandiri and BNI, and the generic mapping a user saves.

A layout names, for each field, the column headers it is known by (or, for a saved mapping,
a header name or a 1-based column number), how dates are written and how the amount is given:

* ``debit_credit``: two columns, money out (debet) and money in (kredit);
* ``indicator``: one amount column and a CR/DB flag (its own column, or a suffix of the
  amount as in ``287,490.00 DB``);
* ``signed``: one amount column, negative for money out.

Layouts (from the banks' internet-banking exports; see tests/data/bank/ for samples):

* **BCA** (KlikBCA / KlikBCA Bisnis "Mutasi Rekening", CSV): a few preamble lines
  (``No. rekening``, ``Nama``, ``Periode : dd/mm/yyyy - dd/mm/yyyy``), then
  ``Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo`` (or the English ``Date,Description,
  Branch,Amount,,Balance``); the date is ``'dd/mm`` (the year comes from the period line) or
  ``dd/mm/yyyy``, ``PEND`` for pending items (skipped); the CR/DB flag is the unnamed column
  after the amount or a suffix of it; footer lines (Saldo Awal, Kredit, Debet, Saldo Akhir)
  are skipped.
* **BRI** (Internet Banking BRI / BRImo "Mutasi Rekening", XLSX or CSV): ``Tanggal Transaksi,
  Uraian Transaksi, Teller, Debet, Kredit, Saldo``; dates ``dd/mm/yy`` with a time.
* **Mandiri** (Livin' by Mandiri / MCM, CSV): ``Account No, Date, Val. Date, Transaction Code,
  Description, Description, Reference No., Debit, Credit``; dates ``dd/mm/yy``; the two
  description columns are joined.
* **BNI** (BNIDirect / BNI Internet Banking, CSV or XLSX): ``Posting Date, Effective Date,
  Branch, Journal, Transaction Description, Amount, DB/CR, Balance``; dates ``dd/mm/yyyy``
  with an optional time.

Amounts may be written ``1,500,000.00`` or ``1.500.000,00`` (decided per value); cents are
rounded to whole Rupiah (half up) and counted, money in KMP being whole Rupiah.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from kmp.i18n import gettext as _

MAX_ROWS = 50_000
FIELDS = ("date", "description", "reference", "debit", "credit", "amount", "indicator", "balance")
AMOUNT_MODES = ("debit_credit", "indicator", "signed")


class StatementFormatError(ValueError):
    """The file does not have the layout's shape (the message says what is missing)."""


@dataclass(frozen=True)
class Layout:
    key: str
    name: str
    columns: dict[str, tuple[str | int, ...]]
    amount_mode: str
    date_formats: tuple[str, ...]
    credit_marks: tuple[str, ...] = ("CR", "C", "K", "KREDIT", "CREDIT")
    #: 0: find the header row by the column names; n: the header is row n (1-based);
    #: -1: no header row, columns are numbers.
    header_row: int = 0
    delimiter: str | None = None
    #: The CR/DB flag sits in the unnamed column right after the amount (BCA).
    indicator_after_amount: bool = False


BUILTIN_LAYOUTS: dict[str, Layout] = {
    "bca": Layout(
        key="bca",
        name="BCA (KlikBCA / KlikBCA Bisnis)",
        columns={
            "date": ("tanggal transaksi", "tanggal", "date", "tgl"),
            "description": ("keterangan", "description"),
            "amount": ("jumlah", "amount", "mutasi"),
            "balance": ("saldo", "balance"),
        },
        amount_mode="indicator",
        date_formats=("%d/%m/%Y", "%d/%m/%y", "%d/%m"),
        indicator_after_amount=True,
    ),
    "bri": Layout(
        key="bri",
        name="BRI (Internet Banking / BRImo)",
        columns={
            "date": ("tanggal transaksi", "tgl transaksi", "tanggal", "tgl tran"),
            "description": ("uraian transaksi", "uraian", "keterangan", "deskripsi"),
            "reference": ("no. referensi", "referensi", "no referensi"),
            "debit": ("debet", "debit", "mutasi debet"),
            "credit": ("kredit", "credit", "mutasi kredit"),
            "balance": ("saldo", "balance", "saldo akhir"),
        },
        amount_mode="debit_credit",
        date_formats=("%d/%m/%y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d/%m/%y", "%d/%m/%Y", "%Y-%m-%d"),
    ),
    "mandiri": Layout(
        key="mandiri",
        name="Mandiri (Livin' / MCM)",
        columns={
            "date": ("date", "tanggal", "tgl.", "post date", "posting date"),
            "description": ("description", "keterangan", "rincian transaksi", "remarks"),
            "reference": ("reference no.", "reference no", "no. referensi", "ref no."),
            "debit": ("debit", "debet", "debit amount"),
            "credit": ("credit", "kredit", "credit amount"),
            "balance": ("balance", "saldo", "close balance"),
        },
        amount_mode="debit_credit",
        date_formats=("%d/%m/%y", "%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d"),
    ),
    "bni": Layout(
        key="bni",
        name="BNI (BNIDirect / Internet Banking)",
        columns={
            "date": ("posting date", "tanggal transaksi", "tgl trans", "tanggal", "post date"),
            "description": ("transaction description", "uraian transaksi", "uraian", "keterangan"),
            "reference": ("journal", "journal no.", "no. jurnal", "no jurnal"),
            "amount": ("amount", "nominal", "jumlah"),
            "indicator": ("db/cr", "d/k", "tipe", "db/kr"),
            "balance": ("balance", "saldo"),
        },
        amount_mode="indicator",
        date_formats=("%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d/%m/%y", "%d-%b-%Y", "%Y-%m-%d"),
    ),
}


@dataclass(frozen=True)
class ParsedLine:
    row_no: int
    line_date: dt.date
    description: str
    reference: str
    amount_idr: int  # money into the account positive, out negative
    balance_idr: int | None


@dataclass
class ParseResult:
    lines: list[ParsedLine] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    rounded: int = 0
    period: tuple[dt.date, dt.date] | None = None


# --------------------------------------------------------------------------- values

_AMOUNT_CHARS = re.compile(r"[^0-9.,\-()]")


def parse_amount(value, *, round_cents: bool = False) -> int:
    """A money cell as whole Rupiah: ``1,500,000.00``, ``1.500.000,00``, ``Rp 25.000``,
    ``-5.000``, ``(5.000)``, an int, or an integral float/Decimal from a workbook. Cents are
    refused unless ``round_cents`` (then rounded half up). ``ValueError`` otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = Decimal(str(value))
    else:
        number = _parse_decimal(str(value))
    whole = number.to_integral_value(rounding=ROUND_HALF_UP)
    if whole != number and not round_cents:
        raise ValueError(f"fraction of a Rupiah: {value!r}")
    return int(whole)


def _parse_decimal(text: str) -> Decimal:
    raw = text.strip().replace("\u00a0", " ")
    if raw.lower().startswith("rp"):
        raw = raw[2:].lstrip(". ")
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1]
    raw = raw.replace(" ", "")
    if raw.endswith("-"):
        negative, raw = True, raw[:-1]
    if raw.startswith("-"):
        negative, raw = not negative, raw[1:]
    if not raw or _AMOUNT_CHARS.search(raw) or "-" in raw or "(" in raw:
        raise ValueError(text)
    if "." in raw and "," in raw:
        decimal_mark = "." if raw.rfind(".") > raw.rfind(",") else ","
    elif "," in raw:
        decimal_mark = "" if re.fullmatch(r"\d{1,3}(,\d{3})+", raw) else ","
    elif "." in raw:
        decimal_mark = "" if re.fullmatch(r"\d{1,3}(\.\d{3})+", raw) else "."
    else:
        decimal_mark = ""
    thousands = {".": ",", ",": ".", "": None}[decimal_mark]
    if thousands:
        raw = raw.replace(thousands, "")
    else:
        raw = raw.replace(",", "").replace(".", "")
    if decimal_mark:
        whole, _mark, cents = raw.partition(decimal_mark)
        whole = whole or "0"  # ".00" (Mandiri)
        if not whole.isdigit() or not cents.isdigit() or decimal_mark in cents:
            raise ValueError(text)
        raw = f"{whole}.{cents}"
    elif not raw.isdigit():
        raise ValueError(text)
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise ValueError(text) from None
    return -number if negative else number


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().replace("\u00a0", " ")
    return text[1:].strip() if text.startswith("'") else text


def _header_key(value) -> str:
    return re.sub(r"\s+", " ", _clean(value).strip('"').lower())


def parse_date(value, formats: Sequence[str], period: tuple[dt.date, dt.date] | None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _clean(value)
    if not text:
        raise ValueError("empty date")
    for fmt in formats:
        try:
            parsed = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
        if "%Y" in fmt or "%y" in fmt:
            return parsed.date()
        if period is None:
            raise ValueError("a date without a year and no statement period")
        start, end = period
        year = start.year if (parsed.month, parsed.day) >= (start.month, start.day) else end.year
        return dt.date(year, parsed.month, parsed.day)
    head = text.split(" ")[0]
    if head != text:
        return parse_date(head, formats, period)
    raise ValueError(text)


# --------------------------------------------------------------------------- files


def read_rows(data: bytes, delimiter: str | None = None) -> list[list]:
    """The rows of a CSV (UTF-8, UTF-16 or Windows-1252; delimiter sniffed) or XLSX file."""
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    text = _decode(data)
    if delimiter is None:
        sample = "\n".join(text.splitlines()[:30])
        counts = {d: sample.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in reader:
        rows.append(row)
        if len(rows) > MAX_ROWS:
            raise StatementFormatError(
                _("Berkas lebih dari %(n)s baris: pecah per bulan.", n=MAX_ROWS)
            )
    return rows


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read_xlsx(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable workbook is the user's file
        raise StatementFormatError(_("Berkas XLSX tidak dapat dibaca.")) from error
    try:
        rows = []
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS:
                raise StatementFormatError(
                    _("Berkas lebih dari %(n)s baris: pecah per bulan.", n=MAX_ROWS)
                )
        return rows
    finally:
        workbook.close()


_PERIOD = re.compile(
    r"(\d{1,2}/\d{1,2}/\d{4})\s*(?:-|s\.?d\.?|sampai)\s*(\d{1,2}/\d{1,2}/\d{4})", re.I
)


def _find_period(rows: list[list]) -> tuple[dt.date, dt.date] | None:
    for row in rows[:15]:
        match = _PERIOD.search(" ".join(_clean(c) for c in row))
        if match:
            start, end = (dt.datetime.strptime(g, "%d/%m/%Y").date() for g in match.groups())  # noqa: DTZ007
            return start, end
    return None


def _required(layout: Layout) -> list[str]:
    required = ["date", "description"]
    if layout.amount_mode == "debit_credit":
        required += ["debit", "credit"]
    else:
        required.append("amount")
    if layout.amount_mode == "indicator" and not layout.indicator_after_amount:
        required.append("indicator")
    return required


def _match_columns(layout: Layout, names: list[str] | None) -> dict[str, list[int]]:
    columns: dict[str, list[int]] = {}
    for name, spec in layout.columns.items():
        found: list[int] = []
        for selector in spec:
            if isinstance(selector, int):
                found.append(selector - 1)
            elif names is not None:
                found.extend(i for i, n in enumerate(names) if n == selector.lower())
            if found and name != "description":  # the description may span columns
                break
        if found:
            columns[name] = sorted(set(found))
    return columns


def _resolve(layout: Layout, rows: list[list]) -> tuple[int, dict[str, list[int]]]:
    """(index of the first data row, {field: column indices})."""
    required = _required(layout)
    if layout.header_row < 0:  # no header: columns are numbers
        candidates: list[int | None] = [None]
    elif layout.header_row > 0:
        candidates = [layout.header_row - 1]
    else:
        candidates = list(range(min(len(rows), 60)))
    for index in candidates:
        if index is not None and index >= len(rows):
            break
        names = None if index is None else [_header_key(c) for c in rows[index]]
        columns = _match_columns(layout, names)
        if all(columns.get(f) for f in required):
            return (0 if index is None else index + 1), columns
    labels = {
        "date": _("tanggal"),
        "description": _("keterangan"),
        "debit": _("debet"),
        "credit": _("kredit"),
        "amount": _("jumlah"),
        "indicator": _("tanda CR/DB"),
    }
    raise StatementFormatError(
        _(
            "Baris judul dengan kolom %(columns)s tidak ditemukan: pilih format bank yang "
            "sesuai atau simpan pemetaan kolom sendiri.",
            columns=", ".join(labels[f] for f in required),
        )
    )


def parse_statement(data: bytes, layout: Layout) -> ParseResult:
    rows = read_rows(data, layout.delimiter)
    result = ParseResult(period=_find_period(rows))
    start, columns = _resolve(layout, rows)

    def cell(row: list, name: str, *, join: bool = False):
        indices = columns.get(name) or []
        values = [row[i] for i in indices if i < len(row)]
        if join:
            return " ".join(_clean(v) for v in values if _clean(v))
        return values[0] if values else None

    for offset, row in enumerate(rows[start:], start=start + 1):
        if not any(_clean(c) for c in row):
            continue
        raw_date = cell(row, "date")
        if _clean(raw_date).upper().startswith("PEND"):
            result.skipped.append((offset, "pending"))
            continue
        try:
            line_date = parse_date(raw_date, layout.date_formats, result.period)
        except ValueError:
            result.skipped.append((offset, "not a transaction line"))
            continue
        try:
            amount, rounded = _line_amount(row, layout, columns, cell)
        except ValueError:
            raise StatementFormatError(
                _("Baris %(n)s: jumlahnya tidak dapat dibaca.", n=offset)
            ) from None
        if amount == 0:
            result.skipped.append((offset, "zero amount"))
            continue
        balance = None
        raw_balance = _clean(cell(row, "balance"))
        if raw_balance:
            try:
                balance = parse_amount(_strip_mark(raw_balance)[0], round_cents=True)
            except ValueError:
                balance = None
        result.rounded += rounded
        result.lines.append(
            ParsedLine(
                offset,
                line_date,
                cell(row, "description", join=True)[:500],
                _clean(cell(row, "reference"))[:100],
                amount,
                balance,
            )
        )
    return result


_MARK = re.compile(r"^(.*?)[\s]*\b(CR|DB|DR|D|K|C|KR)\b\.?$", re.I)


def _strip_mark(text: str) -> tuple[str, str | None]:
    match = _MARK.match(text.strip())
    if match:
        return match.group(1), match.group(2).upper()
    return text, None


def _rupiah(value) -> tuple[int, int]:
    """(whole Rupiah, 1 if cents were rounded)."""
    exact = None
    try:
        exact = parse_amount(value)
    except ValueError:
        pass
    if exact is not None:
        return exact, 0
    return parse_amount(value, round_cents=True), 1


def _line_amount(row, layout: Layout, columns, cell) -> tuple[int, int]:
    if layout.amount_mode == "debit_credit":
        debit_text, credit_text = _clean(cell(row, "debit")), _clean(cell(row, "credit"))
        debit, r1 = _rupiah(debit_text) if debit_text else (0, 0)
        credit, r2 = _rupiah(credit_text) if credit_text else (0, 0)
        return abs(credit) - abs(debit), r1 or r2
    raw = cell(row, "amount")
    text = _clean(raw)
    if layout.amount_mode == "signed":
        return _rupiah(raw if not isinstance(raw, str) else text)
    text, mark = _strip_mark(text)
    if mark is None:
        if layout.indicator_after_amount:
            index = columns["amount"][0] + 1
            mark = _clean(row[index]).upper() if index < len(row) else None
        else:
            mark = _clean(cell(row, "indicator")).upper() or None
    if not mark:
        raise ValueError("no CR/DB flag")
    value, rounded = _rupiah(text if isinstance(raw, str) else raw)
    sign = 1 if mark in layout.credit_marks else -1
    return sign * abs(value), rounded


# --------------------------------------------------------------------------- Midtrans

#: The settlement report columns KMP reads (header names, case-insensitive). Modelled on the
#: transaction/settlement export of the Midtrans dashboard (MAP: Transactions / Saldo): one
#: row per settled order. Required: order id, gross, fee (or MDR), net, settlement time.
SETTLEMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("order id", "order_id", "orderid", "merchant order id"),
    "transaction_id": ("transaction id", "transaction_id", "midtrans transaction id"),
    "gross": ("gross amount", "gross_amount", "amount", "transaction amount", "gross"),
    "fee": ("fee", "mdr", "fee amount", "total fee", "mdr fee", "transaction fee"),
    "vat": ("vat", "ppn", "tax", "fee vat", "vat fee"),
    "net": ("net amount", "net_amount", "nett amount", "settlement amount", "payable amount"),
    "settled": ("settlement time", "settlement date", "settlement_time", "settled at"),
    "batch": ("payout id", "withdrawal id", "batch id", "settlement id", "payout reference"),
    "status": ("transaction status", "status", "transaction_status"),
}
SETTLED_STATUSES = frozenset({"", "settlement", "settled", "capture", "success", "sukses"})


@dataclass(frozen=True)
class SettlementRecord:
    row_no: int
    order_id: str
    transaction_id: str | None
    gross_idr: int
    fee_idr: int
    net_idr: int
    settlement_date: dt.date
    batch_key: str


def parse_settlement_report(data: bytes) -> tuple[list[SettlementRecord], int]:
    """(settled rows, rows skipped because they are not settled). Raises
    ``StatementFormatError`` naming the first bad row."""
    rows = read_rows(data)
    header_at, columns = None, {}
    for index, row in enumerate(rows[:30]):
        names = [_header_key(c) for c in row]
        found = {}
        for name, aliases in SETTLEMENT_COLUMNS.items():
            for alias in aliases:
                if alias in names:
                    found[name] = names.index(alias)
                    break
        if {"order_id", "gross", "fee", "net", "settled"} <= found.keys():
            header_at, columns = index, found
            break
    if header_at is None:
        raise StatementFormatError(
            _(
                "Laporan settlement harus punya kolom Order ID, Gross Amount, Fee, Net Amount "
                "dan Settlement Time."
            )
        )

    def value(row, name):
        index = columns.get(name)
        return row[index] if index is not None and index < len(row) else None

    records, skipped = [], 0
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        order_id = _clean(value(row, "order_id"))
        if not order_id:
            continue
        status = _clean(value(row, "status")).lower()
        if status not in SETTLED_STATUSES:
            skipped += 1
            continue
        try:
            gross = parse_amount(_clean_money(value(row, "gross")))
            fee = parse_amount(_clean_money(value(row, "fee")) or "0")
            vat_raw = _clean_money(value(row, "vat"))
            fee += parse_amount(vat_raw) if vat_raw else 0
            net = parse_amount(_clean_money(value(row, "net")))
        except ValueError:
            raise StatementFormatError(
                _("Baris %(n)s: jumlah bukan Rupiah bulat.", n=number)
            ) from None
        if gross <= 0 or fee < 0 or net < 0 or gross != fee + net:
            raise StatementFormatError(
                _(
                    "Baris %(n)s (%(order)s): gross harus sama dengan fee + net.",
                    n=number,
                    order=order_id,
                )
            )
        try:
            settled = parse_date(
                value(row, "settled"),
                ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d-%m-%Y"),
                None,
            )
        except ValueError:
            raise StatementFormatError(
                _("Baris %(n)s: tanggal settlement tidak dapat dibaca.", n=number)
            ) from None
        batch = _clean(value(row, "batch")) or settled.isoformat()
        records.append(
            SettlementRecord(
                number,
                order_id[:100],
                _clean(value(row, "transaction_id"))[:100] or None,
                gross,
                fee,
                net,
                settled,
                batch[:100],
            )
        )
    return records, skipped


def _clean_money(value):
    if value is None or isinstance(value, int | float | Decimal):
        return value
    text = _clean(value)
    return text.upper().replace("IDR", "").strip()
