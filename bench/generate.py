"""A synthetic cooperative, loaded set-based: ``python -m bench.generate --members N --months M
--db URL``.

Shapes (issue 9): about 70 % pengemudi, 20 % kurir, 9.9 % pengguna, 0.1 % platform; most members
joined before the window, the rest during it; simpanan pokok on joining, simpanan wajib monthly;
some arrears (trailing unpaid months) and some exits (pokok + wajib refunded); a skewed
(Pareto) patronage weight per member for the SHU / patronage benchmarks.

How it stays fast at 1,000,000 members: Python only computes one plan row per member (the
random draws and the idempotency fingerprints) and writes it with one executemany per chunk
into a TEMPORARY staging table; every real row (users, roles, accounts, journal entries,
postings) is then produced by a handful of ``INSERT ... SELECT`` statements from that table
crossed with a small months table, with ids computed arithmetically (no per-member ORM
object, no per-row round trip). Maintained balances are set in one ``UPDATE ... FROM`` over the
postings just written, so ``kmp ledger-check`` passes on the result.

This is a data loader for benchmarks: it writes historical ledger rows directly instead of
calling ``post_entries`` (which is what the ledger_posting benchmark measures). The rows are the
ones ``post_entries`` would write (same keys, fingerprints, dates and maintained balances).

Members rows (``insert_member_rows``) and, when their tables exist, patronage records
(``insert_patronage_rows``) and any step another benchmark registers (``register_step``, e.g.
wajib obligations) are written the same way, from the staging plan.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from werkzeug.security import generate_password_hash

from kmp.auth import PASSWORD_METHOD, Role, User, UserRole
from kmp.db import UTCDateTime
from kmp.ledger.chart import CASH, MEMBER_ACCOUNTS
from kmp.ledger.models import (
    Account,
    AccountType,
    JournalEntry,
    Posting,
    journal_guards_suspended,
)
from kmp.ledger.services import _fingerprint
from kmp.timeutil import add_months, business_date, month_key, now_utc

#: Member groups (KPA) with their share in per-mille and savings amounts (domain.md defaults).
GROUPS = (
    ("pengemudi", 700, 100_000, 25_000),
    ("kurir", 200, 100_000, 25_000),
    ("pengguna", 99, 100_000, 25_000),
    ("platform", 1, 10_000_000, 1_000_000),
)
#: Account kinds in id order: a member's accounts are ``account_base + KIND_OFFSET[kind]``.
KIND_ORDER = ("pokok", "wajib", "sukarela", "shu")
KIND_OFFSET = {kind: i for i, kind in enumerate(KIND_ORDER)}
JOINED_BEFORE_WINDOW = 0.75  # share of members who joined before the first generated month
ARREARS_SHARE = 0.08  # share with 1..6 trailing unpaid months of wajib
EXIT_SHARE = 0.03  # share who leave during the window (pokok + wajib refunded)
BENCH_PASSWORD = "kmp-bench-password"  # every generated login; benchmarks only
CHUNK = 20_000
PLATFORM_CODES = ("gojek", "grab", "maxim", "shopee", "lalamove", "indrive")

_plan_md = MetaData()
PLAN = Table(
    "bench_member_plan",
    _plan_md,
    Column("member_id", Integer, primary_key=True),
    Column("member_no", String(20)),
    Column("grp", String(16)),
    Column("user_id", Integer),
    Column("phone", String(20)),
    Column("account_base", Integer),
    Column("joined_idx", Integer),
    Column("last_paid_idx", Integer),  # last month index with wajib paid (< joined_idx: none)
    Column("exit_idx", Integer),  # NULL: still a member
    Column("pokok_idr", BigInteger),
    Column("wajib_idr", BigInteger),
    Column("refund_wajib_idr", BigInteger),  # wajib refunded on exit (paid months x wajib)
    Column("patronage_weight", BigInteger),
    Column("fp_pokok", String(64)),
    Column("fp_wajib", String(64)),
    Column("fp_exit", String(64)),
    Column("nik", String(16)),  # NULL for platform companies
    Column("nib", String(13)),  # platform companies only
    Column("birth_date", Date),
    Column("platform", String(40)),
    Column("worker_id", String(60)),
    prefixes=["TEMPORARY"],
)
MONTHS = Table(
    "bench_months",
    _plan_md,
    Column("idx", Integer, primary_key=True),
    Column("month_key", String(7)),
    Column("pokok_date", Date),
    Column("wajib_date", Date),
    Column("exit_date", Date),
    prefixes=["TEMPORARY"],
)


#: Member number prefixes of the default AD's groups (``DRV-2025-0000123``: the real shape,
#: ``members.identity.MEMBER_NO_RE``, with 7 digits so it never meets the importer's 6).
PREFIXES = {"pengemudi": "DRV", "kurir": "KUR", "pengguna": "PGN", "platform": "PLT"}
NUMBER_YEAR = 2025


def member_no(member_id: int, group: str = "pengemudi") -> str:
    return f"{PREFIXES[group]}-{NUMBER_YEAR}-{member_id:07d}"


def member_account_rows(member_id: int, number: str, *, account_base: int | None, now) -> list:
    """The four rows ``kmp.ledger.chart.open_member_accounts`` would create, as dicts."""
    rows = []
    for kind in KIND_ORDER:
        prefix, name, type_ = MEMBER_ACCOUNTS[kind]
        row = {
            "code": f"{prefix}:{number}",
            "name": f"{name} {number}",
            "type": type_,
            "normal_sign": AccountType(type_).normal_sign,
            "owner_id": member_id,
            "no_negative": True,
            "is_closed": False,
            "balance_idr": 0,
            "created_at": now,
        }
        if account_base is not None:
            row["id"] = account_base + KIND_OFFSET[kind]
        rows.append(row)
    return rows


def insert_member_accounts(conn: Connection, members: list[tuple[int, str]]) -> dict[str, int]:
    """Open the savings accounts of ``members`` [(member_id, member_no)] with one executemany;
    returns {code: id}. Small sets (the posting benchmark's members) use this directly."""
    now = now_utc()
    table = Account.__table__
    rows = [
        r for mid, no in members for r in member_account_rows(mid, no, account_base=None, now=now)
    ]
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start : start + CHUNK])
    codes = [r["code"] for r in rows]
    found: dict[str, int] = {}
    for start in range(0, len(codes), 5000):
        chunk = codes[start : start + 5000]
        found.update(
            conn.execute(select(table.c.code, table.c.id).where(table.c.code.in_(chunk)))
            .tuples()
            .all()
        )
    return found


