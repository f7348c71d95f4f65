"""The ledger service: ``post_entries``/``post_entry`` are the ONLY writers of money.

Amounts are signed whole Rupiah: debit positive, credit negative; every entry sums to zero.
Services flush; the boundary (request, webhook, CLI command, job) commits or rolls back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ARRAY, any_, bindparam, event, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kmp.db import RUPIAH_BOUND
from kmp.errors import Conflict, DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.models import Account, AccountType, ClosedPeriod, JournalEntry, Posting
from kmp.timeutil import business_date, now_utc


class LedgerError(DomainError):
    code = "ledger_error"


class UnbalancedEntry(LedgerError):
    code = "unbalanced_entry"


class Overdraft(LedgerError):
    code = "insufficient_balance"
    status = 409


class ClosedAccount(LedgerError):
    code = "account_closed"
    status = 409


class PeriodClosed(LedgerError):
    code = "period_closed"
    status = 409


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


@dataclass
class EntrySpec:
    """One journal entry to post. ``lines`` are (account or account code, signed amount)."""

    idempotency_key: str
    description: str
    lines: Sequence[tuple[Account | str | int, int]]
    source_kind: str
    source_id: str | None = None
    entry_date: dt.date | None = None
    posted_by_id: int | None = None
    reverses_id: int | None = None
    _resolved: list[tuple[int, int]] = field(default_factory=list, repr=False)


def _fingerprint(lines: Iterable[tuple[int, int]]) -> str:
    """What makes two entries "the same" for an idempotent replay: their net postings."""
    merged: dict[int, int] = defaultdict(int)
    for account_id, amount in lines:
        merged[account_id] += amount
    body = ";".join(f"{a}:{v}" for a, v in sorted(merged.items()) if v)
    return hashlib.sha256(body.encode()).hexdigest()


def get_account(code: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.code == code))
    if account is None:
        raise NotFound(
            _("Akun %(code)r tidak ada di bagan akun.", code=code), code="account_not_found"
        )
    return account


def open_account(
    code: str,
    name: str,
    type_: AccountType | str,
    *,
    owner_id: int | None = None,
    no_negative: bool = False,
) -> Account:
    """Return the account with ``code``, creating it when missing (idempotent)."""
    account = db.session.scalar(select(Account).where(Account.code == code))
    if account is not None:
        return account
    type_ = AccountType(type_)
    account = Account(
        code=code,
        name=name,
        type=type_,
        normal_sign=type_.normal_sign,
        owner_id=owner_id,
        no_negative=no_negative,
        balance_idr=0,
    )
    db.session.add(account)
    db.session.flush()
    return account


def _resolve_accounts(specs: Sequence[EntrySpec]) -> None:
    codes = {a for s in specs for a, _ in s.lines if isinstance(a, str)}
    by_code: dict[str, int] = {}
    if codes:
        rows = db.session.execute(
            select(Account.code, Account.id).where(_among(Account.code, codes))
        )
        by_code = dict(rows.all())
        missing = codes - by_code.keys()
        if missing:
            raise NotFound(
                _("Akun tidak ada di bagan akun: %(missing)s.", missing=", ".join(sorted(missing))),
                code="account_not_found",
            )
    for spec in specs:
        resolved = []
        for account, amount in spec.lines:
            if isinstance(account, Account):
                account_id = account.id
            elif isinstance(account, str):
                account_id = by_code[account]
            else:
                account_id = int(account)
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise UnbalancedEntry(
                    _("Jumlah harus Rupiah bulat (int), bukan %(amount)r.", amount=amount),
                    code="amount_not_int",
                )
            resolved.append((account_id, amount))
        spec._resolved = resolved


def _validate_shape(spec: EntrySpec) -> None:
    if not spec.idempotency_key or len(spec.idempotency_key) > 200:
        raise LedgerError(
            _("Entri memerlukan kunci idempotensi (paling banyak 200 karakter)."),
            code="idempotency_key_invalid",
        )
    if len(spec._resolved) < 2:
        raise UnbalancedEntry(
            _("Entri memerlukan paling sedikit dua baris posting."), code="too_few_postings"
        )
    if any(amount == 0 for _, amount in spec._resolved):
        raise UnbalancedEntry(_("Posting sebesar Rp 0 tidak diterima."), code="zero_posting")
    if any(abs(amount) > RUPIAH_BOUND for _, amount in spec._resolved):
        raise UnbalancedEntry(
            _("Jumlah posting melebihi batas Rp 10^15."), code="amount_out_of_bounds"
        )
    total = sum(amount for _, amount in spec._resolved)
    if total != 0:
        raise UnbalancedEntry(
            _(
                "Entri %(idempotency_key)r tidak seimbang: debit dan kredit selisih %(total)s.",
                idempotency_key=spec.idempotency_key,
                total=total,
            )
        )


#: The source kind of the year-end closing entry (``kmp.ledger.closing``): the one entry that
#: may still be dated on 31 December of a year whose December is already locked as a month
#: (never once the year itself is closed). Statements of results leave it out.
YEAR_END_SOURCE_KIND = "year_end_close"
MONTHS_ID = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


_CLOSED_KEY = "kmp_closed_periods"


def closed_periods() -> set[tuple[int, int]]:
    """Every closed period as ``(fiscal_year, month)``; month 0 is the whole year.

    Read once per transaction (a payment checks its date, then the writer checks it again):
    the set is kept in ``session.info`` until the transaction ends or a flush writes a
    ``ClosedPeriod``."""
    info = db.session.info
    cached = info.get(_CLOSED_KEY)
    if cached is None:
        cached = {
            (y, m)
            for y, m in db.session.execute(select(ClosedPeriod.fiscal_year, ClosedPeriod.month))
        }
        info[_CLOSED_KEY] = cached
    return set(cached)


def _forget_closed_periods(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_CLOSED_KEY, None)


def _closed_periods_written(session, flush_context, instances) -> None:  # noqa: ARG001
    if any(
        isinstance(obj, ClosedPeriod)
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    ):
        session.info.pop(_CLOSED_KEY, None)


event.listen(Session, "after_transaction_end", _forget_closed_periods)
event.listen(Session, "before_flush", _closed_periods_written)


def closed_years() -> set[int]:
    """The fiscal years closed as a whole (month locks inside an open year not included)."""
    return {y for y, m in closed_periods() if m == 0}


def _month_label(year: int, month: int) -> str:
    from flask import has_request_context
    from flask_babel import format_date

    if has_request_context():
        return format_date(dt.date(year, month, 1), "MMMM y")
    return f"{MONTHS_ID[month - 1]} {year}"


def period_lock_message(
    day: dt.date, closed: set[tuple[int, int]] | None = None, *, source_kind: str | None = None
) -> str | None:
    """Why nothing may be dated on ``day`` (its year or its month is closed), or None."""
    closed = closed_periods() if closed is None else closed
    if (day.year, 0) in closed:
        return _(
            "Tahun buku %(year)s sudah ditutup: entri baru harus bertanggal di periode yang "
            "masih terbuka.",
            year=day.year,
        )
    year_end = source_kind == YEAR_END_SOURCE_KIND and (day.month, day.day) == (12, 31)
    if (day.year, day.month) in closed and not year_end:
        return _(
            "Bulan %(month)s sudah ditutup: entri bertanggal %(day)s ditolak. Catat entri di "
            "bulan yang masih terbuka.",
            month=_month_label(day.year, day.month),
            day=day.isoformat(),
        )
    return None


def is_period_closed(day: dt.date) -> bool:
    return period_lock_message(day) is not None


def post_entries(specs: Sequence[EntrySpec], *, lock: bool = True) -> list[JournalEntry | int]:
    """Post many entries set-based, all or nothing (inside a savepoint).

    Returns, in order, the id of each entry (new or, for a replayed idempotency key with the
    same content, the existing one). Raises ``IdempotencyConflict`` when a key was used with a
    different content, ``Overdraft`` when a no-negative account would go below zero,
    ``ClosedAccount``/``PeriodClosed`` for closed accounts or fiscal years.
    """
    if not specs:
        return []
    today = business_date()
    _resolve_accounts(specs)
    for spec in specs:
        spec.entry_date = spec.entry_date or today
        _validate_shape(spec)
    keys = [s.idempotency_key for s in specs]
    if len(set(keys)) != len(keys):
        raise IdempotencyConflict(
            _("Kunci idempotensi yang sama muncul dua kali dalam satu batch.")
        )

    existing: dict[str, tuple[int, str]] = {}
    for chunk_start in range(0, len(keys), 5000):
        chunk = keys[chunk_start : chunk_start + 5000]
        rows = db.session.execute(
            select(JournalEntry.idempotency_key, JournalEntry.id, JournalEntry.fingerprint).where(
                _among(JournalEntry.idempotency_key, chunk)
            )
        )
        existing.update({k: (i, f) for k, i, f in rows})

    results: list[int | None] = []
    fresh: list[tuple[EntrySpec, str]] = []
    for spec in specs:
        fingerprint = _fingerprint(spec._resolved)
        if spec.idempotency_key in existing:
            entry_id, stored = existing[spec.idempotency_key]
            if stored != fingerprint:
                raise IdempotencyConflict(
                    _(
                        "Kunci idempotensi %(idempotency_key)r sudah dipakai untuk entri lain "
                        "dengan isi berbeda.",
                        idempotency_key=spec.idempotency_key,
                    )
                )
            results.append(entry_id)
        else:
            results.append(None)
            fresh.append((spec, fingerprint))
    if not fresh:
        return results

    _begin_write_transaction()
    closed = closed_periods()
    if closed:
        for spec, _fp in fresh:
            message = period_lock_message(spec.entry_date, closed, source_kind=spec.source_kind)
            if message:
                raise PeriodClosed(message)

    deltas: dict[int, int] = defaultdict(int)
    for spec, _fp in fresh:
        for account_id, amount in spec._resolved:
            deltas[account_id] += amount
    account_ids = sorted(deltas)

    savepoint = db.session.begin_nested()
    try:
        accounts = _lock_accounts(account_ids, lock=lock)
        for account_id in account_ids:
            row = accounts.get(account_id)
            if row is None:
                raise NotFound(
                    _("Akun #%(account_id)s tidak ada.", account_id=account_id),
                    code="account_not_found",
                )
            code, balance, normal_sign, no_negative, is_closed = row
            if is_closed:
                raise ClosedAccount(_("Akun %(code)s sudah ditutup.", code=code))
            if no_negative and normal_sign * (balance + deltas[account_id]) < 0:
                raise Overdraft(
                    _("Saldo tidak cukup di akun %(code)s.", code=code),
                    field=code,
                )
        now = now_utc()
        entry_rows = [
            {
                "idempotency_key": spec.idempotency_key,
                "entry_date": spec.entry_date,
                "recorded_at": now,
                "description": spec.description,
                "source_kind": spec.source_kind,
                "source_id": spec.source_id,
                "posted_by_id": spec.posted_by_id,
                "reverses_id": spec.reverses_id,
                "fingerprint": fingerprint,
                "posting_count": len(spec._resolved),
            }
            for spec, fingerprint in fresh
        ]
        entries_table = JournalEntry.__table__
        new_ids = _next_entry_ids(len(entry_rows))
        if new_ids is None:
            new_ids = list(
                db.session.scalars(
                    insert(entries_table).returning(
                        entries_table.c.id, sort_by_parameter_order=True
                    ),
                    entry_rows,
                )
            )
        else:
            for row, entry_id in zip(entry_rows, new_ids, strict=True):
                row["id"] = entry_id
            db.session.execute(insert(entries_table), entry_rows)
        posting_rows = [
            {"entry_id": entry_id, "account_id": a, "amount_idr": v, "entry_date": spec.entry_date}
            for (spec, _), entry_id in zip(fresh, new_ids, strict=True)
            for a, v in spec._resolved
        ]
        _insert_postings(posting_rows)
        _apply_deltas({a: d for a, d in deltas.items() if d})
        savepoint.commit()
    except IntegrityError as error:
        savepoint.rollback()
        text = str(error.orig).lower()
        if "_bounded" in text:
            raise LedgerError(
                _("Saldo akun akan melebihi batas Rp 10^15: transaksi ditolak."),
                code="amount_out_of_bounds",
            ) from error
        if "no_negative_balance" in text:
            # The database's CHECK is the last line of defence against a concurrent overdraft.
            raise Overdraft(_("Saldo tidak cukup: transaksi ditolak.")) from error
        if "idempotency_key" in text or "reverses_id" in text or "unique" in text:
            raise IdempotencyConflict(
                _(
                    "Entri dengan kunci idempotensi yang sama baru saja dicatat bersamaan; "
                    "coba lagi."
                )
            ) from error
        raise
    except BaseException:
        savepoint.rollback()
        raise
    # Maintained balances changed behind the ORM's back: refresh any loaded Account.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Account) and obj.id in deltas:
            db.session.expire(obj, ["balance_idr"])
    iterator = iter(new_ids)
    return [r if r is not None else next(iterator) for r in results]


_SQLITE_POSTINGS_PER_STATEMENT = 500


def _insert_postings(rows: list[dict]) -> None:
    """Write the postings. SQLite: multi-row ``INSERT ... VALUES (...), (...)`` of 500 rows,
    because the journal's triggers make every statement open a statement journal, which an
    ``executemany`` would pay once per row. PostgreSQL: the pipelined executemany."""
    if _is_postgresql():
        db.session.execute(insert(Posting.__table__), rows)
        return
    connection = db.session.connection()
    head = "INSERT INTO postings (entry_id, account_id, amount_idr, entry_date) VALUES "
    size = _SQLITE_POSTINGS_PER_STATEMENT
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        params: list = []
        for row in chunk:
            params += (row["entry_id"], row["account_id"], row["amount_idr"])
            params.append(row["entry_date"].isoformat())
        connection.exec_driver_sql(head + ",".join(["(?, ?, ?, ?)"] * len(chunk)), tuple(params))


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _among(column, values):
    """``column IN (values)`` that stays cheap for thousands of values: on PostgreSQL one array
    parameter (``= ANY(%(param)s)``), so the statement text is short and constant and psycopg
    caches and prepares it instead of re-parsing thousands of placeholders on every call."""
    values = list(values)
    if _is_postgresql():
        return column == any_(literal(values, ARRAY(column.type)))
    return column.in_(values)


_PG_APPLY_DELTAS = text(
    "UPDATE accounts SET balance_idr = accounts.balance_idr + d.delta "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[])) AS d(aid, delta) "
    "WHERE accounts.id = d.aid"
)


def _apply_deltas(deltas: dict[int, int]) -> None:
    """Add each account's delta to its maintained balance. PostgreSQL: ONE ``UPDATE ... FROM
    unnest(ids, deltas)`` (the rows are already locked in id order by ``_lock_accounts``), so
    an entry touching 100,000 members' accounts is one statement, not 100,000. Elsewhere an
    ``executemany`` (SQLite runs in process: no round trips to save)."""
    if not deltas:
        return
    if _is_postgresql():
        db.session.execute(_PG_APPLY_DELTAS, {"ids": list(deltas), "deltas": list(deltas.values())})
        return
    accounts_table = Account.__table__
    db.session.execute(
        update(accounts_table)
        .where(accounts_table.c.id == bindparam("aid"))
        .values(balance_idr=accounts_table.c.balance_idr + bindparam("delta")),
        [{"aid": a, "delta": d} for a, d in deltas.items()],
    )


def _next_entry_ids(count: int) -> list[int] | None:
    """PostgreSQL: reserve ``count`` journal entry ids in one round trip, so the entries go in
    with a plain (pipelined, prepared) executemany instead of a multi-VALUES ``INSERT ...
    RETURNING`` whose placeholders psycopg re-parses on every page. ``None`` elsewhere."""
    if not _is_postgresql():
        return None
    return sorted(
        db.session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": count},
        )
    )


def _begin_write_transaction() -> None:
    """Make sure a real transaction is open before the savepoint (SQLite only).

    pysqlite (Python < 3.12) only sends BEGIN before an INSERT/UPDATE/DELETE. A SAVEPOINT sent
    outside a transaction *starts* one, and its RELEASE then commits everything: the entry would
    survive the caller's rollback. So when no transaction is open yet we open one ourselves,
    IMMEDIATE so that the balance check below runs under SQLite's single writer lock. A no-op
    when the engine already begins transactions explicitly, and on PostgreSQL.
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_accounts(account_ids: list[int], *, lock: bool) -> dict[int, tuple]:
    rows: dict[int, tuple] = {}
    for start in range(0, len(account_ids), 5000):
        chunk = account_ids[start : start + 5000]
        query = (
            select(
                Account.id,
                Account.code,
                Account.balance_idr,
                Account.normal_sign,
                Account.no_negative,
                Account.is_closed,
            )
            .where(_among(Account.id, chunk))
            .order_by(Account.id)
        )
        if lock and db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        rows.update({r[0]: tuple(r[1:]) for r in db.session.execute(query)})
    return rows


