"""Import members from a spreadsheet (CSV): all-or-nothing, set-based, with a per-row report.

Columns: ``member_no`` (optional), ``full_name``, ``nik``, ``phone``, ``email``, ``group``,
``joined_date``, ``platform``, ``platform_worker_id``, ``opening_pokok_idr``,
``opening_wajib_idr``, ``opening_sukarela_idr``, ``opening_date`` (default: the import date).
Row numbers in the report are spreadsheet rows: the header is row 1, the first member row 2.

Imported members are active from ``joined_date``; a member number in the file is kept (and the
number counter is moved past it), otherwise one is assigned for the year of ``joined_date``.
Opening balances are one ledger entry per member on ``opening_date``:
``equity:opening-balance`` +total / the member's pokok, wajib and sukarela accounts -each.

Membership is active only with the simpanan pokok fully paid (domain decision 3). A row whose
``opening_pokok_idr`` is below the group's AD pokok is imported as *approved*: no member
number yet, what it paid booked as an applicant's pokok deposit
(``liability:applicant-principal:A<id>``, as ``members.register.admission`` describes), the
remainder owed; paying the remainder admits the member with a new number. The result lists
each such row (``ImportResult.pending``). Such a row may not carry opening wajib or sukarela
(there is no member account to book them to yet): it is refused with a message.

Speed: rows are validated in Python; duplicates are checked against the database with chunked
``IN`` queries; members, accounts and events are written with multi-row INSERTs and the
entries with ``post_entries`` in batches — never one ORM object per row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import insert, select

from kmp.auth import User, normalise_phone
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account, AccountType, ClosedPeriod
from kmp.ledger.services import EntrySpec, get_account, post_entries
from kmp.money import MoneyError, format_rupiah, parse_rupiah
from kmp.timeutil import business_date, now_utc
from members.ad.config import ADConfig
from members.ad.services import OPENING_BALANCE, current_ad
from members.register.admission import APPLICANT_PRINCIPAL_PREFIX
from members.register.identity import (
    LEGACY_MEMBER_NO_RE,
    IdentityError,
    format_member_no,
    parse_nik,
    split_member_no,
)
from members.register.models import Member, MemberEvent, MemberKind
from members.register.services import PLATFORMS, raise_counter, reserve_numbers
from members.register.states import MemberStatus

COLUMNS = (
    "member_no",
    "full_name",
    "nik",
    "phone",
    "email",
    "group",
    "joined_date",
    "platform",
    "platform_worker_id",
    "opening_pokok_idr",
    "opening_wajib_idr",
    "opening_sukarela_idr",
    "opening_date",
)
REQUIRED_COLUMNS = ("full_name", "nik", "phone", "group", "joined_date")
MAX_ROWS = 200_000
CHUNK = 5_000
ENTRY_BATCH = 2_000
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_DMY_RE = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})\Z")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"baris {self.row}, kolom {self.column}: {self.reason}"


@dataclass
class ImportRow:
    row: int
    member_no: str | None
    full_name: str
    nik: str
    birth_date: dt.date
    phone: str
    email: str | None
    group: str
    joined_date: dt.date
    platform: str | None
    worker_id: str | None
    pokok: int
    wajib: int
    sukarela: int
    opening_date: dt.date


@dataclass(frozen=True)
class PendingRow:
    """A row imported as approved, not active: its simpanan pokok is not fully paid."""

    row: int
    full_name: str
    paid_idr: int
    required_idr: int
    legacy_member_no: str | None = None

    @property
    def remaining_idr(self) -> int:
        return max(self.required_idr - self.paid_idr, 0)

    def __str__(self) -> str:
        text = _(
            "baris %(row)s (%(name)s): simpanan pokok %(paid)s dari %(required)s; diimpor "
            "sebagai 'disetujui' (belum aktif, belum bernomor anggota), sisa %(left)s harus "
            "dibayar agar menjadi anggota aktif",
            row=self.row,
            name=self.full_name,
            paid=format_rupiah(self.paid_idr),
            required=format_rupiah(self.required_idr),
            left=format_rupiah(self.remaining_idr),
        )
        if self.legacy_member_no:
            text += _(" (nomor lama %(no)s dicatat di riwayatnya)", no=self.legacy_member_no)
        return text


@dataclass
class ImportResult:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    imported: int = 0
    #: Rows imported as approved (pokok not fully paid), with the remainder owed.
    pending: list[PendingRow] = field(default_factory=list)
    dry_run: bool = False
    entries: int = 0
    total_opening_idr: int = 0
    #: Invitations to claim a login queued (members with a number and a phone or e-mail).
    invited: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse_date(text: str) -> dt.date:
    text = text.strip()
    match = _DMY_RE.match(text)
    if match:
        return dt.date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    return dt.date.fromisoformat(text)


def _parse_amount(text: str) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    return parse_rupiah(text)


def read_csv(data: bytes | str) -> tuple[list[str], list[dict[str, str]]]:
    """Decode (UTF-8 with or without BOM, else Latin-1), sniff , or ; and return rows."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = headers
    return headers, list(reader)


