"""The soak (issue 10, Must-show 7): ``python -m bench.soak [--minutes 10] [--users 32]
[--members 10000] [--db postgresql://...]``.

Mixed member traffic (login, dashboard, statement, pay, vote; ``bench/locustfile.py``) from
locust, run headless in its own process, against KMP served by gunicorn (2 sync workers, as
the HTTP benchmark serves it: ``bench.http_pages``) on a fresh PostgreSQL database holding a
synthetic cooperative (``bench.generate``). Not part of ``make bench`` (this module has no
``run(ctx)``/``NAME``, so ``bench.run`` skips it); run it on its own.

Setup (not timed): fresh database, schema and defaults, N members with 12 months of history,
one secret yes/no proposal opened through ``governance.services`` (census frozen; changing
one's vote allowed), the current month of simpanan wajib billed through
``members.savings.billing.bill_wajib``, and ``--accounts`` census members picked across the register
as the simulated users' logins (the generator gives every user the same password hash, made
once).

While locust runs, every 5 s: RSS (VmRSS and RssAnon from ``/proc``) of the gunicorn master
and each worker, of the PostgreSQL backends serving the database, of locust, and the load
average. Afterwards (not timed): the status-code histogram and locust's CSV statistics (zero
5xx required), the accounting of every payment and vote the simulated users saw succeed
against the database, ``check_ledger()`` (``flask kmp ledger-check``), the audit chain, and
each worker's memory growth from minute 2 to the end against ``--bound-mb``.

Writes ``bench/soak_result.json`` and ``bench/notes/soak.md`` (also printed); exits 1 if a
check failed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.harness import _proc_cpu_seconds, child_pids

ROOT = Path(__file__).resolve().parent.parent
RESULT_PATH = ROOT / "bench" / "soak_result.json"
NOTES_PATH = ROOT / "bench" / "notes" / "soak.md"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
SAMPLE_SECONDS = 5
REFERENCE_SECONDS = 120  # memory growth is measured from minute 2 to the end
MONTHS = 12
STOP_TIMEOUT_S = 30


# --------------------------------------------------------------------------------------------
# /proc


def proc_memory(pid: int) -> dict | None:
    """VmRSS / RssAnon / RssShmem in KiB of one process (None once it is gone)."""
    wanted = {"VmRSS": "rss_kib", "RssAnon": "anon_kib", "RssShmem": "shmem_kib"}
    found: dict = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key = line.split(":", 1)[0]
                if key in wanted:
                    found[wanted[key]] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return found or None


def loadavg() -> list[float]:
    try:
        with open("/proc/loadavg") as handle:
            return [float(x) for x in handle.read().split()[:3]]
    except OSError:
        return []


class Sampler(threading.Thread):
    """Samples the processes every ``SAMPLE_SECONDS`` until ``stop()``."""

    def __init__(self, master_pid: int, dsn: str, interval: float = SAMPLE_SECONDS) -> None:
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.dsn = dsn
        self.interval = interval
        self.samples: list[dict] = []
        self.locust_pid: int | None = None
        self.t0 = time.monotonic()
        self._stop_event = threading.Event()
        self._conn = None

    def _pg_pids(self) -> list[int]:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.dsn, autocommit=True)
            rows = self._conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        except Exception:  # noqa: BLE001 - sampling is best effort
            return []
        return sorted(r[0] for r in rows)

    def sample(self) -> dict:
        workers = {}
        for pid in child_pids(self.master_pid):
            memory = proc_memory(pid)
            if memory:
                workers[str(pid)] = {**memory, "cpu_s": _proc_cpu_seconds(pid)}
        pg = {}
        for pid in self._pg_pids():
            memory = proc_memory(pid)
            if memory:
                pg[str(pid)] = {**memory, "cpu_s": _proc_cpu_seconds(pid)}
        row = {
            "t": round(time.monotonic() - self.t0, 1),
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "loadavg": loadavg(),
            "master": proc_memory(self.master_pid),
            "workers": workers,
            "pg": pg,
            "locust": proc_memory(self.locust_pid) if self.locust_pid else None,
            "locust_cpu_s": _proc_cpu_seconds(self.locust_pid) if self.locust_pid else None,
        }
        self.samples.append(row)
        return row

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)
        self.sample()
        if self._conn is not None:
            self._conn.close()


def memory_summary(
    samples: list[dict], reference_s: float, bound_mb: float, window_s: float = 60.0
) -> dict:
    """Per process (MiB): RSS at the first sample, the lowest in the window starting at the
    reference time (minute 2) and in the window ending at the last sample, the peak and the
    last sample. ``growth_mb`` compares the two lows (what a leak keeps; a single request's
    transient allocation, e.g. scrypt's 32 MiB at a login, does not move them);
    ``peak_growth_mb`` is the peak after the reference time above the reference low;
    ``end_growth_mb`` the last sample minus the reference sample. The bound applies to
    ``growth_mb`` and ``peak_growth_mb``."""

    def mib(kib: int | None) -> float | None:
        return None if kib is None else round(kib / 1024, 1)

    def series(select) -> list[tuple[float, dict]]:
        return [(s["t"], m) for s in samples if (m := select(s))]

    def summarise(points: list[tuple[float, dict]], key: str = "rss_kib") -> dict | None:
        points = [(t, m[key]) for t, m in points if m.get(key) is not None]
        if not points:
            return None
        ref_t, ref = next(((t, v) for t, v in points if t >= reference_s), points[-1])
        last_t, end = points[-1]
        ref_low = min(v for t, v in points if ref_t <= t < ref_t + window_s)
        end_low = min(v for t, v in points if t >= max(ref_t, last_t - window_s))
        after = [v for t, v in points if t >= ref_t]
        return {
            "first_t": points[0][0],
            "last_t": last_t,
            "reference_t": ref_t,
            "window_s": window_s,
            "start_mb": mib(points[0][1]),
            "reference_mb": mib(ref),
            "reference_low_mb": mib(ref_low),
            "peak_mb": mib(max(v for _t, v in points)),
            "end_low_mb": mib(end_low),
            "end_mb": mib(end),
            "growth_mb": mib(end_low - ref_low),
            "peak_growth_mb": mib(max(after) - ref_low),
            "end_growth_mb": mib(end - ref),
            "samples": len(points),
        }

    worker_pids = sorted({pid for s in samples for pid in s["workers"]}, key=int)
    workers = {}
    for pid in worker_pids:
        points = series(lambda s, pid=pid: s["workers"].get(pid))
        workers[pid] = {
            "rss": summarise(points),
            "anon": summarise(points, "anon_kib"),
            "cpu_s": points[-1][1].get("cpu_s") if points else None,
        }
    pg_total = [
        (
            s["t"],
            {
                "rss_kib": sum(m["rss_kib"] for m in s["pg"].values()),
                "anon_kib": sum(m.get("anon_kib", 0) for m in s["pg"].values()),
            },
        )
        for s in samples
        if s["pg"]
    ]
    pg_max_backends = max((len(s["pg"]) for s in samples), default=0)
    present_at_end = set(samples[-1]["workers"]) if samples else set()
    restarted = [pid for pid in worker_pids if pid not in present_at_end]
    within = [
        w["rss"]["growth_mb"] is not None
        and w["rss"]["growth_mb"] <= bound_mb
        and w["rss"]["peak_growth_mb"] <= bound_mb
        for w in workers.values()
        if w["rss"]
    ]
    return {
        "bound_mb": bound_mb,
        "reference_s": reference_s,
        "master": {"rss": summarise(series(lambda s: s["master"]))},
        "workers": workers,
        "workers_gone_before_end": restarted,
        "postgres_backends_total": {
            "rss": summarise(pg_total),
            "anon": summarise(pg_total, "anon_kib"),
            "max_backends": pg_max_backends,
        },
        "locust": {"rss": summarise(series(lambda s: s["locust"]))},
        "within_bound": bool(within) and all(within) and not restarted,
        "loadavg_1min": {
            "min": min((s["loadavg"][0] for s in samples if s["loadavg"]), default=None),
            "max": max((s["loadavg"][0] for s in samples if s["loadavg"]), default=None),
            "mean": round(
                sum(s["loadavg"][0] for s in samples if s["loadavg"])
                / max(1, sum(1 for s in samples if s["loadavg"])),
                2,
            ),
        },
    }


# --------------------------------------------------------------------------------------------
# Locust's output


def cpu_used(samples: list[dict]) -> dict:
    """CPU seconds used during the samples by the workers, the PostgreSQL backends and locust
    (last minus first reading per process), and the wall seconds they span."""

    def used(group: str) -> float:
        first: dict = {}
        last: dict = {}
        for s in samples:
            for pid, m in s[group].items():
                if m.get("cpu_s") is not None:
                    first.setdefault(pid, m["cpu_s"])
                    last[pid] = m["cpu_s"]
        return round(sum(last[p] - first[p] for p in last), 1)

    locust = [s["locust_cpu_s"] for s in samples if s.get("locust_cpu_s") is not None]
    return {
        "wall_s": round(samples[-1]["t"] - samples[0]["t"], 1) if samples else 0.0,
        "gunicorn_workers_s": used("workers"),
        "postgres_backends_s": used("pg"),
        "locust_s": round(locust[-1] - locust[0], 1) if locust else None,
    }


def _number(text: str | None) -> float | None:
    if text is None or text.strip() in ("", "N/A"):
        return None
    return float(text)


def parse_stats_csv(text: str) -> list[dict]:
    """Locust's ``<prefix>_stats.csv``: one row per request name plus ``Aggregated``."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(
            {
                "method": row.get("Type") or "",
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "median_ms": _number(row.get("Median Response Time")),
                "mean_ms": _number(row.get("Average Response Time")),
                "max_ms": _number(row.get("Max Response Time")),
                "rps": _number(row.get("Requests/s")),
                "p50_ms": _number(row.get("50%")),
                "p95_ms": _number(row.get("95%")),
                "p99_ms": _number(row.get("99%")),
            }
        )
    return rows


