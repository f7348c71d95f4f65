"""Patronage ingestion through the partner API (issue 8, Must-show 6).

Subject: ``POST /api/v1/patronage`` with batches of ``BATCH`` records over HTTP to the KMP app
served by gunicorn (``bench.http_app:kmp``, 2 sync workers) with a real API key, from
``CLIENTS`` = 2 concurrent client connections (one per worker, so both workers are busy; each
client sends its next batch when the previous one is answered). Timed from the first request
to the last response: authentication and scope check, JSON parsing, validation of every
record, resolution of ``platform_worker_id`` to linked members, the set-based
``INSERT ... ON CONFLICT DO NOTHING`` of ``payouts.patronage.ingest_patronage``, the stored
batch result and the commit. The JSON bodies are serialised before the timer starts.

Floor: the same ``patronage_records`` rows (same count and values) written into an identical
fresh schema with a bare Core ``insert()`` executemany per batch (the driver's multi-row
path), one commit per batch, in process: no HTTP, no validation, no lookups.

Target: at least 20,000 records per second (the issue's target, absolute), reported beside
the floor.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
import time
import urllib.request

from bench.harness import _proc_cpu_seconds, child_pids
from members.partners import keys as partners_keys

NAME = "patronage_api"
TITLE = "Patronage ingestion through the partner API (HTTP, gunicorn)"
UNIT = "records/s"
DEFAULT_SIZES = (100_000,)
LARGE_SIZES = (1_000_000,)
BATCH = 10_000
WORKERS_LINKED = 2_000
WORKERS = 2
CLIENTS = 2  # concurrent client connections
TARGET_RPS = 20_000
FLOOR_NAME = (
    "bare Core insert() executemany of the same patronage_records rows, one commit per batch"
)
MEASURES = ("trips", "deliveries", "spend_idr")


def _records(n: int) -> list[dict]:
    return [
        {
            "platform_worker_id": f"BW{i % WORKERS_LINKED:06d}",
            "period": f"2025-{(i // WORKERS_LINKED) % 12 + 1:02d}",
            "measure": MEASURES[i % 3],
            "value": (i * 7919) % 500 + 1,
            "external_id": f"bench-{i:09d}",
        }
        for i in range(n)
    ]


def _setup_partner() -> tuple[int, str]:
    """An active platform company, WORKERS_LINKED active linked workers and an API key."""
    from sqlalchemy import insert, select

    from kmp.extensions import db
    from members.partners.models import WorkerLink
    from members.register.models import Member

    company = Member(
        member_no="PLT-BENCH-1",
        group_code="platform",
        kind="company",
        status="active",
        full_name="PT Benchmark",
        company_name="PT Benchmark",
        nib="9120001234599",
        platform="gojek",
    )
    db.session.add(company)
    db.session.flush()
    db.session.execute(
        insert(Member),
        [
            {
                "member_no": f"BW-{i:06d}",
                "group_code": "pengemudi",
                "kind": "individual",
                "status": "active",
                "full_name": f"Pengemudi {i}",
                "nik": f"3174{i:012d}",
                "platform": "gojek",
                "platform_worker_id": f"BW{i:06d}",
            }
            for i in range(WORKERS_LINKED)
        ],
    )
    ids = db.session.execute(
        select(Member.platform_worker_id, Member.id).where(Member.group_code == "pengemudi")
    ).all()
    db.session.execute(
        insert(WorkerLink),
        [{"member_id": mid, "company_id": company.id, "platform_worker_id": w} for w, mid in ids],
    )
    _row, key = partners_keys.create_api_key(
        company, name="bench", scopes=["patronage:write"], by_user=None
    )
    db.session.commit()
    return company.id, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, port: int) -> None:
    from gunicorn.app.base import BaseApplication

    from bench import http_app

    os.environ[http_app.ENV_URL] = url
    application = http_app.kmp()

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"127.0.0.1:{port}")
            self.cfg.set("workers", WORKERS)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("timeout", 300)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("accesslog", None)

        def load(self):
            return application

    Server().run()


def _start(url: str):
    port = _free_port()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(url, port))
    proc.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"gunicorn exited with {proc.exitcode}")
        try:
            with urllib.request.urlopen(  # noqa: S310 - local server
                f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5
            ) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    proc.join(30)
    raise RuntimeError("gunicorn did not answer")


def _workers_cpu(master_pid: int) -> float:
    """CPU seconds of the gunicorn master's worker processes (0 where /proc is unreadable)."""
    return sum(_proc_cpu_seconds(pid) or 0.0 for pid in child_pids(master_pid))