@dataclass
class Bases:
    member_id: int
    user_id: int
    account_id: int
    entry_id: int
    posting_id: int
    cash_id: int


def _next_id(conn: Connection, table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar()) + 1


def _next_member_id(conn: Connection) -> int:
    """After every member id in use: members rows (once that table exists) and account owners
    (so a second run appends new members instead of colliding with the first run's)."""
    owners = Account.__table__.c.owner_id
    used = int(conn.execute(select(func.coalesce(func.max(owners), 0))).scalar())
    if inspect(conn).has_table("members"):
        used = max(
            used, int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM members")).scalar())
        )
    return used + 1


def plan_rows(count: int, months: int, bases: Bases, seed: int):
    """Yield one staging row per member (deterministic for a given seed)."""
    rng = random.Random(seed)
    thresholds = []
    acc = 0
    for name, per_mille, pokok, wajib in GROUPS:
        acc += per_mille
        thresholds.append((acc, name, pokok, wajib))
    fingerprints: dict[tuple, str] = {}

    def fp(lines: tuple) -> str:
        value = fingerprints.get(lines)
        if value is None:
            value = _fingerprint(lines)
            if len(fingerprints) < 100_000:
                fingerprints[lines] = value
        return value

    for i in range(count):
        member_id = bases.member_id + i
        draw = rng.randrange(1000)
        group, pokok, wajib = next((g, p, w) for t, g, p, w in thresholds if draw < t)
        joined = (
            0 if rng.random() < JOINED_BEFORE_WINDOW or months < 2 else rng.randrange(1, months)
        )
        last_paid = months - 1
        exit_idx = None
        roll = rng.random()
        if roll < EXIT_SHARE and joined < months - 1:
            exit_idx = rng.randrange(joined + 1, months)
            last_paid = exit_idx - 1
        elif roll < EXIT_SHARE + ARREARS_SHARE:
            last_paid = months - 1 - rng.randint(1, 6)
        paid = max(0, last_paid - joined + 1)
        base = bases.account_id + len(KIND_ORDER) * i
        principal, mandatory = base + KIND_OFFSET["pokok"], base + KIND_OFFSET["wajib"]
        cash = bases.cash_id
        refund_wajib = wajib * paid if exit_idx is not None else 0
        fp_exit = ""
        if exit_idx is not None:
            lines = [(principal, pokok), (cash, -(pokok + refund_wajib))]
            if refund_wajib:
                lines.append((mandatory, refund_wajib))
            fp_exit = _fingerprint(lines)
        # Patronage: Pareto-skewed (a few very active drivers, a long tail of occasional ones).
        patronage = int(
            rng.paretovariate(1.3) * (40 if group in ("pengemudi", "kurir") else 150_000)
        )
        birth = dt.date(1965 + rng.randrange(38), 1 + rng.randrange(12), 1 + rng.randrange(28))
        platform = worker = None
        if group in ("pengemudi", "kurir"):
            platform = PLATFORM_CODES[rng.randrange(len(PLATFORM_CODES))]
            worker = f"W{member_id:09d}"
        yield {
            "member_id": member_id,
            "nik": None
            if group == "platform"
            else f"32{member_id:08d}{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}",
            "nib": f"{member_id:013d}" if group == "platform" else None,
            "birth_date": birth,
            "platform": platform,
            "worker_id": worker,
            "member_no": member_no(member_id, group),
            "grp": group,
            "user_id": bases.user_id + i,
            "phone": f"+628{member_id:011d}",
            "account_base": base,
            "joined_idx": joined,
            "last_paid_idx": last_paid,
            "exit_idx": exit_idx,
            "pokok_idr": pokok,
            "wajib_idr": wajib,
            "refund_wajib_idr": refund_wajib,
            "patronage_weight": patronage,
            "fp_pokok": fp(((cash, pokok), (principal, -pokok))),
            "fp_wajib": fp(((cash, wajib), (mandatory, -wajib))),
            "fp_exit": fp_exit,
        }