def parse_failures_csv(text: str) -> list[dict]:
    """Locust's ``<prefix>_failures.csv``: method, name, error message, occurrences."""
    return [
        {
            "method": row["Method"],
            "name": row["Name"],
            "error": row["Error"],
            "occurrences": int(row["Occurrences"]),
        }
        for row in csv.DictReader(io.StringIO(text))
    ]


def count_5xx(codes: dict[str, dict[str, int]]) -> dict[str, int]:
    """``{request name: number of 5xx answers}`` from the locustfile's status histogram."""
    found = {}
    for name, histogram in codes.items():
        n = sum(count for code, count in histogram.items() if code.isdigit() and code[0] == "5")
        if n:
            found[name] = n
    return found


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------
# Setup


def prepare(app, members: int, accounts: int) -> dict:
    """Load the cooperative, open the proposal, bill the month, pick the logins."""
    from sqlalchemy import select

    from bench.generate import BENCH_PASSWORD, generate
    from bench.harness import log
    from governance import services as governance
    from governance.models import CensusEntry, ProposalKind
    from kmp.auth import User
    from kmp.cli import install_defaults
    from kmp.extensions import db
    from kmp.payments.factory import notification_server_key
    from kmp.timeutil import business_date, now_utc
    from members.register.models import Member
    from members.savings import billing

    db.create_all()
    install_defaults()
    db.session.commit()
    started = time.perf_counter()
    with db.engine.connect() as conn:
        stats = generate(conn, members=members, months=MONTHS)
    db.session.commit()
    log(
        f"generated {members} members, {stats['postings']} postings in "
        f"{time.perf_counter() - started:.0f}s"
    )
    now = now_utc()
    proposal = governance.create_proposal(
        kind=ProposalKind.ORDINARY,
        title="Soak: penambahan jam layanan kantor koperasi",
        body="Usulan untuk uji beban (soak).",
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(days=1),
        secret=True,
        allow_change=True,
    )
    governance.open_proposal(proposal, now=now)
    db.session.commit()
    billed = billing.bill_wajib(business_date())
    db.session.commit()
    rows = db.session.execute(
        select(Member.id, Member.member_no, User.phone)
        .join(CensusEntry, CensusEntry.member_id == Member.id)
        .join(User, User.id == Member.user_id)
        .where(CensusEntry.proposal_id == proposal.id)
        .order_by(Member.id)
    ).all()
    step = max(1, len(rows) // accounts)
    picked = rows[::step][:accounts]
    log(
        f"proposal {proposal.id} open, census {proposal.census_size}; "
        f"wajib billed: {billed.created}; {len(picked)} logins"
    )
    return {
        "proposal_id": proposal.id,
        "census_size": proposal.census_size,
        "postings": stats["postings"],
        "months": MONTHS,
        "password": BENCH_PASSWORD,
        "server_key": notification_server_key(app),
        "accounts": [
            {"login": r.phone, "member_id": r.id, "member_no": r.member_no} for r in picked
        ],
        "wajib_billed": billed.created,
    }


# --------------------------------------------------------------------------------------------
# Serving and driving


def serve(url: str, log_path: Path):
    """gunicorn (``bench.http_pages``' settings: 2 sync workers) with its stderr (warnings,
    tracebacks, worker timeouts) going to ``log_path``."""
    from bench import http_pages

    saved = os.dup(2)
    with open(log_path, "ab") as handle:
        os.dup2(handle.fileno(), 2)
        try:
            proc, port = http_pages._gunicorn("kmp", url, "/healthz")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return proc, port


def run_locust(
    *, port: int, users: int, spawn_rate: float, minutes: float, workdir: Path, env: dict, sampler
) -> dict:
    prefix = workdir / "locust"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{int(minutes * 60)}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--host",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    with open(workdir / "locust.log", "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
        )
        sampler.locust_pid = proc.pid
        try:
            code = proc.wait(timeout=minutes * 60 + STOP_TIMEOUT_S + 180)
        except subprocess.TimeoutExpired:
            proc.terminate()
            code = proc.wait(30)
    return {"exit_code": code, "seconds": round(time.monotonic() - started, 1)}