def post_entry(
    *,
    idempotency_key: str,
    description: str,
    lines: Sequence[tuple[Account | str | int, int]],
    source_kind: str,
    source_id: str | int | None = None,
    entry_date: dt.date | None = None,
    posted_by=None,
    reverses_id: int | None = None,
) -> JournalEntry:
    """Post one balanced entry (see ``post_entries``) and return it."""
    spec = EntrySpec(
        idempotency_key=idempotency_key,
        description=description,
        lines=lines,
        source_kind=source_kind,
        source_id=None if source_id is None else str(source_id),
        entry_date=entry_date,
        posted_by_id=getattr(posted_by, "id", posted_by),
        reverses_id=reverses_id,
    )
    return db.session.get(JournalEntry, post_entry_id(spec))


def post_entry_id(spec: EntrySpec) -> int:
    """Post one balanced entry (see ``post_entries``) and return its id only: for callers
    that keep the id, so the entry and its postings are not read back."""
    (entry_id,) = post_entries([spec])
    return entry_id


def reverse_entry(
    entry: JournalEntry, reason: str, *, posted_by=None, entry_date: dt.date | None = None
) -> JournalEntry:
    """Post the mirror of ``entry`` (in the open period); an entry is reversed at most once."""
    if not reason or not reason.strip():
        raise LedgerError(_("Alasan pembatalan wajib diisi."), code="reason_required")
    if entry.reverses_id is not None:
        raise LedgerError(
            _("Entri pembalik tidak dapat dibalik lagi."), code="reversal_of_reversal"
        )
    already = db.session.scalar(select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id))
    if already is not None:
        raise Conflict(
            _(
                "Entri #%(id)s sudah dibatalkan oleh entri #%(already)s.",
                id=entry.id,
                already=already,
            ),
            code="already_reversed",
        )
    return post_entry(
        idempotency_key=f"reversal:{entry.id}",
        description=f"Pembalikan #{entry.id}: {reason.strip()}",
        lines=[(p.account_id, -p.amount_idr) for p in entry.postings],
        source_kind="reversal",
        source_id=str(entry.id),
        entry_date=entry_date,
        posted_by=posted_by,
        reverses_id=entry.id,
    )