def insert_member_rows(conn: Connection, plan: Table, months: Table, recorded) -> int:
    """The ``members`` rows, one ``INSERT ... SELECT`` from the staging plan: individuals (NIK,
    platform + worker id for drivers and couriers) and platform companies (company name, NIB),
    active from their joining month, ``exited`` (with the exit date) for those who left.
    Returns the number of rows written (0 when the members table does not exist)."""
    if not inspect(conn).has_table("members"):
        return 0
    from members.register.models import Member

    members_table = Member.__table__
    p, joined, left = plan.c, months.alias("joined_m"), months.alias("exit_m")
    ad_version = None
    if inspect(conn).has_table("ad_versions"):
        ad_version = conn.execute(text("SELECT MAX(id) FROM ad_versions")).scalar()
    is_platform = p.grp == literal("platform")
    status = case((p.exit_idx.is_(None), literal("active")), else_=literal("exited"))
    columns = {
        "id": p.member_id,
        "member_no": p.member_no,
        "group_code": p.grp,
        "kind": case((is_platform, literal("company")), else_=literal("individual")),
        "status": status,
        "full_name": literal_column("'Anggota Sintetis '") + p.member_no,
        "nik": p.nik,
        "birth_date": p.birth_date,
        "phone": p.phone,
        "platform": p.platform,
        "platform_worker_id": p.worker_id,
        "company_name": case((is_platform, literal_column("'PT Platform '") + p.member_no)),
        "nib": p.nib,
        "is_extraordinary": literal(False),
        "consent_at": recorded,
        "consent_version": literal("2026-01"),
        "applied_at": recorded,
        "approved_at": recorded,
        "activated_at": recorded,
        "status_changed_at": recorded,
        "joined_date": joined.c.pokok_date,
        "exited_date": left.c.exit_date,
        "user_id": p.user_id,
        "ad_version_id": literal(ad_version, Integer()),
        "is_imported": literal(False),
    }
    query = select(*columns.values()).select_from(
        plan.join(joined, joined.c.idx == p.joined_idx).outerjoin(left, left.c.idx == p.exit_idx)
    )
    conn.execute(insert(members_table).from_select(list(columns), query))
    # (rowcount of INSERT ... SELECT is not reliable across drivers: count the plan instead)
    return int(conn.execute(select(func.count()).select_from(plan)).scalar())