# --------------------------------------------------------------------------------------------
# Accounting


def account(proposal_id: int, records: list[dict]) -> list[dict]:
    """Compare what the simulated users saw succeed with the database."""
    from sqlalchemy import func, select

    from governance.models import BallotChoice, BallotParticipation
    from kmp.audit import verify_chain
    from kmp.extensions import db
    from kmp.ledger.chart import GATEWAY_CLEARING
    from kmp.ledger.models import JournalEntry, Posting
    from kmp.ledger.queries import balance_of, check_ledger
    from kmp.ledger.services import get_account
    from kmp.payments.models import GatewayInbox, IntentStatus, PaymentAttempt, PaymentIntent

    checks: list[dict] = []

    def check(name: str, expected, found, ok: bool | None = None) -> None:
        checks.append(
            {
                "check": name,
                "expected": expected,
                "found": found,
                "ok": bool(expected == found if ok is None else ok),
            }
        )

    settled = {r["order_id"]: r for r in records if r["kind"] == "payment_settled"}
    started = {r["order_id"] for r in records if r["kind"] == "payment_started"}
    retried = {r["order_id"] for r in records if r["kind"] == "notification_retried"}
    attempts = {
        a.order_id: a
        for a in db.session.scalars(select(PaymentAttempt).join(PaymentAttempt.intent))
    }
    paid = {o for o, a in attempts.items() if a.state.value == "PAID"}
    check(
        "payment attempts in the database = checkouts the users started",
        len(started),
        len(attempts),
    )
    check("payments the users saw settled (webhook answered ok)", len(settled), len(paid))
    check(
        "settled orders all PAID in the database",
        sorted(settled),
        sorted(paid & set(settled)),
        ok=set(settled) <= paid,
    )
    check("PAID orders nobody saw settle", [], sorted(paid - set(settled)))
    amount_seen = sum(r["amount_idr"] for r in settled.values())
    amount_db = sum(attempts[o].amount_idr for o in paid)
    check("amount settled (IDR): users' view = database", amount_seen, amount_db)
    intents_paid = db.session.scalar(
        select(func.count())
        .select_from(PaymentIntent)
        .where(PaymentIntent.status == IntentStatus.PAID)
    )
    check("payment intents paid", len(settled), intents_paid)
    counted = [o for o in settled if attempts.get(o) is not None and attempts[o].is_counted]
    check("settled attempts counted once (is_counted)", len(settled), len(counted))
    entries = dict(
        db.session.execute(
            select(JournalEntry.source_id, func.count())
            .where(JournalEntry.source_id.in_(list(settled) or [""]))
            .group_by(JournalEntry.source_id)
        ).all()
    )
    not_once = {o: entries.get(o, 0) for o in settled if entries.get(o, 0) != 1}
    check("ledger entries per settled order: exactly 1", {}, not_once)
    posted = db.session.scalar(
        select(func.coalesce(func.sum(Posting.amount_idr), 0))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(JournalEntry.source_id.in_(list(settled) or [""]), Posting.amount_idr > 0)
    )
    check("ledger: debit side of those entries (IDR)", amount_seen, int(posted or 0))
    clearing = balance_of(get_account(GATEWAY_CLEARING))
    check("gateway clearing account balance (IDR)", amount_seen, int(clearing))
    inbox = dict(
        db.session.execute(
            select(GatewayInbox.order_id, func.count())
            .where(GatewayInbox.order_id.in_(list(settled) or [""]))
            .group_by(GatewayInbox.order_id)
        ).all()
    )
    check(
        "webhook inbox rows per settled order: exactly 1 (retries are duplicates)",
        {},
        {o: inbox.get(o, 0) for o in settled if inbox.get(o, 0) != 1},
    )
    unprocessed = db.session.scalar(
        select(func.count()).select_from(GatewayInbox).where(GatewayInbox.processed_at.is_(None))
    )
    check("webhook inbox rows not processed", 0, unprocessed)
    check("notification retries answered 'duplicate'", len(retried), len(retried & set(settled)))

    votes = [r for r in records if r["kind"] == "vote"]
    voters = {r["member_id"] for r in votes}
    participations = db.session.scalar(
        select(func.count())
        .select_from(BallotParticipation)
        .where(BallotParticipation.proposal_id == proposal_id)
    )
    changes = db.session.scalar(
        select(func.coalesce(func.sum(BallotParticipation.change_count), 0)).where(
            BallotParticipation.proposal_id == proposal_id
        )
    )
    check(
        "ballot participations = distinct members whose vote succeeded", len(voters), participations
    )
    check(
        "vote changes recorded = successful votes - voters", len(votes) - len(voters), int(changes)
    )
    last: dict[int, str] = {}
    for r in votes:
        last[r["member_id"]] = r["option"]
    expected_options = dict(sorted(Counter(last.values()).items()))
    stored = dict(
        sorted(
            db.session.execute(
                select(BallotChoice.option, func.count())
                .where(BallotChoice.proposal_id == proposal_id)
                .group_by(BallotChoice.option)
            ).all()
        )
    )
    check("secret ballot choices per option = each voter's last choice", expected_options, stored)
    ledger = check_ledger()
    check("ledger-check (kmp.ledger.queries.check_ledger)", True, ledger.ok)
    checks[-1]["detail"] = ledger.summary()
    chain = verify_chain()
    check("audit chain verifies (kmp.audit.verify_chain)", True, bool(chain.ok))
    checks[-1]["detail"] = chain.summary()
    db.session.rollback()
    return checks


