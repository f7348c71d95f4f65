"""Reconciliation use cases: bank statement import, automatic and manual matching, and the
Midtrans settlement report booked against the gateway clearing account.

Services flush; the boundary commits. Imports are idempotent: a bank line is stored once per
account (fingerprint), a settlement row once per order id, and the batch entry's idempotency
key is derived from the batch and its orders, so importing the same report twice books once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from kmp.errors import Conflict, DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.books.services import money_accounts
from kmp.ledger.chart import CASH, GATEWAY_CLEARING
from kmp.ledger.models import Account, JournalEntry, Posting
from kmp.ledger.reconcile.formats import (
    AMOUNT_MODES,
    BUILTIN_LAYOUTS,
    Layout,
    ParsedLine,
    StatementFormatError,
    parse_settlement_report,
    parse_statement,
)
from kmp.ledger.reconcile.models import (
    BankImport,
    BankLine,
    BankMatch,
    BankMatchLine,
    BankMatchPosting,
    GatewaySettlementImport,
    GatewaySettlementRow,
    StatementMapping,
)
from kmp.ledger.services import get_account, post_entry
from kmp.money import format_rupiah

MATCH_WINDOW_DAYS = 3
GATEWAY_FEES = "expense:gateway-fees"
SETTLEMENT_SOURCE_KIND = "gateway_settlement"


class ReconcileError(DomainError):
    code = "reconcile_error"


# --------------------------------------------------------------------------- accounts, layouts


def statement_accounts() -> list[Account]:
    """The bank accounts a statement can be imported for (not cash, not the gateway)."""
    return [a for a in money_accounts() if a.code not in (CASH, GATEWAY_CLEARING)]


def _statement_account(account_id: int) -> Account:
    account = {a.id: a for a in statement_accounts()}.get(account_id)
    if account is None:
        raise ReconcileError(_("Pilih rekening bank dari daftar."), field="account")
    return account


def _column(spec: str | None) -> tuple[str | int, ...]:
    spec = (spec or "").strip()
    if not spec:
        return ()
    return (int(spec),) if spec.isdigit() else (spec.lower(),)


def mapping_layout(mapping: StatementMapping) -> Layout:
    columns = {
        "date": _column(mapping.date_column),
        "description": tuple(
            c for part in mapping.description_column.split("+") for c in _column(part)
        ),
        "reference": _column(mapping.reference_column),
        "debit": _column(mapping.debit_column),
        "credit": _column(mapping.credit_column),
        "amount": _column(mapping.amount_column),
        "indicator": _column(mapping.indicator_column),
        "balance": _column(mapping.balance_column),
    }
    marks = tuple(m.strip().upper() for m in (mapping.credit_marks or "").split(",") if m.strip())
    return Layout(
        key=f"mapping:{mapping.id}",
        name=mapping.name,
        columns={k: v for k, v in columns.items() if v},
        amount_mode=mapping.amount_mode,
        date_formats=(mapping.date_format, mapping.date_format + " %H:%M:%S"),
        credit_marks=marks or ("CR", "C", "K"),
        header_row=mapping.header_row if mapping.header_row > 0 else -1,
        delimiter={"tab": "\t"}.get(mapping.delimiter or "", mapping.delimiter or None),
    )


@dataclass(frozen=True)
class MappingInput:
    name: str
    header_row: int
    date_column: str
    description_column: str
    amount_mode: str
    date_format: str
    reference_column: str | None = None
    debit_column: str | None = None
    credit_column: str | None = None
    amount_column: str | None = None
    indicator_column: str | None = None
    credit_marks: str = "CR,C,K"
    balance_column: str | None = None
    delimiter: str | None = None


def save_mapping(data: MappingInput, *, by_user=None) -> StatementMapping:
    name = data.name.strip()
    if not 3 <= len(name) <= 80:
        raise ReconcileError(_("Nama pemetaan 3 sampai 80 karakter."), field="name")
    if db.session.scalar(select(StatementMapping.id).where(StatementMapping.name == name)):
        raise Conflict(_("Nama pemetaan itu sudah dipakai."), field="name")
    if data.amount_mode not in AMOUNT_MODES:
        raise ReconcileError(_("Pilih cara jumlah ditulis."), field="amount_mode")
    needed = {
        "debit_credit": ("debit_column", "credit_column"),
        "indicator": ("amount_column", "indicator_column"),
        "signed": ("amount_column",),
    }[data.amount_mode]
    for name_ in ("date_column", "description_column", *needed):
        if not (getattr(data, name_) or "").strip():
            raise ReconcileError(_("Kolom ini wajib diisi."), field=name_)
    if data.header_row == 0:
        for name_ in ("date_column", "description_column", *needed):
            parts = getattr(data, name_).split("+")
            if not all(p.strip().isdigit() for p in parts):
                raise ReconcileError(
                    _("Tanpa baris judul, kolom ditulis dengan nomornya (1, 2, 3, ...)."),
                    field=name_,
                )
    fmt = data.date_format.strip()
    if "%d" not in fmt or "%m" not in fmt and "%b" not in fmt:
        raise ReconcileError(
            _("Format tanggal memerlukan %d dan %m, misalnya %d/%m/%Y."), field="date_format"
        )
    try:
        dt.datetime(2026, 1, 31).strftime(fmt)  # noqa: DTZ001 - only checks the format
    except ValueError:
        raise ReconcileError(_("Format tanggal tidak sah."), field="date_format") from None
    mapping = StatementMapping(
        name=name,
        header_row=data.header_row,
        delimiter=(data.delimiter or "").strip() or None,
        date_column=data.date_column.strip(),
        description_column=data.description_column.strip(),
        reference_column=(data.reference_column or "").strip() or None,
        amount_mode=data.amount_mode,
        debit_column=(data.debit_column or "").strip() or None,
        credit_column=(data.credit_column or "").strip() or None,
        amount_column=(data.amount_column or "").strip() or None,
        indicator_column=(data.indicator_column or "").strip() or None,
        credit_marks=(data.credit_marks or "CR,C,K").strip(),
        balance_column=(data.balance_column or "").strip() or None,
        date_format=fmt,
        created_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(mapping)
    db.session.flush()
    return mapping


def layout_for(choice: str) -> tuple[Layout, int | None]:
    """A built-in layout key (``bca``) or ``mapping:<id>``."""
    if choice in BUILTIN_LAYOUTS:
        return BUILTIN_LAYOUTS[choice], None
    if choice.startswith("mapping:") and choice[8:].isdigit():
        mapping = db.session.get(StatementMapping, int(choice[8:]))
        if mapping is not None:
            return mapping_layout(mapping), mapping.id
    raise ReconcileError(_("Pilih format mutasi dari daftar."), field="layout")


# --------------------------------------------------------------------------- bank import

_SPACES = re.compile(r"\s+")


def _fingerprints(account_id: int, lines: Sequence[ParsedLine]) -> list[str]:
    """One fingerprint per line: its content, plus its rank among identical lines of the
    same file (two equal bank fees on one day stay two lines; the same file twice adds none)."""
    seen: dict[str, int] = defaultdict(int)
    result = []
    for line in lines:
        body = "|".join(
            (
                str(account_id),
                line.line_date.isoformat(),
                str(line.amount_idr),
                "" if line.balance_idr is None else str(line.balance_idr),
                _SPACES.sub(" ", line.description.upper()).strip(),
                line.reference.upper(),
            )
        )
        seen[body] += 1
        result.append(hashlib.sha256(f"{body}|{seen[body]}".encode()).hexdigest())
    return result


@dataclass(frozen=True)
class ImportSummary:
    batch: BankImport
    skipped: int
    rounded: int


def import_bank_statement(
    account_id: int, data: bytes, filename: str, layout_choice: str, *, by_user=None
) -> ImportSummary:
    """Store a statement's lines that are not stored yet; returns the counts."""
    account = _statement_account(account_id)
    layout, mapping_id = layout_for(layout_choice)
    try:
        parsed = parse_statement(data, layout)
    except StatementFormatError as error:
        raise ReconcileError(
            _("Berkas tidak sesuai format %(name)s. %(detail)s", name=layout.name, detail=error),
            field="file",
        ) from None
    if not parsed.lines:
        raise ReconcileError(_("Tidak ada baris transaksi di berkas ini."), field="file")
    prints = _fingerprints(account.id, parsed.lines)
    existing: set[str] = set()
    for start in range(0, len(prints), 1000):
        chunk = prints[start : start + 1000]
        existing.update(
            db.session.scalars(
                select(BankLine.fingerprint).where(
                    BankLine.account_id == account.id, BankLine.fingerprint.in_(chunk)
                )
            )
        )
    batch = BankImport(
        account_id=account.id,
        layout=layout.key,
        mapping_id=mapping_id,
        filename=(filename or "mutasi")[:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        line_count=len(parsed.lines),
        new_count=0,
        duplicate_count=0,
        first_date=min(line.line_date for line in parsed.lines),
        last_date=max(line.line_date for line in parsed.lines),
        imported_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(batch)
    db.session.flush()
    fresh = []
    for line, fingerprint in zip(parsed.lines, prints, strict=True):
        if fingerprint in existing:
            batch.duplicate_count += 1
            continue
        existing.add(fingerprint)
        fresh.append(
            {
                "account_id": account.id,
                "import_id": batch.id,
                "line_date": line.line_date,
                "description": line.description,
                "reference": line.reference or None,
                "amount_idr": line.amount_idr,
                "balance_idr": line.balance_idr,
                "fingerprint": fingerprint,
            }
        )
    if fresh:
        db.session.execute(BankLine.__table__.insert(), fresh)
    batch.new_count = len(fresh)
    db.session.flush()
    return ImportSummary(batch, len(parsed.skipped), parsed.rounded)


# --------------------------------------------------------------------------- matching

_TOKEN = re.compile(r"[A-Z0-9][A-Z0-9-]{2,}")
_STOP = frozenset(
    {
        "TRSF",
        "TRANSFER",
        "E-BANKING",
        "BANKING",
        "DARI",
        "DB",
        "CR",
        "KE",
        "BIAYA",
        "ADM",
        "PEMBAYARAN",
        "SETORAN",
        "VIA",
        "KOPERASI",
    }
)


def _tokens(*texts: str | None) -> frozenset[str]:
    tokens = set()
    for text in texts:
        for token in _TOKEN.findall((text or "").upper()):
            if token not in _STOP:
                tokens.add(token)
    return frozenset(tokens)


def _text_score(a: frozenset[str], b: frozenset[str]) -> int:
    shared = a & b
    if any(any(ch.isdigit() for ch in t) and len(t) >= 5 for t in shared):
        return 2  # a reference number, member number or order id
    return 1 if any(len(t) >= 4 for t in shared) else 0


@dataclass(frozen=True)
class _Candidate:
    posting_id: int
    entry_date: dt.date
    amount_idr: int
    tokens: frozenset[str]


def _matched_line_ids(ids: Iterable[int]) -> set[int]:
    ids = list(ids)
    found: set[int] = set()
    for start in range(0, len(ids), 1000):
        found.update(
            db.session.scalars(
                select(BankMatchLine.bank_line_id).where(
                    BankMatchLine.bank_line_id.in_(ids[start : start + 1000])
                )
            )
        )
    return found


def unmatched_postings_query(account_id: int, start: dt.date | None, end: dt.date | None):
    query = (
        select(Posting, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(
            Posting.account_id == account_id,
            ~select(BankMatchPosting.id).where(BankMatchPosting.posting_id == Posting.id).exists(),
        )
    )
    if start is not None:
        query = query.where(Posting.entry_date >= start)
    if end is not None:
        query = query.where(Posting.entry_date <= end)
    return query


def unmatched_lines_query(account_id: int, start: dt.date | None, end: dt.date | None):
    query = select(BankLine).where(
        BankLine.account_id == account_id,
        ~select(BankMatchLine.id).where(BankMatchLine.bank_line_id == BankLine.id).exists(),
    )
    if start is not None:
        query = query.where(BankLine.line_date >= start)
    if end is not None:
        query = query.where(BankLine.line_date <= end)
    return query


def auto_match(
    account_id: int,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    window_days: int = MATCH_WINDOW_DAYS,
    by_user=None,
) -> int:
    """Match unmatched bank lines one to one with unmatched postings of the same amount
    dated within ``window_days``, preferring a shared reference (order id, member number,
    invoice) and then the nearest date. Entries that were reversed (and their reversals) are
    left to manual matching. Returns how many matches were made."""
    lines = list(
        db.session.scalars(unmatched_lines_query(account_id, start, end).order_by(BankLine.id))
    )
    if not lines:
        return 0
    low = min(line.line_date for line in lines) - dt.timedelta(days=window_days)
    high = max(line.line_date for line in lines) + dt.timedelta(days=window_days)
    reversed_ids = select(JournalEntry.reverses_id).where(JournalEntry.reverses_id.is_not(None))
    query = unmatched_postings_query(account_id, low, high).where(
        JournalEntry.reverses_id.is_(None), JournalEntry.id.not_in(reversed_ids)
    )
    by_amount: dict[int, list[_Candidate]] = defaultdict(list)
    for posting, entry in db.session.execute(query):
        by_amount[posting.amount_idr].append(
            _Candidate(
                posting.id,
                posting.entry_date,
                posting.amount_idr,
                _tokens(entry.description, entry.source_id, entry.idempotency_key),
            )
        )
    pairs = []
    for line in lines:
        candidates = by_amount.get(line.amount_idr)
        if not candidates:
            continue
        line_tokens = _tokens(line.description, line.reference)
        for candidate in candidates:
            days = abs((candidate.entry_date - line.line_date).days)
            if days > window_days:
                continue
            score = 40 * _text_score(line_tokens, candidate.tokens) + 10 * (window_days - days)
            pairs.append((-score, days, line.id, candidate.posting_id))
    pairs.sort()
    used_lines: set[int] = set()
    used_postings: set[int] = set()
    amounts = {line.id: line.amount_idr for line in lines}
    made = 0
    by_id = getattr(by_user, "id", by_user)
    for _score, _days, line_id, posting_id in pairs:
        if line_id in used_lines or posting_id in used_postings:
            continue
        used_lines.add(line_id)
        used_postings.add(posting_id)
        match = BankMatch(
            account_id=account_id, method="auto", total_idr=amounts[line_id], created_by_id=by_id
        )
        match.lines.append(BankMatchLine(bank_line_id=line_id))
        match.postings.append(BankMatchPosting(posting_id=posting_id))
        db.session.add(match)
        made += 1
    db.session.flush()
    return made


def match_manually(
    account_id: int,
    bank_line_ids: Sequence[int],
    posting_ids: Sequence[int],
    *,
    by_user=None,
    note: str | None = None,
) -> BankMatch:
    """Match bank lines with postings by hand (one to many or many to one: a split); the two
    sides must be unmatched, on the account, and sum to the same amount."""
    line_ids, post_ids = sorted(set(bank_line_ids)), sorted(set(posting_ids))
    if not line_ids or not post_ids:
        raise ReconcileError(
            _("Pilih paling sedikit satu baris mutasi bank dan satu posting buku besar."),
            field="selection",
        )
    lines = list(
        db.session.scalars(
            select(BankLine).where(BankLine.id.in_(line_ids), BankLine.account_id == account_id)
        )
    )
    postings = list(
        db.session.scalars(
            select(Posting).where(Posting.id.in_(post_ids), Posting.account_id == account_id)
        )
    )
    if len(lines) != len(line_ids) or len(postings) != len(post_ids):
        raise NotFound(_("Sebagian baris yang dipilih bukan milik rekening ini."))
    taken_lines = _matched_line_ids(line_ids)
    taken_postings = set(
        db.session.scalars(
            select(BankMatchPosting.posting_id).where(BankMatchPosting.posting_id.in_(post_ids))
        )
    )
    if taken_lines or taken_postings:
        raise Conflict(_("Sebagian baris yang dipilih sudah dicocokkan."), code="already_matched")
    bank_total = sum(line.amount_idr for line in lines)
    ledger_total = sum(p.amount_idr for p in postings)
    if bank_total != ledger_total:
        raise ReconcileError(
            _(
                "Jumlah tidak sama: mutasi bank %(bank)s, buku besar %(ledger)s.",
                bank=format_rupiah(bank_total),
                ledger=format_rupiah(ledger_total),
            ),
            field="selection",
        )
    match = BankMatch(
        account_id=account_id,
        method="manual",
        total_idr=bank_total,
        note=(note or "").strip() or None,
        created_by_id=getattr(by_user, "id", by_user),
    )
    match.lines.extend(BankMatchLine(bank_line_id=i) for i in line_ids)
    match.postings.extend(BankMatchPosting(posting_id=i) for i in post_ids)
    db.session.add(match)
    db.session.flush()
    return match


def unmatch(match_id: int, account_id: int) -> None:
    match = db.session.get(BankMatch, match_id)
    if match is None or match.account_id != account_id:
        raise NotFound(_("Pencocokan tidak ditemukan."))
    db.session.delete(match)
    db.session.flush()


# --------------------------------------------------------------------------- Midtrans


@dataclass
class SettlementSummary:
    batch: GatewaySettlementImport
    booked: int = 0
    already: int = 0
    problems: int = 0
    skipped: int = 0
    entries: int = 0


def _receipt_for(order_id: str) -> JournalEntry | None:
    return db.session.scalar(
        select(JournalEntry).where(JournalEntry.idempotency_key == f"midtrans:{order_id}:receipt")
    )


def _check_settlement_row(row: GatewaySettlementRow, clearing_id: int) -> None:
    receipt = _receipt_for(row.order_id)
    if receipt is None:
        row.status, row.message = (
            "unknown_order",
            _("Tidak ada pembayaran lunas dengan order id ini."),
        )
        return
    if db.session.scalar(select(JournalEntry.id).where(JournalEntry.reverses_id == receipt.id)):
        row.status, row.message = "reversed", _("Pembayaran ini sudah dibalik (refund/chargeback).")
        return
    received = sum(p.amount_idr for p in receipt.postings if p.account_id == clearing_id)
    if received != row.gross_idr:
        row.status = "amount_mismatch"
        row.message = _(
            "Gross %(gross)s berbeda dengan penerimaan %(received)s.",
            gross=format_rupiah(row.gross_idr),
            received=format_rupiah(received),
        )
        return
    row.status, row.message = "booked", None


def import_midtrans_settlement(
    data: bytes, filename: str, money_account_id: int, *, by_user=None
) -> SettlementSummary:
    """Book a Midtrans settlement report: for each settlement batch, one entry
    Dr gateway fees (fee), Dr the bank (net), Cr gateway clearing (gross) over the rows whose
    order is a settled payment in KMP with the same gross; other rows are listed, not booked
    (a later import books them once the payment is known). Idempotent per order id."""
    bank = {a.id: a for a in statement_accounts()}.get(money_account_id)
    if bank is None:
        raise ReconcileError(_("Pilih rekening bank penerima dana."), field="account")
    try:
        records, skipped = parse_settlement_report(data)
    except StatementFormatError as error:
        raise ReconcileError(str(error), field="file") from None
    if not records:
        raise ReconcileError(_("Tidak ada baris settlement di berkas ini."), field="file")
    orders = [r.order_id for r in records]
    if len(set(orders)) != len(orders):
        raise ReconcileError(_("Order id yang sama muncul dua kali di berkas ini."), field="file")
    batch = GatewaySettlementImport(
        filename=(filename or "settlement")[:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        row_count=len(records),
        booked_count=0,
        imported_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(batch)
    db.session.flush()
    summary = SettlementSummary(batch, skipped=skipped)
    clearing_id = get_account(GATEWAY_CLEARING).id
    existing = {
        r.order_id: r
        for r in db.session.scalars(
            select(GatewaySettlementRow).where(GatewaySettlementRow.order_id.in_(orders))
        )
    }
    to_book: dict[str, list[GatewaySettlementRow]] = defaultdict(list)
    for record in records:
        row = existing.get(record.order_id)
        if row is not None and row.status == "booked":
            summary.already += 1
            continue
        is_new = row is None
        if row is None:
            row = GatewaySettlementRow(order_id=record.order_id, entry_id=None)
        row.transaction_id = record.transaction_id
        row.batch_key = record.batch_key
        row.settlement_date = record.settlement_date
        row.gross_idr, row.fee_idr, row.net_idr = record.gross_idr, record.fee_idr, record.net_idr
        row.import_id = batch.id
        with db.session.no_autoflush:
            _check_settlement_row(row, clearing_id)
        if is_new:
            db.session.add(row)
        if row.status == "booked":
            row.status = "unknown_order"  # until its entry exists (CHECK booked_has_entry)
            to_book[record.batch_key].append(row)
        else:
            summary.problems += 1
    db.session.flush()
    fees_id = get_account(GATEWAY_FEES).id
    for batch_key, rows in sorted(to_book.items()):
        gross = sum(r.gross_idr for r in rows)
        fee = sum(r.fee_idr for r in rows)
        net = sum(r.net_idr for r in rows)
        digest = hashlib.sha256(",".join(sorted(r.order_id for r in rows)).encode()).hexdigest()[
            :16
        ]
        lines = [(clearing_id, -gross)]
        if net:
            lines.append((bank.id, net))
        if fee:
            lines.append((fees_id, fee))
        entry = post_entry(
            idempotency_key=f"midtrans-settlement:{batch_key}:{digest}",
            description=(
                f"Settlement Midtrans {batch_key}: {len(rows)} transaksi, gross "
                f"{format_rupiah(gross)}, biaya {format_rupiah(fee)}, diterima "
                f"{format_rupiah(net)}"
            ),
            lines=lines,
            source_kind=SETTLEMENT_SOURCE_KIND,
            source_id=batch_key,
            entry_date=max(r.settlement_date for r in rows),
            posted_by=by_user,
        )
        for row in rows:
            row.entry_id, row.status, row.message = entry.id, "booked", None
        summary.booked += len(rows)
        summary.entries += 1
    batch.booked_count = summary.booked
    db.session.flush()
    return summary