def insert_patronage_rows(conn: Connection, plan: Table, months: Table, recorded) -> int:
    """``patronage_records`` (when the table exists): one record per member per month they were
    a member (joined, not yet left), Pareto-skewed by the plan's weight and varied by month;
    pengemudi count trips, kurir deliveries, pengguna spend, platforms their contribution."""
    if not inspect(conn).has_table("patronage_records"):
        return 0
    p, m = plan.c, months.c
    table = Table("patronage_records", MetaData(), autoload_with=conn)
    measure = case(
        (p.grp == literal("pengemudi"), literal("trips")),
        (p.grp == literal("kurir"), literal("deliveries")),
        (p.grp == literal("pengguna"), literal("spend_idr")),
        else_=literal("contribution_idr"),
    )
    # month-to-month variation in 70 %..130 % of the member's weight, integers only
    value = p.patronage_weight * (70 + (p.member_id * 7 + m.idx * 13) % 61) / literal(100)
    active = and_(m.idx >= p.joined_idx, or_(p.exit_idx.is_(None), m.idx < p.exit_idx))
    query = select(
        p.member_id,
        m.month_key,
        measure,
        func.cast(value, BigInteger),
        literal("api"),
        literal("bench-generator"),
        literal_column("'gen:'") + p.member_no + literal_column("':'") + m.month_key,
        recorded,
    ).select_from(plan.join(months, active))
    before = conn.execute(select(func.count()).select_from(table)).scalar()
    conn.execute(
        insert(table).from_select(
            [
                "member_id",
                "period",
                "measure",
                "value",
                "source",
                "source_ref",
                "external_id",
                "created_at",
            ],
            query,
        )
    )
    return int(conn.execute(select(func.count()).select_from(table)).scalar() - before)


#: Optional steps other benchmarks add (e.g. wajib obligations from ``members.savings.billing``):
#: ``{table_name: fn(conn, plan, months, recorded) -> rows}``; each runs after the ledger
#: history when its table exists, inside the generator's connection, while the staging tables
#: ``bench_member_plan`` (one row per member) and ``bench_months`` (one per month) still exist.
#: Register with ``register_step("wajib_obligations", fn)`` before calling ``generate``.
OPTIONAL_STEPS: dict[str, Callable[[Connection, Table, Table, object], int]] = {
    "patronage_records": insert_patronage_rows,
}


def register_step(table_name: str, fn: Callable[[Connection, Table, Table, object], int]) -> None:
    OPTIONAL_STEPS[table_name] = fn


