"""Member import: N spreadsheet rows (CSV) through ``members.importer.import_members``, in
files of 100,000 rows (one commit per file), each member with opening pokok, wajib and (for
four in five) sukarela balances.

Everything the import does is timed: CSV parsing, validation of every row (NIK structure,
phone, group, platform id, dates, amounts, in-file duplicates), the duplicate checks against
the database, member numbers, members, events, the four savings accounts per member and one
opening-balance ledger entry per member through ``post_entries``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import func, insert, select

NAME = "member_import"
TITLE = "Member import (membership)"
DEFAULT_SIZES = (10_000, 100_000)
LARGE_SIZES = (1_000_000,)
FILE_ROWS = 100_000  # rows per imported file (the importer accepts at most 200,000)
TARGET = 0.25
UNIT = "members/s"
FLOOR_NAME = (
    "the same CSV parsed with csv.DictReader and the same rows (members, member events, four "
    "accounts per member, one journal entry with its postings per member, maintained balances) "
    "written with bare Core executemany, ids assigned by the caller, one commit per file, no "
    "validation and no lookups"
)
PLATFORMS = ("gojek", "grab", "maxim", "shopee", "lalamove", "indrive")


def nik_for(i: int, birth: dt.date) -> str:
    """A structurally valid NIK (province 32, kab/kec 01..99, DDMMYY, serial 0001..9999),
    unique for i < 98 million."""
    serial, rest = 1 + i % 9999, i // 9999
    kec, kab = 1 + rest % 99, 1 + (rest // 99) % 99
    return f"32{kab:02d}{kec:02d}{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def csv_files(n: int, file_rows: int = FILE_ROWS) -> list[bytes]:
    files = []
    header = [
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
    ]
    for start in range(0, n, file_rows):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(start, min(n, start + file_rows)):
            birth = dt.date(1970 + i % 35, 1 + i % 12, 1 + i % 28)
            group = "pengemudi" if i % 10 < 7 else ("kurir" if i % 10 < 9 else "pengguna")
            driver = group != "pengguna"
            writer.writerow(
                [
                    f"Anggota Impor {i}",
                    nik_for(i, birth),
                    f"0813{i:08d}",
                    f"anggota{i}@contoh.id" if i % 3 == 0 else "",
                    group,
                    f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    PLATFORMS[i % len(PLATFORMS)] if driver else "",
                    f"IMP{i:09d}" if driver else "",
                    "100000",
                    str(25_000 * (1 + i % 12)),
                    str(50_000 * (i % 5)),
                    "2025-12-31",
                ]
            )
        files.append(out.getvalue().encode())
    return files


def subject_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from kmp.ledger.models import Account, JournalEntry, Posting
    from kmp.ledger.queries import check_ledger
    from members.importer.services import import_members
    from members.register.models import Member

    files = csv_files(n)
    with timer:
        imported = 0
        for data in files:
            result = import_members(data)
            if not result.ok:
                raise RuntimeError(f"import refused: {[str(e) for e in result.errors[:5]]}")
            db.session.commit()
            imported += result.imported
    check = check_ledger()
    return {
        "imported": imported,
        "members": db.session.scalar(select(func.count()).select_from(Member)),
        "accounts": db.session.scalar(
            select(func.count()).select_from(Account).where(Account.owner_id.is_not(None))
        ),
        "entries": db.session.scalar(select(func.count()).select_from(JournalEntry)),
        "postings": db.session.scalar(select(func.count()).select_from(Posting)),
        "ledger_check_ok": check.ok,
        "ledger_check": check.summary(),
    }


def floor_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from kmp.ledger.chart import MEMBER_ACCOUNTS
    from kmp.ledger.models import Account, AccountType, JournalEntry, Posting
    from kmp.timeutil import now_utc
    from members.ad.services import OPENING_BALANCE
    from members.register.models import Member, MemberEvent

    files = csv_files(n)
    opening_id = db.session.scalar(select(Account.id).where(Account.code == OPENING_BALANCE))
    db.session.commit()
    members_t, events_t = Member.__table__, MemberEvent.__table__
    accounts_t, entries_t, postings_t = Account.__table__, JournalEntry.__table__, Posting.__table__
    kinds = list(MEMBER_ACCOUNTS.items())
    with db.engine.connect() as conn:
        account_id = conn.execute(select(func.max(accounts_t.c.id))).scalar() + 1
        member_id = (conn.execute(select(func.max(members_t.c.id))).scalar() or 0) + 1
        entry_id = (conn.execute(select(func.max(entries_t.c.id))).scalar() or 0) + 1
        with timer:
            seq = 0
            for data in files:
                now = now_utc()
                members, events, accounts, entries, postings = [], [], [], [], []
                opening_total = 0
                for row in csv.DictReader(io.StringIO(data.decode())):
                    seq += 1
                    number = f"DRV-2024-{seq:06d}"
                    nik = row["nik"]
                    members.append(
                        {
                            "id": member_id,
                            "member_no": number,
                            "group_code": row["group"],
                            "kind": "individual",
                            "status": "active",
                            "full_name": row["full_name"],
                            "nik": nik,
                            "birth_date": dt.date(
                                (1900 if int(nik[10:12]) > 30 else 2000) + int(nik[10:12]),
                                int(nik[8:10]),
                                int(nik[6:8]),
                            ),
                            "phone": "+62" + row["phone"][1:],
                            "email": row["email"] or None,
                            "platform": row["platform"] or None,
                            "platform_worker_id": row["platform_worker_id"] or None,
                            "is_extraordinary": False,
                            "applied_at": now,
                            "approved_at": now,
                            "activated_at": now,
                            "status_changed_at": now,
                            "joined_date": dt.date.fromisoformat(row["joined_date"]),
                            "is_imported": True,
                        }
                    )
                    events.append(
                        {
                            "member_id": member_id,
                            "at": now,
                            "action": "imported",
                            "to_status": "active",
                            "note": "Diimpor dari berkas",
                        }
                    )
                    ids = {}
                    for kind, (prefix, name, type_) in kinds:
                        ids[kind] = account_id
                        accounts.append(
                            {
                                "id": account_id,
                                "code": f"{prefix}:{number}",
                                "name": f"{name} {number}",
                                "type": AccountType(type_).value,
                                "normal_sign": AccountType(type_).normal_sign,
                                "owner_id": member_id,
                                "no_negative": True,
                                "is_closed": False,
                                "balance_idr": 0,
                                "created_at": now,
                            }
                        )
                        account_id += 1
                    day = dt.date.fromisoformat(row["opening_date"])
                    lines = [
                        (ids[kind], -int(row[column]))
                        for kind, column in (
                            ("pokok", "opening_pokok_idr"),
                            ("wajib", "opening_wajib_idr"),
                            ("sukarela", "opening_sukarela_idr"),
                        )
                        if int(row[column])
                    ]
                    total = -sum(v for _, v in lines)
                    opening_total += total
                    entries.append(
                        {
                            "id": entry_id,
                            "idempotency_key": f"opening-balance:member:{member_id}",
                            "entry_date": day,
                            "recorded_at": now,
                            "description": f"Saldo awal simpanan {number} (impor)",
                            "source_kind": "member_import",
                            "source_id": str(member_id),
                            "fingerprint": "0" * 64,
                            "posting_count": len(lines) + 1,
                        }
                    )
                    postings.append(
                        {
                            "entry_id": entry_id,
                            "account_id": opening_id,
                            "amount_idr": total,
                            "entry_date": day,
                        }
                    )
                    for account, amount in lines:
                        postings.append(
                            {
                                "entry_id": entry_id,
                                "account_id": account,
                                "amount_idr": amount,
                                "entry_date": day,
                            }
                        )
                    for p in postings[-len(lines) :]:
                        accounts[p["account_id"] - accounts[0]["id"]]["balance_idr"] = p[
                            "amount_idr"
                        ]
                    member_id += 1
                    entry_id += 1
                conn.execute(insert(members_t), members)
                conn.execute(insert(events_t), events)
                conn.execute(insert(accounts_t), accounts)
                conn.execute(insert(entries_t), entries)
                conn.execute(insert(postings_t), postings)
                conn.execute(
                    accounts_t.update()
                    .where(accounts_t.c.id == opening_id)
                    .values(balance_idr=accounts_t.c.balance_idr + opening_total)
                )
                conn.commit()
        members_written = conn.execute(select(func.count()).select_from(members_t)).scalar()
    return {"members": members_written}


def run(ctx) -> list[dict]:
    from bench.harness import log, make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        if subject["imported"] != n or subject["members"] != n:
            raise RuntimeError(f"the import wrote {subject['members']} members of {n}")
        if floor["members"] != n:
            raise RuntimeError(f"the floor wrote {floor['members']} members of {n}")
        log(f"{NAME} n={n}: {subject['entries']} entries, {subject['postings']} postings")
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="throughput",
            target_value=TARGET,
            extra={
                "file_rows": FILE_ROWS,
                "postings": subject["postings"],
                "ledger_check_ok": subject["ledger_check_ok"],
                "ledger_check": subject["ledger_check"],
            },
        )
        if not subject["ledger_check_ok"]:
            result["target_met"] = False
        results.append(result)
    return results