def close_period(fiscal_year: int, *, by_user=None, note: str | None = None) -> ClosedPeriod:
    """Lock a whole fiscal year (the year-end close in ``kmp.ledger.closing`` calls this after
    booking the year's result into SHU)."""
    if db.session.scalar(
        select(ClosedPeriod).where(ClosedPeriod.fiscal_year == fiscal_year, ClosedPeriod.month == 0)
    ):
        raise Conflict(
            _("Tahun buku %(fiscal_year)s sudah ditutup.", fiscal_year=fiscal_year),
            code="already_closed",
        )
    if fiscal_year >= business_date().year:
        raise LedgerError(
            _(
                "Tahun buku %(fiscal_year)s belum berakhir: tutup buku hanya untuk "
                "tahun yang sudah lewat.",
                fiscal_year=fiscal_year,
            ),
            code="period_not_over",
        )
    period = ClosedPeriod(
        fiscal_year=fiscal_year, closed_by_id=getattr(by_user, "id", None), note=note
    )
    db.session.add(period)
    db.session.flush()
    return period


def close_month(
    year: int, month: int, *, by_user=None, note: str | None = None
) -> list[ClosedPeriod]:
    """Lock the months of ``year`` up to and including ``month`` (a month that has ended; the
    earlier months still open are locked with it, so a locked month never has an open month
    before it in the same year). Returns the new locks; refuses when nothing is left to lock."""
    if not 1 <= month <= 12:
        raise LedgerError(_("Bulan harus 1 sampai 12."), code="month_invalid")
    last_day = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    if last_day >= business_date():
        raise LedgerError(
            _(
                "Bulan %(month)s belum berakhir: tutup buku bulanan hanya untuk bulan yang "
                "sudah lewat.",
                month=_month_label(year, month),
            ),
            code="period_not_over",
        )
    closed = closed_periods()
    if (year, 0) in closed:
        raise Conflict(_("Tahun buku %(year)s sudah ditutup.", year=year), code="already_closed")
    if (year, month) in closed:
        raise Conflict(
            _("Bulan %(month)s sudah ditutup.", month=_month_label(year, month)),
            code="already_closed",
        )
    by_id = getattr(by_user, "id", by_user)
    locks = [
        ClosedPeriod(fiscal_year=year, month=m, closed_by_id=by_id, note=note)
        for m in range(1, month + 1)
        if (year, m) not in closed
    ]
    db.session.add_all(locks)
    db.session.flush()
    return locks