def validate_rows(
    headers: list[str], raw_rows: Iterable[dict[str, str]], ad: ADConfig, today: dt.date
) -> tuple[list[ImportRow], list[RowError]]:
    """Pure validation of every row (no database): formats, groups, in-file duplicates."""
    errors: list[RowError] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    unknown = [c for c in headers if c and c not in COLUMNS]
    for column in missing:
        errors.append(RowError(1, column, _("kolom wajib tidak ada di baris judul")))
    for column in unknown:
        errors.append(RowError(1, column, _("kolom tidak dikenal")))
    if errors:
        return [], errors
    rows: list[ImportRow] = []
    seen: dict[str, dict] = {"nik": {}, "phone": {}, "worker": {}, "member_no": {}}
    for index, raw in enumerate(raw_rows):
        number = index + 2
        if index >= MAX_ROWS:
            errors.append(
                RowError(number, "-", _("paling banyak %(n)s baris per impor", n=MAX_ROWS))
            )
            break

        def get(name: str, _raw=raw) -> str:
            return (_raw.get(name) or "").strip()

        if not any(get(c) for c in headers):
            continue  # blank line
        row_errors: list[RowError] = []

        def bad(column: str, reason: str, _errors=row_errors, _n=number) -> None:
            _errors.append(RowError(_n, column, reason))

        full_name = get("full_name")
        if not full_name:
            bad("full_name", _("nama lengkap wajib diisi"))
        elif len(full_name) > 200:
            bad("full_name", _("nama terlalu panjang (maks. 200 huruf)"))
        group = ad.get_group(get("group").lower())
        if group is None:
            bad("group", _("kelompok '%(group)s' tidak dikenal", group=get("group")))
        elif group.is_company:
            bad("group", _("impor hanya untuk anggota perorangan, bukan perusahaan"))
        nik_info = None
        try:
            nik_info = parse_nik(get("nik"), today)
        except IdentityError as error:
            bad("nik", error.message.rstrip("."))
        phone = None
        try:
            phone = normalise_phone(get("phone"))
        except ValueError:
            bad("phone", _("nomor HP tidak valid"))
        email = get("email").lower() or None
        if email and not _EMAIL_RE.match(email):
            bad("email", _("alamat email tidak valid"))
        joined = None
        try:
            joined = _parse_date(get("joined_date"))
            if joined > today:
                bad("joined_date", _("tanggal masuk di masa depan"))
        except ValueError:
            bad("joined_date", _("tanggal tidak valid (pakai YYYY-MM-DD atau DD/MM/YYYY)"))
        opening = today
        if get("opening_date"):
            try:
                opening = _parse_date(get("opening_date"))
                if opening > today:
                    bad("opening_date", _("tanggal saldo awal di masa depan"))
            except ValueError:
                bad("opening_date", _("tanggal tidak valid (pakai YYYY-MM-DD atau DD/MM/YYYY)"))
        if joined and opening and opening < joined and get("opening_date"):
            bad("opening_date", _("tanggal saldo awal sebelum tanggal masuk"))
        platform = get("platform").lower() or None
        worker = get("platform_worker_id").upper() or None
        if platform is not None and platform not in PLATFORMS:
            bad(
                "platform",
                _(
                    "platform '%(platform)s' tidak dikenal (pilih: %(choices)s)",
                    platform=get("platform"),
                    choices=", ".join(PLATFORMS),
                ),
            )
        if group is not None and group.requires_platform_id:
            if platform is None:
                bad("platform", _("wajib diisi untuk kelompok ini"))
            if worker is None:
                bad("platform_worker_id", _("wajib diisi untuk kelompok ini"))
        if worker is not None and platform is None and not (group and group.requires_platform_id):
            bad("platform", _("wajib diisi bila ID mitra diisi"))
        amounts = {}
        for column in ("opening_pokok_idr", "opening_wajib_idr", "opening_sukarela_idr"):
            try:
                amounts[column] = _parse_amount(get(column))
            except MoneyError:
                bad(column, _("jumlah harus angka Rupiah utuh, tidak negatif (mis. 100000)"))
                amounts[column] = 0
        if (
            group is not None
            and amounts["opening_pokok_idr"] < group.pokok_idr
            and (amounts["opening_wajib_idr"] or amounts["opening_sukarela_idr"])
        ):
            bad(
                "opening_pokok_idr",
                _(
                    "simpanan pokok belum lunas (%(paid)s dari %(required)s): anggota ini "
                    "diimpor sebagai 'disetujui' tanpa rekening wajib/sukarela, jadi saldo awal "
                    "wajib dan sukarela harus kosong. Lengkapi pokoknya atau kosongkan kolom itu",
                    paid=format_rupiah(amounts["opening_pokok_idr"]),
                    required=format_rupiah(group.pokok_idr),
                ),
            )
        member_no = get("member_no") or None
        if member_no is not None and not LEGACY_MEMBER_NO_RE.match(member_no):
            bad("member_no", _("nomor anggota hanya boleh huruf, angka, '-', '/', '.' (maks. 40)"))
        keys = {
            "nik": nik_info.nik if nik_info else None,
            "phone": phone,
            "worker": f"{platform}|{worker}" if platform and worker else None,
            "member_no": member_no,
        }
        column_of = {
            "nik": "nik",
            "phone": "phone",
            "worker": "platform_worker_id",
            "member_no": "member_no",
        }
        for kind, key in keys.items():
            if key is None:
                continue
            if key in seen[kind]:
                bad(column_of[kind], _("sama dengan baris %(seen)s", seen=seen[kind][key]))
            else:
                seen[kind][key] = number
        if row_errors:
            errors.extend(row_errors)
            continue
        rows.append(
            ImportRow(
                number,
                member_no,
                full_name,
                nik_info.nik,
                nik_info.birth_date,
                phone,
                email,
                group.code,
                joined,
                platform,
                worker,
                amounts["opening_pokok_idr"],
                amounts["opening_wajib_idr"],
                amounts["opening_sukarela_idr"],
                opening,
            )
        )
    return rows, errors


