"""CSV import of patronage: all or nothing, with a per-row error report.

Columns: ``member_no`` or (``platform``, ``platform_worker_id``), ``period`` (YYYY-MM),
``measure``, ``value``, ``external_id``. Members are resolved set-based (one query per
lookup kind, not per row); the member's group must use the row's measure.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select, tuple_

from kmp.extensions import db
from kmp.i18n import gettext
from members.ad.services import current_ad
from members.register.models import Member
from payouts.patronage import (
    MEASURES,
    PLAUSIBLE_PER_MONTH,
    IngestReport,
    PatronageRow,
    ingest_patronage,
    latest_period,
    valid_period,
)

REQUIRED = ("period", "measure", "value", "external_id")
MAX_ROWS = 2_000_000
MAX_VALUE = 10**12


@dataclass
class ImportResult:
    rows: int = 0
    errors: list[str] = field(default_factory=list)
    report: IngestReport | None = None

    @property
    def inserted(self) -> int:
        return self.report.inserted if self.report else 0

    @property
    def duplicates(self) -> int:
        return len(self.report.duplicates) if self.report else 0


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def import_patronage_csv(
    data: bytes, *, source_ref: str = "", dry_run: bool = False, max_errors: int = 200
) -> ImportResult:
    """Check every row; when all are fine (and not ``dry_run``) ingest them. Flushes only."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(_decode(data)))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = headers
    missing = [h for h in REQUIRED if h not in headers]
    by_no = "member_no" in headers
    by_platform = "platform" in headers and "platform_worker_id" in headers
    if missing or not (by_no or by_platform):
        need = list(missing)
        if not (by_no or by_platform):
            need.append(gettext("member_no (atau platform + platform_worker_id)"))
        result.errors.append(
            gettext("Kolom wajib tidak ada: %(columns)s.", columns=", ".join(need))
        )
        return result

    raw: list[tuple[int, dict]] = []
    for line_no, record in enumerate(reader, start=2):
        raw.append((line_no, {k: (v or "").strip() for k, v in record.items() if k}))
        if len(raw) > MAX_ROWS:
            result.errors.append(
                gettext("Berkas terlalu besar: paling banyak %(n)s baris.", n=MAX_ROWS)
            )
            return result
    result.rows = len(raw)
    if not raw:
        result.errors.append(gettext("Berkas tidak berisi baris data."))
        return result

    numbers = {r.get("member_no") for _, r in raw if r.get("member_no")}
    pairs = {
        (r.get("platform", "").lower(), r.get("platform_worker_id"))
        for _, r in raw
        if not r.get("member_no") and r.get("platform") and r.get("platform_worker_id")
    }
    by_number: dict[str, tuple[int, str]] = {}
    numbers_list = sorted(numbers)
    for start in range(0, len(numbers_list), 5000):
        chunk = numbers_list[start : start + 5000]
        for mid, no, group in db.session.execute(
            select(Member.id, Member.member_no, Member.group_code).where(
                Member.member_no.in_(chunk)
            )
        ):
            by_number[no] = (mid, group)
    by_pair: dict[tuple[str, str], tuple[int, str]] = {}
    pairs_list = sorted(pairs)
    for start in range(0, len(pairs_list), 2000):
        chunk = pairs_list[start : start + 2000]
        for mid, platform, worker, group in db.session.execute(
            select(Member.id, Member.platform, Member.platform_worker_id, Member.group_code).where(
                tuple_(Member.platform, Member.platform_worker_id).in_(chunk)
            )
        ):
            by_pair[((platform or "").lower(), worker)] = (mid, group)

    measure_of = {g.code: g.patronage_measure for g in current_ad().groups}
    latest = latest_period()
    rows: list[PatronageRow] = []
    seen: dict[str, int] = {}
    for line_no, r in raw:
        problems: list[str] = []
        member = None
        if r.get("member_no"):
            member = by_number.get(r["member_no"])
            if member is None:
                problems.append(gettext("nomor anggota %(no)s tidak dikenal", no=r["member_no"]))
        elif r.get("platform") and r.get("platform_worker_id"):
            member = by_pair.get((r["platform"].lower(), r["platform_worker_id"]))
            if member is None:
                problems.append(
                    gettext(
                        "mitra %(platform)s / %(worker)s tidak dikenal",
                        platform=r["platform"],
                        worker=r["platform_worker_id"],
                    )
                )
        else:
            problems.append(gettext("isi member_no, atau platform dan platform_worker_id"))
        if not valid_period(r.get("period")):
            problems.append(gettext("period harus berbentuk TTTT-BB, misalnya 2025-03"))
        elif r["period"] > latest:
            problems.append(gettext("period %(p)s belum terjadi", p=r["period"]))
        measure = r.get("measure", "")
        if measure not in MEASURES:
            problems.append(gettext("measure '%(measure)s' tidak dikenal", measure=measure))
        elif member is not None and measure_of.get(member[1]) not in (None, measure):
            problems.append(
                gettext(
                    "kelompok %(group)s memakai ukuran %(expected)s, bukan %(measure)s",
                    group=member[1],
                    expected=measure_of[member[1]],
                    measure=measure,
                )
            )
        value_text = r.get("value", "")
        value = None
        if not (value_text.isascii() and value_text.isdigit()):
            problems.append(gettext("value harus bilangan bulat 0 atau lebih"))
        elif len(value_text) > 15 or (
            measure in PLAUSIBLE_PER_MONTH and int(value_text) > PLAUSIBLE_PER_MONTH[measure]
        ):
            limit = PLAUSIBLE_PER_MONTH.get(measure, MAX_VALUE)
            problems.append(
                gettext("value tidak wajar untuk satu pengemudi sebulan (maks. %(n)s)", n=limit)
            )
        else:
            value = int(value_text)
        external_id = r.get("external_id", "")
        if not external_id:
            problems.append(gettext("external_id wajib diisi"))
        elif len(external_id) > 120:
            problems.append(gettext("external_id terlalu panjang"))
        elif external_id in seen:
            problems.append(
                gettext("external_id sama dengan baris %(seen)s", seen=seen[external_id])
            )
        else:
            seen[external_id] = line_no
        if problems:
            if len(result.errors) < max_errors:
                result.errors.append(
                    gettext(
                        "Baris %(line)s: %(problems)s.", line=line_no, problems="; ".join(problems)
                    )
                )
            continue
        rows.append(PatronageRow(member[0], r["period"], measure, value, external_id))
    if result.errors or dry_run:
        return result
    result.report = ingest_patronage(rows, source="csv", source_ref=source_ref)
    return result