def _post(port: int, key: str, body: bytes) -> dict:
    request = urllib.request.Request(  # noqa: S310 - local server
        f"http://127.0.0.1:{port}/api/v1/patronage",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as resp:  # noqa: S310
        return json.loads(resp.read())


def subject_phase(timer, *, n: int, batch: int) -> dict:
    from sqlalchemy import func, select

    from kmp.extensions import db
    from payouts.patronage import PatronageRecord

    _company_id, key = _setup_partner()
    records = _records(n)
    bodies = [json.dumps({"records": records[i : i + batch]}).encode() for i in range(0, n, batch)]
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    proc, port = _start(url)
    try:
        results: list[dict] = []
        failures: list[BaseException] = []
        pending = iter(bodies)
        lock = threading.Lock()

        def client() -> None:
            while not failures:
                with lock:
                    body = next(pending, None)
                if body is None:
                    return
                try:
                    result = _post(port, key, body)
                except BaseException as error:  # noqa: BLE001 - re-raised below
                    failures.append(error)
                    return
                with lock:
                    results.append(result)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        deadline = time.monotonic() + 15
        while len(child_pids(proc.pid)) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)  # every worker booted before the timer starts
        workers_cpu = _workers_cpu(proc.pid)
        with timer:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        # the app runs in the gunicorn workers: count their CPU too (the CPU ratio)
        if timer.cpu_seconds is not None:
            timer.cpu_seconds += _workers_cpu(proc.pid) - workers_cpu
            timer.cpu_scope += " + the gunicorn workers"
        if failures:
            raise failures[0]
        inserted = sum(r["inserted"] for r in results)
        rejected = sum(r["rejected"] for r in results)
    finally:
        proc.terminate()
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    stored = db.session.scalar(select(func.count(PatronageRecord.id)))
    if inserted != n or stored != n or rejected:
        raise RuntimeError(f"expected {n} rows, inserted {inserted}, stored {stored}")
    return {
        "records_inserted": inserted,
        "requests": len(bodies),
        "gunicorn_workers": WORKERS,
        "clients": CLIENTS,
    }


def floor_phase(timer, *, n: int, batch: int) -> dict:
    from sqlalchemy import insert, select

    from kmp.extensions import db
    from kmp.timeutil import now_utc
    from members.register.models import Member
    from payouts.patronage import PatronageRecord

    company_id, _key = _setup_partner()
    member_of = dict(
        db.session.execute(
            select(Member.platform_worker_id, Member.id).where(Member.group_code == "pengemudi")
        ).all()
    )
    records = _records(n)
    table = PatronageRecord.__table__
    with timer:
        created = now_utc()
        for start in range(0, n, batch):
            rows = [
                {
                    "member_id": member_of[r["platform_worker_id"]],
                    "period": r["period"],
                    "measure": r["measure"],
                    "value": r["value"],
                    "source": "api",
                    "source_ref": f"partner:{company_id}",
                    "external_id": r["external_id"],
                    "created_at": created,
                }
                for r in records[start : start + batch]
            ]
            with db.engine.begin() as conn:
                conn.execute(insert(table), rows)
    return {"records_inserted": n}


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n, batch=BATCH)
        results.append(
            make_result(
                name=NAME,
                ctx=ctx,
                n=n,
                subject=subject,
                floor=floor,
                floor_name=FLOOR_NAME,
                unit=UNIT,
                ratio_kind="throughput",
                target_value=0.0,
                min_throughput=TARGET_RPS,
                extra={
                    "title": TITLE,
                    "batch": BATCH,
                    "requests": subject.get("requests"),
                    "gunicorn_workers": WORKERS,
                    "clients": CLIENTS,
                },
            )
        )
    return results