def _existing(column, values: list) -> set:
    found = set()
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        found.update(db.session.scalars(select(column).where(column.in_(chunk))))
    return found


def _ids_by(key_column, id_column, keys: list) -> dict:
    found: dict = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        rows = db.session.execute(select(key_column, id_column).where(key_column.in_(chunk)))
        for key, ident in rows:
            found[key] = ident
    return found


def _check_database(rows: list[ImportRow], errors: list[RowError]) -> None:
    """Duplicates against what is already stored (chunked IN queries, no per-row query)."""
    niks = _existing(Member.nik, [r.nik for r in rows])
    phones = _existing(Member.phone, [r.phone for r in rows]) | _existing(
        User.phone, [r.phone for r in rows]
    )
    numbers = _existing(Member.member_no, [r.member_no for r in rows if r.member_no])
    workers: set[tuple[str, str]] = set()
    by_platform: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.platform and r.worker_id:
            by_platform[r.platform].append(r.worker_id)
    for platform, ids in by_platform.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            workers.update(
                db.session.execute(
                    select(Member.platform, Member.platform_worker_id).where(
                        Member.platform == platform, Member.platform_worker_id.in_(chunk)
                    )
                ).tuples()
            )
    closed = set(db.session.scalars(select(ClosedPeriod.fiscal_year)))
    for r in rows:
        if r.nik in niks:
            errors.append(RowError(r.row, "nik", _("NIK sudah terdaftar di koperasi")))
        if r.phone in phones:
            errors.append(RowError(r.row, "phone", _("nomor HP sudah terdaftar")))
        if r.member_no and r.member_no in numbers:
            errors.append(RowError(r.row, "member_no", _("nomor anggota sudah dipakai")))
        if r.platform and (r.platform, r.worker_id) in workers:
            errors.append(
                RowError(
                    r.row,
                    "platform_worker_id",
                    _("ID mitra sudah terdaftar atas nama anggota lain"),
                )
            )
        if (r.pokok or r.wajib or r.sukarela) and r.opening_date.year in closed:
            errors.append(
                RowError(
                    r.row,
                    "opening_date",
                    _("tahun buku %(year)s sudah ditutup", year=r.opening_date.year),
                )
            )