def _run_optional_steps(conn: Connection, stats: dict, recorded, t: float) -> float:
    for table_name, fn in OPTIONAL_STEPS.items():
        if not inspect(conn).has_table(table_name):
            stats["steps"][f"{table_name} (table missing: skipped)"] = 0
            continue
        stats[f"{table_name}_rows"] = fn(conn, PLAN, MONTHS, recorded)
        conn.commit()
        t = _step(stats, table_name, t)
    return t


def _step(stats: dict, label: str, started: float) -> float:
    now = time.perf_counter()
    stats["steps"][label] = round(now - started, 2)
    print(f"[generate] {label}: {now - started:.1f}s", file=sys.stderr, flush=True)
    return now


def generate(
    conn: Connection,
    *,
    members: int,
    months: int = 12,
    seed: int = 20240101,
    end_month: dt.date | None = None,
) -> dict:
    """Load ``members`` synthetic members with ``months`` months of history ending with the
    month before ``end_month`` (default: the current Jakarta month). Commits as it goes."""
    if months < 1:
        raise ValueError("months must be >= 1")
    started = t = time.perf_counter()
    stats: dict = {"members": members, "months": months, "seed": seed, "steps": {}}
    accounts, entries, postings = Account.__table__, JournalEntry.__table__, Posting.__table__
    users, roles = User.__table__, UserRole.__table__
    cash_id = conn.execute(select(accounts.c.id).where(accounts.c.code == CASH)).scalar_one()
    bases = Bases(
        member_id=_next_member_id(conn),
        user_id=_next_id(conn, users),
        account_id=_next_id(conn, accounts),
        entry_id=_next_id(conn, entries),
        posting_id=_next_id(conn, postings),
        cash_id=cash_id,
    )
    first_month = add_months((end_month or business_date()).replace(day=1), -months)

    _plan_md.create_all(conn)
    conn.execute(PLAN.delete())
    conn.execute(MONTHS.delete())
    month_rows = []
    for idx in range(months):
        day = add_months(first_month, idx)
        month_rows.append(
            {
                "idx": idx,
                "month_key": month_key(day),
                "pokok_date": day.replace(day=5),
                "wajib_date": day.replace(day=10),
                "exit_date": day.replace(day=25),
            }
        )
    conn.execute(insert(MONTHS), month_rows)
    chunk: list[dict] = []
    for row in plan_rows(members, months, bases, seed):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.execute(insert(PLAN), chunk)
            chunk = []
    if chunk:
        conn.execute(insert(PLAN), chunk)
    t = _step(stats, "plan (python + executemany into the staging table)", t)

    now = now_utc()
    recorded = literal(now, UTCDateTime())
    p, m = PLAN.c, MONTHS.c
    password_hash = generate_password_hash(BENCH_PASSWORD, method=PASSWORD_METHOD)
    conn.execute(
        insert(users).from_select(
            [
                "id",
                "phone",
                "full_name",
                "password_hash",
                "locale",
                "is_active_flag",
                "session_version",
                "created_at",
            ],
            select(
                p.user_id,
                p.phone,
                literal_column("'Anggota Sintetis '") + p.member_no,
                literal(password_hash),
                literal("id"),
                literal(True),
                literal(1),
                recorded,
            ),
        )
    )
    conn.execute(
        insert(roles).from_select(
            ["user_id", "role"], select(p.user_id, literal(Role.ANGGOTA.value))
        )
    )
    stats["member_rows"] = insert_member_rows(conn, PLAN, MONTHS, recorded)
    conn.commit()
    t = _step(stats, "users + roles + members", t)

    for kind in KIND_ORDER:
        prefix, name, type_ = MEMBER_ACCOUNTS[kind]
        conn.execute(
            insert(accounts).from_select(
                [
                    "id",
                    "code",
                    "name",
                    "type",
                    "normal_sign",
                    "owner_id",
                    "no_negative",
                    "is_closed",
                    "balance_idr",
                    "created_at",
                ],
                select(
                    p.account_base + KIND_OFFSET[kind],
                    literal_column(f"'{prefix}:'") + p.member_no,
                    literal_column(f"'{name} '") + p.member_no,
                    literal(type_.value),
                    literal(type_.normal_sign),
                    p.member_id,
                    literal(True),
                    literal(False),
                    literal(0),
                    recorded,
                ),
            )
        )
    conn.commit()
    t = _step(stats, "accounts (4 per member)", t)

    slots = months + 2  # entry id slots per member: pokok, wajib x months, exit refund
    # Entries and their postings go in one transaction with the journal's database guards off:
    # trusted synthetic rows written leg by leg (ledger-check proves them afterwards).
    guards = journal_guards_suspended(conn)
    guards.__enter__()
    entry_cols = [
        "id",
        "idempotency_key",
        "entry_date",
        "recorded_at",
        "description",
        "source_kind",
        "source_id",
        "fingerprint",
        "posting_count",
    ]
    pokok_src = select(p, m).join(MONTHS, m.idx == p.joined_idx)
    wajib_src = select(p, m).join(MONTHS, and_(m.idx >= p.joined_idx, m.idx <= p.last_paid_idx))
    exit_src = select(p, m).join(MONTHS, m.idx == p.exit_idx)

    def entries_from(src, slot, key, description, kind, date_col, fp_col, legs=lambda s: 2):
        s = src.subquery()
        conn.execute(
            insert(entries).from_select(
                entry_cols,
                select(
                    bases.entry_id + (s.c.member_id - bases.member_id) * slots + slot(s),
                    literal_column(f"'{key}'")
                    + s.c.member_no
                    + literal_column("':'")
                    + s.c.month_key,
                    s.c[date_col],
                    recorded,
                    literal_column(f"'{description}'") + s.c.month_key,
                    literal(kind),
                    s.c.member_no,
                    s.c[fp_col],
                    legs(s),
                ),
            )
        )

    entries_from(
        pokok_src,
        lambda s: 0,
        "gen:pokok:",
        "Simpanan pokok ",
        "gen-pokok",
        "pokok_date",
        "fp_pokok",
    )
    entries_from(
        wajib_src,
        lambda s: 1 + s.c.idx,
        "gen:wajib:",
        "Simpanan wajib ",
        "gen-wajib",
        "wajib_date",
        "fp_wajib",
    )
    entries_from(
        exit_src,
        lambda s: months + 1,
        "gen:exit:",
        "Pengembalian simpanan ",
        "gen-exit",
        "exit_date",
        "fp_exit",
        legs=lambda s: case((s.c.refund_wajib_idr > 0, 3), else_=2),
    )
    t = _step(stats, "journal entries", t)

    posting_cols = ["entry_id", "account_id", "amount_idr", "entry_date"]

    def postings_from(src, slot, account, amount, date_col, where=None):
        s = src.subquery()
        query = select(
            bases.entry_id + (s.c.member_id - bases.member_id) * slots + slot(s),
            account(s),
            amount(s),
            s.c[date_col],
        )
        if where is not None:
            query = query.where(where(s))
        conn.execute(insert(postings).from_select(posting_cols, query))

    cash = literal(cash_id)
    postings_from(pokok_src, lambda s: 0, lambda s: cash, lambda s: s.c.pokok_idr, "pokok_date")
    postings_from(
        pokok_src,
        lambda s: 0,
        lambda s: s.c.account_base + KIND_OFFSET["pokok"],
        lambda s: -s.c.pokok_idr,
        "pokok_date",
    )
    postings_from(
        wajib_src, lambda s: 1 + s.c.idx, lambda s: cash, lambda s: s.c.wajib_idr, "wajib_date"
    )
    postings_from(
        wajib_src,
        lambda s: 1 + s.c.idx,
        lambda s: s.c.account_base + KIND_OFFSET["wajib"],
        lambda s: -s.c.wajib_idr,
        "wajib_date",
    )
    postings_from(
        exit_src,
        lambda s: months + 1,
        lambda s: cash,
        lambda s: -(s.c.pokok_idr + s.c.refund_wajib_idr),
        "exit_date",
    )
    postings_from(
        exit_src,
        lambda s: months + 1,
        lambda s: s.c.account_base + KIND_OFFSET["pokok"],
        lambda s: s.c.pokok_idr,
        "exit_date",
    )
    postings_from(
        exit_src,
        lambda s: months + 1,
        lambda s: s.c.account_base + KIND_OFFSET["wajib"],
        lambda s: s.c.refund_wajib_idr,
        "exit_date",
        where=lambda s: s.c.refund_wajib_idr > 0,
    )
    guards.__exit__(None, None, None)
    conn.commit()
    t = _step(stats, "postings", t)

    sums = (
        select(postings.c.account_id, func.sum(postings.c.amount_idr).label("total"))
        .where(postings.c.entry_id >= bases.entry_id)
        .group_by(postings.c.account_id)
        .subquery()
    )
    conn.execute(
        update(accounts)
        .where(accounts.c.id == sums.c.account_id)
        .values(balance_idr=accounts.c.balance_idr + sums.c.total)
    )
    if conn.dialect.name == "postgresql":
        for table in (users, roles, accounts, entries, postings):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
                )
            )
        conn.execute(text(f"ANALYZE {accounts.name}, {entries.name}, {postings.name}"))
    conn.commit()
    t = _step(stats, "maintained balances", t)

    stats["users"] = members
    stats["accounts"] = 4 * members
    stats["entries"] = conn.execute(
        select(func.count()).select_from(entries).where(entries.c.id >= bases.entry_id)
    ).scalar()
    stats["postings"] = conn.execute(
        select(func.count()).select_from(postings).where(postings.c.entry_id >= bases.entry_id)
    ).scalar()
    stats["groups"] = dict(conn.execute(select(p.grp, func.count()).group_by(p.grp)).all())
    stats["exits"] = conn.execute(
        select(func.count()).select_from(PLAN).where(p.exit_idx.is_not(None))
    ).scalar()
    stats["first_member_id"] = bases.member_id
    stats["first_month"] = first_month.isoformat()
    t = _run_optional_steps(conn, stats, recorded, t)
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE users, user_roles"))
        if stats.get("member_rows"):
            conn.execute(text("ANALYZE members"))
        conn.commit()
    stats["seconds"] = round(time.perf_counter() - started, 2)
    _plan_md.drop_all(conn)
    conn.commit()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Load a synthetic cooperative (users, member accounts, pokok/wajib history).",
    )
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument(
        "--db",
        required=True,
        help="sqlite:///path/file.sqlite3 or postgresql://user@host:port/db "
        "(the schema and chart are created when missing)",
    )
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--check", action="store_true", help="run ledger-check afterwards")
    args = parser.parse_args(argv)

    from kmp import create_app
    from kmp.config import normalise_database_url
    from kmp.extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=normalise_database_url(args.db))
    with app.app_context():
        if not inspect(db.engine).has_table("accounts"):
            from kmp.cli import install_defaults

            db.create_all()
            install_defaults()
            db.session.commit()
        elif db.session.scalar(select(Account.id).where(Account.code == CASH)) is None:
            from kmp.cli import install_defaults

            install_defaults()
            db.session.commit()
        with db.engine.connect() as conn:
            stats = generate(conn, members=args.members, months=args.months, seed=args.seed)
        if args.check:
            from kmp.ledger.queries import check_ledger

            started = time.perf_counter()
            result = check_ledger()
            stats["ledger_check"] = result.summary()
            stats["ledger_check_ok"] = result.ok
            stats["ledger_check_seconds"] = round(time.perf_counter() - started, 2)
        db.session.remove()
        db.engine.dispose()
    print(json.dumps(stats, ensure_ascii=False))
    return 0 if stats.get("ledger_check_ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