# --------------------------------------------------------------------------------------------
# Report


def _fmt(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_markdown(result: dict) -> str:
    memory = result["memory"]
    cpu = result["cpu"]
    share = cpu["gunicorn_workers_s"] / cpu["wall_s"] if cpu["wall_s"] else 0.0
    window = next((w["rss"]["window_s"] for w in memory["workers"].values() if w["rss"]), 60.0)
    lines = [
        f"### Soak: mixed member traffic for {result['minutes']:g} minutes (gunicorn, PostgreSQL)",
        "",
        f"**{'PASS' if result['passed'] else 'FAIL'}**: {result['five_xx_total']} responses 5xx; "
        f"worker memory growth from minute {memory['reference_s'] / 60:g} to the end "
        f"{'within' if memory['within_bound'] else 'NOT within'} {memory['bound_mb']:g} MB; "
        f"{sum(c['ok'] for c in result['accounting'])}/{len(result['accounting'])} accounting "
        "checks pass.",
        "",
        f"* Date: {result['started_at']} to {result['finished_at']} (UTC); code `{result['code']}`",
        f"* Command: `{result['command']}`",
        f"* Machine: {result['machine']['cpu_model']}, {result['machine']['cores']} cores, "
        f"{result['machine']['memory_gib']} GiB, shared with other engineers' benchmarks: 1-min "
        f"load average {_fmt(memory['loadavg_1min']['min'], 2)}–"
        f"{_fmt(memory['loadavg_1min']['max'], 2)} (mean {memory['loadavg_1min']['mean']}) "
        "during the run; locust runs on the same machine. CPU used over "
        f"{result['cpu']['wall_s']:g} s: gunicorn workers {result['cpu']['gunicorn_workers_s']:g} "
        f"s, PostgreSQL backends {result['cpu']['postgres_backends_s']:g} s, locust "
        f"{_fmt(result['cpu']['locust_s'], 1)} s",
        f"* Server: gunicorn {result['server']['workers']} sync workers "
        f"(`bench.http_app:kmp`, testing configuration: fake gateway and notifier), "
        f"{result['database_version']} on loopback",
        f"* Data: {result['members']:,} members, {result['months']} months of history "
        f"({result['postings']:,} postings), proposal census {result['census_size']:,}, "
        f"{len(result['accounts'])} member logins for {result['users']} simulated users "
        "(a user is one member at a time; when it logs out and in again it takes the next "
        "free member, so no two users are ever the same member)",
        f"* Load: locust {result['locust_version']}, {result['users']} users, spawn "
        f"{result['spawn_rate']:g}/s, think time {result['wait_seconds'][0]:g}–"
        f"{result['wait_seconds'][1]:g} s; task weights dashboard 4, statement 3, pay 2, vote 2, "
        f"log out and in 1; run {result['locust']['seconds']:g} s "
        f"({result['minutes']:g} min + stop timeout)",
        "",
        "| request | count | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["requests"]:
        lines.append(
            f"| {row['name']} | {_fmt(row['requests'])} | {_fmt(row['failures'])} | "
            f"{_fmt(row['rps'], 1)} | {_fmt(row['p50_ms'])} | {_fmt(row['p95_ms'])} | "
            f"{_fmt(row['p99_ms'])} | {_fmt(row['max_ms'])} |"
        )
    by_name = ", ".join(f"{k}: {v}" for k, v in result["five_xx"].items())
    lines += [
        "",
        f"5xx responses: **{result['five_xx_total']}**"
        + (f" ({by_name})" if by_name else "")
        + f"; gunicorn error log: {result['gunicorn_log_lines']} line(s), "
        f"{result['gunicorn_log_tracebacks']} traceback(s).",
    ]
    if result["failures"]:
        lines += ["", "Other failures (locust):", ""]
        for f in result["failures"]:
            lines.append(f"* {f['method']} {f['name']}: {f['error']} × {f['occurrences']}")
    else:
        lines += ["", "No other failures."]
    lines += [
        "",
        f"Memory: RSS (VmRSS, and RssAnon = private memory) from `/proc/<pid>/status` every "
        f"{SAMPLE_SECONDS} s. Reference = t {memory['reference_s']:g} s (minute "
        f"{memory['reference_s'] / 60:g}); *low* = the lowest sample in the {window:g} s after "
        f"the reference / before the end. **Growth** = end low − reference low (what a leak "
        f"keeps); **peak growth** = highest sample after the reference − reference low. Bound: "
        f"both ≤ {memory['bound_mb']:g} MB for every gunicorn worker. A login allocates 32 MiB "
        "for scrypt in the worker (freed right after), so single samples jump by that much.",
        "",
        "| process | start MB | ref low MB | peak MB | end low MB | end MB | growth MB "
        "| peak growth MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def mem_row(label: str, summary: dict | None) -> None:
        if not summary:
            lines.append(f"| {label} | – | – | – | – | – | – | – |")
            return
        lines.append(
            f"| {label} | {summary['start_mb']} | {summary['reference_low_mb']} | "
            f"{summary['peak_mb']} | {summary['end_low_mb']} | {summary['end_mb']} | "
            f"{summary['growth_mb']:+} | {summary['peak_growth_mb']:+} |"
        )

    mem_row("gunicorn master", memory["master"]["rss"])
    for pid, worker in memory["workers"].items():
        mem_row(f"gunicorn worker {pid}", worker["rss"])
        mem_row(f"gunicorn worker {pid} (RssAnon)", worker["anon"])
    pg = memory["postgres_backends_total"]
    mem_row(f"PostgreSQL backends, sum (max {pg['max_backends']})", pg["rss"])
    mem_row("PostgreSQL backends, sum (RssAnon)", pg["anon"])
    mem_row("locust", memory["locust"]["rss"])
    if memory["workers_gone_before_end"]:
        lines += ["", f"Workers gone before the end: {memory['workers_gone_before_end']}"]
    lines += [
        "",
        "Accounting afterwards (what the simulated users saw succeed vs the database):",
        "",
        "| check | expected | found | ok |",
        "|---|---|---|---|",
    ]
    for c in result["accounting"]:
        expected = (
            json.dumps(c["expected"]) if not isinstance(c["expected"], int) else c["expected"]
        )
        found = json.dumps(c["found"]) if not isinstance(c["found"], int) else c["found"]
        if len(str(expected)) > 80:
            expected = f"{len(c['expected'])} items"
        if len(str(found)) > 80:
            found = f"{len(c['found'])} items"
        lines.append(f"| {c['check']} | {expected} | {found} | {'yes' if c['ok'] else '**NO**'} |")
    lines += [
        "",
        f"Payments: {result['payments']['settled']:,} settled "
        f"(Rp {result['payments']['amount_idr']:,}; {result['payments']['by_purpose']}), "
        f"{result['payments']['retries']:,} notification retries; votes: "
        f"{result['votes']['successful']:,} successful by {result['votes']['voters']:,} members; "
        f"{result['members_active']:,} distinct members paid or voted.",
        "",
        "Notes:",
        "",
        f"* Latency here is mostly waiting for a CPU: the two gunicorn workers used "
        f"{share:.2f} of a core on average (load average {memory['loadavg_1min']['mean']} on "
        f"{result['machine']['cores']} cores, with locust and PostgreSQL on the same machine). "
        "The soak's criteria are the 5xx count, memory and accounting; the HTTP pages benchmark "
        "(`http_pages`) is where page latency is measured against a floor.",
        "* Logins go through the real form (GET `/masuk` for the CSRF token, POST phone and "
        "password; CSRF on, as in production). The login rate limit (`KMP_LOGIN_RATE_LIMIT`, "
        "5 per minute per client IP, all simulated users share 127.0.0.1) counts failed logins "
        "only (`deduct_when`), so the soak keeps it on unchanged: every login succeeds and none "
        "is throttled. Every generated user has one password hash, computed once by the "
        "generator.",
        "* Payments: the member starts the payment in the app (the fake gateway of the testing "
        "configuration issues the checkout); the locustfile then plays Midtrans: it records the "
        "settlement in the fake gateway's store (the table the app's GET-status reads) and POSTs "
        "the signed notification to `/payments/midtrans/notification`, 10 % of the time twice "
        "(a Midtrans retry must answer `duplicate`), then follows the return URL to the receipt.",
        "* Votes: one secret yes/no proposal opened through `governance.services` before the "
        "run (census frozen); it allows changing one's vote, so every vote task posts a vote.",
        "* The current month of simpanan wajib is billed after the census is frozen; a pay "
        "task pays that month (70 % of the time while it is open) or a sukarela deposit of "
        "Rp 10.000–200.000.",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=300, help="member logins (>= users)")
    parser.add_argument("--spawn-rate", type=float, default=4.0)
    parser.add_argument("--wait", default="0.5,2.0", help="think time range in seconds")
    parser.add_argument("--bound-mb", type=float, default=50.0)
    parser.add_argument(
        "--db",
        default=os.environ.get("KMP_BENCH_DATABASE_URL") or DEFAULT_DB,
        help="PostgreSQL server where a fresh database may be created",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the result files")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help=f"only re-render {NOTES_PATH.relative_to(ROOT)} from {RESULT_PATH.name}",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        markdown = render_markdown(json.loads(RESULT_PATH.read_text()))
        NOTES_PATH.write_text(markdown)
        print(markdown)
        return 0
    if args.accounts < args.users:
        parser.error("--accounts must be at least --users (no two users share a member)")
    wait = [float(x) for x in args.wait.split(",")]

    from sqlalchemy.engine import make_url

    from bench.harness import Database, code_version, log, machine_info
    from kmp import create_app
    from kmp.extensions import db

    database = Database.parse(args.db)
    if database.kind != "postgresql":
        parser.error("the soak runs on PostgreSQL")
    command = "python -m bench.soak " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    machine = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="kmp_soak_"))
    log(f"soak: {command}; work files in {workdir}")
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with database.fresh("soak") as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            setup = prepare(app, args.members, args.accounts)
            db.session.remove()
            db.engine.dispose()
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        config_path = workdir / "config.json"
        record_path = workdir / "records.jsonl"
        codes_path = workdir / "codes.json"
        config_path.write_text(
            json.dumps(
                {
                    "accounts": setup["accounts"],
                    "password": setup["password"],
                    "proposal_id": setup["proposal_id"],
                    "dsn": dsn,
                    "server_key": setup["server_key"],
                    "record_path": str(record_path),
                    "codes_path": str(codes_path),
                    "final_stats_path": str(workdir / "final_stats.json"),
                    "wait_seconds": wait,
                }
            )
        )
        gunicorn_log = workdir / "gunicorn.log"
        proc, port = serve(url, gunicorn_log)
        log(
            f"gunicorn master {proc.pid} on port {port}; locust {args.users} users for "
            f"{args.minutes:g} min"
        )
        sampler = Sampler(proc.pid, dsn)
        sampler.start()
        try:
            locust = run_locust(
                port=port,
                users=args.users,
                spawn_rate=args.spawn_rate,
                minutes=args.minutes,
                workdir=workdir,
                env={"KMP_SOAK_CONFIG": str(config_path)},
                sampler=sampler,
            )
        finally:
            sampler.stop()
            from bench import http_pages

            http_pages._stop(proc)
        finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        log(f"locust done ({locust}); accounting")
        records = read_records(record_path)
        with app.app_context():
            checks = account(setup["proposal_id"], records)
            db.session.remove()
            db.engine.dispose()
        version = database.version()

    stats_text = (
        (workdir / "locust_stats.csv").read_text()
        if (workdir / "locust_stats.csv").exists()
        else ""
    )
    failures_text = (
        (workdir / "locust_failures.csv").read_text()
        if (workdir / "locust_failures.csv").exists()
        else ""
    )
    codes = json.loads(codes_path.read_text()) if codes_path.exists() else {}
    final_path = workdir / "final_stats.json"
    if final_path.exists():  # complete (see the locustfile); the CSV files are the fallback
        final = json.loads(final_path.read_text())
        requests, failures = final["requests"], final["failures"]
    else:
        requests, failures = parse_stats_csv(stats_text), parse_failures_csv(failures_text)
    csv_total = next((r for r in parse_stats_csv(stats_text) if r["name"] == "Aggregated"), None)
    five_xx = count_5xx(codes)
    gunicorn_text = gunicorn_log.read_text(errors="replace") if gunicorn_log.exists() else ""
    memory = memory_summary(
        sampler.samples,
        min(REFERENCE_SECONDS, args.minutes * 60 * 0.2),
        args.bound_mb,
        window_s=min(60.0, max(10.0, args.minutes * 60 * 0.1)),
    )
    settled = [r for r in records if r["kind"] == "payment_settled"]
    votes = [r for r in records if r["kind"] == "vote"]
    # (not `import locust`: that would monkey-patch this process with gevent)
    locust_version = importlib.metadata.version("locust")
    result = {
        "name": "soak",
        "started_at": started_at,
        "finished_at": finished_at,
        "command": command,
        "code": code_version(),
        "machine": machine,
        "database_version": version,
        "minutes": args.minutes,
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "wait_seconds": wait,
        "members": args.members,
        "months": setup["months"],
        "postings": setup["postings"],
        "census_size": setup["census_size"],
        "accounts": [a["member_no"] for a in setup["accounts"]],
        "server": {"workers": 2, "worker_class": "sync"},
        "locust_version": locust_version,
        "locust": locust,
        "requests": requests,
        "failures": failures,
        "status_codes": codes,
        "five_xx": five_xx,
        "five_xx_total": sum(five_xx.values()),
        "csv_aggregated_requests": csv_total["requests"] if csv_total else None,
        "gunicorn_log_tracebacks": gunicorn_text.count("Traceback (most recent call last)"),
        "gunicorn_log_lines": len(gunicorn_text.splitlines()),
        "gunicorn_log_tail": gunicorn_text[-20000:],
        "memory": memory,
        "cpu": cpu_used(sampler.samples),
        "samples": sampler.samples,
        "accounting": checks,
        "payments": {
            "settled": len(settled),
            "amount_idr": sum(r["amount_idr"] for r in settled),
            "by_purpose": dict(Counter(r["purpose"] for r in settled)),
            "retries": sum(1 for r in records if r["kind"] == "notification_retried"),
        },
        "votes": {"successful": len(votes), "voters": len({r["member_id"] for r in votes})},
        "members_active": len({r["member_id"] for r in records if "member_id" in r}),
        "workdir": str(workdir),
    }
    total = next((r for r in requests if r["name"] == "Aggregated"), None)
    result["passed"] = bool(
        total
        and total["requests"] > 0
        and result["five_xx_total"] == 0
        and memory["within_bound"]
        and all(c["ok"] for c in checks)
        and locust["exit_code"] == 0
    )
    markdown = render_markdown(result)
    (workdir / "soak_result.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    if not args.no_write:
        RESULT_PATH.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        NOTES_PATH.write_text(markdown)
        log(f"wrote {RESULT_PATH.relative_to(ROOT)} and {NOTES_PATH.relative_to(ROOT)}")
    if gunicorn_text.strip():
        log(f"gunicorn log ({gunicorn_log}), last lines:\n{gunicorn_text[-3000:]}")
    print(markdown)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