def import_members(
    data: bytes | str, *, by_user=None, dry_run: bool = False, ad: ADConfig | None = None
) -> ImportResult:
    """Validate everything; write nothing when any row is wrong (or on ``dry_run``)."""
    ad = ad or current_ad()
    today = business_date()
    headers, raw_rows = read_csv(data)
    rows, errors = validate_rows(headers, raw_rows, ad, today)
    if not errors:
        _check_database(rows, errors)
    result = ImportResult(
        rows=len(raw_rows),
        dry_run=dry_run,
        errors=sorted(
            errors, key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else -1)
        ),
    )
    result.total_opening_idr = sum(r.pokok + r.wajib + r.sukarela for r in rows)
    result.pending = [
        PendingRow(r.row, r.full_name, r.pokok, ad.group(r.group).pokok_idr, r.member_no)
        for r in rows
        if not errors and _pokok_short(r, ad)
    ]
    if errors or dry_run:
        return result
    if not rows:
        result.errors.append(RowError(2, "-", _("berkas tidak berisi data anggota")))
        return result
    _write(rows, ad, by_user, result)
    return result


def _pokok_short(r: ImportRow, ad: ADConfig) -> bool:
    return r.pokok < ad.group(r.group).pokok_idr


def _write(rows: list[ImportRow], ad: ADConfig, by_user, result: ImportResult) -> None:
    user_id = getattr(by_user, "id", by_user)
    short = {p.row for p in result.pending}
    legacy_no: dict[int, str | None] = {}
    for r in rows:
        if r.row in short:
            legacy_no[r.row], r.member_no = r.member_no, None
    active = [r for r in rows if r.row not in short]
    # 1. member numbers: keep the given ones, move counters past them, reserve the rest
    given_max: dict[tuple[str, int], int] = {}
    for r in active:
        parts = split_member_no(r.member_no) if r.member_no else None
        if parts:
            key = (parts[0], parts[1])
            given_max[key] = max(given_max.get(key, 0), parts[2])
    for (prefix, year), seq in sorted(given_max.items()):
        raise_counter(prefix, year, seq)
    need: dict[tuple[str, int], list[ImportRow]] = defaultdict(list)
    for r in active:
        if not r.member_no:
            need[(ad.group(r.group).member_no_prefix, r.joined_date.year)].append(r)
    for (prefix, year), group_rows in sorted(need.items()):
        first = reserve_numbers(prefix, year, len(group_rows))
        for offset, r in enumerate(group_rows):
            r.member_no = format_member_no(prefix, year, first + offset)

    # 2. members
    now = now_utc()
    member_rows = [
        {
            "member_no": r.member_no,
            "group_code": r.group,
            "kind": MemberKind.INDIVIDUAL.value,
            "status": (MemberStatus.APPROVED if r.row in short else MemberStatus.ACTIVE).value,
            "full_name": r.full_name,
            "nik": r.nik,
            "birth_date": r.birth_date,
            "phone": r.phone,
            "email": r.email,
            "platform": r.platform,
            "platform_worker_id": r.worker_id,
            "is_extraordinary": ad.group(r.group).is_extraordinary,
            "applied_at": now,
            "approved_at": now,
            "approved_by_id": user_id,
            "activated_at": None if r.row in short else now,
            "status_changed_at": now,
            "joined_date": None if r.row in short else r.joined_date,
            "ad_version_id": ad.version_id,
            "is_imported": True,
        }
        for r in rows
    ]
    # Plain multi-row INSERTs (no RETURNING: on PostgreSQL an executemany is pipelined with one
    # prepared statement, far faster than huge VALUES lists), then the ids by unique key.
    table = Member.__table__
    for start in range(0, len(member_rows), CHUNK):
        db.session.execute(insert(table), member_rows[start : start + CHUNK])
    id_of = _ids_by(table.c.nik, table.c.id, [r.nik for r in rows])
    member_ids = [id_of[r.nik] for r in rows]
    db.session.execute(
        insert(MemberEvent.__table__),
        [
            {
                "member_id": mid,
                "at": now,
                "by_user_id": user_id,
                "action": "imported",
                "from_status": None,
                "to_status": (
                    MemberStatus.APPROVED if r.row in short else MemberStatus.ACTIVE
                ).value,
                "note": _import_note(r, ad, legacy_no.get(r.row))
                if r.row in short
                else (f"Diimpor dari berkas (baris {r.row})"),
            }
            for mid, r in zip(member_ids, rows, strict=True)
        ],
    )

    # 3. accounts, exactly as kmp.ledger.chart.open_member_accounts names them
    kinds = list(MEMBER_ACCOUNTS.items())
    account_rows = [
        {
            "code": f"{prefix}:{r.member_no}",
            "name": f"{name} {r.member_no}",
            "type": AccountType(type_).value,
            "normal_sign": AccountType(type_).normal_sign,
            "owner_id": mid,
            "no_negative": True,
            "is_closed": False,
            "balance_idr": 0,
            "created_at": now,
        }
        for mid, r in zip(member_ids, rows, strict=True)
        if r.row not in short
        for _kind, (prefix, name, type_) in kinds
    ] + [
        {
            "code": f"{APPLICANT_PRINCIPAL_PREFIX}:A{mid}",
            "name": f"Titipan simpanan pokok pendaftar #{mid}",
            "type": AccountType.LIABILITY.value,
            "normal_sign": AccountType.LIABILITY.normal_sign,
            "owner_id": mid,
            "no_negative": True,
            "is_closed": False,
            "balance_idr": 0,
            "created_at": now,
        }
        for mid, r in zip(member_ids, rows, strict=True)
        if r.row in short and r.pokok
    ]
    accounts = Account.__table__
    for start in range(0, len(account_rows), CHUNK):
        db.session.execute(insert(accounts), account_rows[start : start + CHUNK])
    account_of = _ids_by(accounts.c.code, accounts.c.id, [a["code"] for a in account_rows])

    # 4. opening balances, one entry per member, posted in batches
    opening_id = get_account(OPENING_BALANCE).id
    specs: list[EntrySpec] = []
    for mid, r in zip(member_ids, rows, strict=True):
        if r.row in short:  # what was paid is an applicant's deposit until the pokok is full
            code_of = {"pokok": f"{APPLICANT_PRINCIPAL_PREFIX}:A{mid}"}
        else:
            code_of = {kind: f"{prefix}:{r.member_no}" for kind, (prefix, _n, _t) in kinds}
        lines = [
            (account_of[code_of[kind]], -amount)
            for kind, amount in (("pokok", r.pokok), ("wajib", r.wajib), ("sukarela", r.sukarela))
            if amount
        ]
        if not lines:
            continue
        total = r.pokok + r.wajib + r.sukarela
        specs.append(
            EntrySpec(
                idempotency_key=f"opening-balance:member:{mid}",
                description=f"Saldo awal simpanan {r.member_no or f'pendaftar #{mid}'} (impor)",
                lines=[(opening_id, total), *lines],
                source_kind="member_import",
                source_id=str(mid),
                entry_date=r.opening_date,
                posted_by_id=user_id,
            )
        )
    for start in range(0, len(specs), ENTRY_BATCH):
        post_entries(specs[start : start + ENTRY_BATCH])
    result.entries = len(specs)
    result.imported = len(rows)
    # 5. an invitation to claim a login ("Aktifkan akun") to every imported member
    from members.register.claim import invite_members

    result.invited = invite_members(member_ids)
    db.session.flush()


def _import_note(r: ImportRow, ad: ADConfig, legacy_no: str | None) -> str:
    required = ad.group(r.group).pokok_idr
    note = _(
        "Diimpor dari berkas (baris %(row)s) sebagai 'disetujui': simpanan pokok %(paid)s dari "
        "%(required)s, sisa %(left)s; tanggal masuk lama %(joined)s",
        row=r.row,
        paid=format_rupiah(r.pokok),
        required=format_rupiah(required),
        left=format_rupiah(required - r.pokok),
        joined=r.joined_date.isoformat(),
    )
    if legacy_no:
        note += _("; nomor anggota lama %(no)s", no=legacy_no)
    return note
