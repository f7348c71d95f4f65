"""Casting through the HTTP app (governance, issue 6): members casting secret votes through
the real routes of the KMP app served by gunicorn (``bench.http_app:kmp``, 2 sync workers),
driven by 16 concurrent connections from a separate load process.

Setup (not timed): the generator loads N members (1 month of history); secret yes/no proposals
are created and opened through ``governance.services`` (each freezes the census of all eligible
members); V = ``min(N, 10,000)`` voters spread over the census each get a signed Flask-Login
session cookie. Timed: each voter does what the phone does: ``GET /pemungutan/<id>`` (the
ballot page; the CSRF token is read from the form and the session cookie it sets is kept) then
``POST /pemungutan/<id>/pilih`` with the token and an option (the 303 to the receipt page is
not followed). Ballots/s = V / the wall time of its slices (first request to last response of
each). Verified afterwards (not timed): every GET 200 with a voting form, every POST a 303 to
``/tanda-terima``, exactly V participations and V secret choices, no member twice, and
``governance.services.tally_of`` counting exactly the options sent.

Floor: ``bench.http_app:bare_vote`` under the same gunicorn settings and the same load
process: per voter a ``GET /bare`` and a ``POST /bare/vote`` that inserts the same
participation and choice rows with bare Core and one commit (no session, CSRF, lock, census
lookup or duplicate check), on its own proposal. Both servers stay up and the V voters go in
``CHUNKS`` slices, KMP and floor alternating slice by slice, so both sides see the same
neighbours on this shared machine; ratio = floor seconds / KMP seconds over all slices (the
same V on both sides), and *ratio per round* is per slice.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import threading
import time
from urllib.parse import urlencode

from sqlalchemy import text

from bench.harness import child_pids

NAME = "governance_casting_http"
TITLE = "Casting votes through the HTTP app (governance, gunicorn)"
DEFAULT_SIZES = (10_000, 100_000)
LARGE_SIZES = (1_000_000,)
VOTES = int(os.environ.get("KMP_BENCH_CASTING_VOTES", "10000"))
CONNECTIONS = 16
WARMUP_VOTERS = 64
CHUNKS = 5
TARGET = 0.25
UNIT = "ballots/s"
OPTIONS = ("yes", "no", "yes", "abstain", "no", "yes", "yes")
FLOOR_NAME = (
    "a bare Flask app under the same gunicorn settings and load client: per ballot GET /bare "
    "and POST /bare/vote inserting the same participation + secret-choice rows with bare Core, "
    "one commit (no session, CSRF, lock, census lookup or duplicate check)"
)
_CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


# --------------------------------------------------------------------------- setup


def _voters(proposal_id: int, count: int) -> list[tuple[int, int, str]]:
    """(member_id, user_id, group_code) of ``count`` census members spread over the census."""
    from kmp.extensions import db

    rows = db.session.execute(
        text(
            "SELECT c.member_id, m.user_id, c.group_code FROM ballot_census c "
            "JOIN members m ON m.id = c.member_id "
            "WHERE c.proposal_id = :p AND m.user_id IS NOT NULL ORDER BY c.member_id"
        ),
        {"p": proposal_id},
    ).all()
    step = max(1, len(rows) // max(1, min(count, len(rows))))
    return [(r[0], r[1], r[2]) for r in rows[::step][:count]]


def _cookies(user_ids: list[int]) -> list[str]:
    from flask import current_app
    from sqlalchemy import select

    from bench.http_pages import _session_cookies
    from kmp.auth import User
    from kmp.extensions import db

    # one query for all the users; _session_cookies then finds each in the identity map
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    if len(users) != len(set(user_ids)):
        raise RuntimeError("a voter has no login")
    return _session_cookies(current_app._get_current_object(), user_ids)


# --------------------------------------------------------------------------- measuring


def _cpu(pids) -> dict[int, float]:
    from bench.harness import _proc_cpu_seconds

    found = {pid: _proc_cpu_seconds(pid) for pid in pids}
    return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def _hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _set_cookie(response, fallback: str) -> str:
    for header in response.headers.get_all("Set-Cookie") or ():
        if header.startswith("session="):
            return header.split(";", 1)[0]
    return fallback


def _one_kmp(conn, job, record) -> None:
    proposal_id, cookie, option = job
    page = f"/pemungutan/{proposal_id}"
    t0 = time.perf_counter()
    conn.request("GET", page, headers={"Cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    t1 = time.perf_counter()
    match = _CSRF.search(body)
    if response.status != 200 or match is None or b'name="option"' not in body:
        record(t1 - t0, None, f"GET {page} {response.status} (no voting form)")
        return
    cookie = _set_cookie(response, cookie)
    form = urlencode({"csrf_token": match.group(1).decode(), "option": option})
    conn.request(
        "POST",
        f"{page}/pilih",
        body=form,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    response.read()
    t2 = time.perf_counter()
    location = response.getheader("Location") or ""
    ok = response.status == 303 and location.endswith(f"{page}/tanda-terima")
    record(t1 - t0, t2 - t1, None if ok else f"POST {response.status} -> {location}")


def _one_floor(conn, job, record) -> None:
    proposal_id, member_id, group, option = job
    t0 = time.perf_counter()
    conn.request("GET", "/bare")
    response = conn.getresponse()
    response.read()
    t1 = time.perf_counter()
    if response.status != 200:
        record(t1 - t0, None, f"GET /bare {response.status}")
        return
    form = urlencode(
        {"proposal_id": proposal_id, "member_id": member_id, "group_code": group, "option": option}
    )
    conn.request(
        "POST",
        "/bare/vote",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    response.read()
    t2 = time.perf_counter()
    record(t1 - t0, t2 - t1, None if response.status == 200 else f"POST {response.status}")


def _load_client(pipe, port: int, kind: str, jobs: list) -> None:
    """The load process: CONNECTIONS threads, each with its own http.client connection,
    taking the next voter from a shared list until none is left."""
    try:
        one = _one_kmp if kind == "kmp" else _one_floor
        lock = threading.Lock()
        position = [0]
        gets: list[float] = []
        posts: list[float] = []
        errors: list[str] = []

        def record(get_s, post_s, error) -> None:
            with lock:
                gets.append(get_s)
                if post_s is not None:
                    posts.append(post_s)
                if error is not None:
                    errors.append(error)

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            while True:
                with lock:
                    i = position[0]
                    position[0] += 1
                if i >= len(jobs):
                    break
                try:
                    one(conn, jobs[i], record)
                except (OSError, http.client.HTTPException) as error:
                    conn.close()
                    record(0.0, None, f"{type(error).__name__}: {error}")
            conn.close()

        threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
        pipe.send(
            {
                "wall": wall,
                "client_cpu": time.process_time() - cpu0,
                "gets": gets,
                "posts": posts,
                "errors": errors,
            }
        )
    except BaseException as error:  # noqa: BLE001 - reported to the measuring process
        pipe.send({"crash": repr(error)})
    finally:
        pipe.close()


def _drive(port: int, kind: str, jobs: list) -> dict:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    proc = context.Process(target=_load_client, args=(sender, port, kind, jobs))
    proc.start()
    sender.close()
    try:
        result = receiver.recv()
    finally:
        proc.join()
    if "crash" in result:
        raise RuntimeError(f"load client failed: {result['crash']}")
    return result


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000, 2)


class _Served:
    """One gunicorn server (``bench.http_app:<target>``) kept up for the whole timed part."""

    def __init__(self, target: str, url: str, probe: str, kind: str) -> None:
        from bench.harness import ServerBackends
        from bench.http_pages import _gunicorn

        self.kind = kind
        self.proc, self.port = _gunicorn(target, url, probe)
        self.backends = ServerBackends(url) if url.startswith("postgresql") else None
        self.workers = child_pids(self.proc.pid)

    def warm(self, requests: list[tuple[str, str]]) -> None:
        for path, cookie in requests:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            c.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            c.getresponse().read()
            c.close()

    def drive(self, jobs: list) -> dict:
        """Drive ``jobs`` through the load process; wall time, latencies and the CPU spent by
        the workers, the PostgreSQL backends (all of this database's: the other server is
        idle meanwhile) and the load client."""
        workers0 = _cpu(self.workers)
        pg0 = self.backends.cpu_by_pid() if self.backends else {}
        load = _drive(self.port, self.kind, jobs)
        workers1 = _cpu(self.workers)
        pg1 = self.backends.cpu_by_pid() if self.backends else {}
        load["worker_cpu"] = sum(v - workers0.get(pid, 0.0) for pid, v in workers1.items())
        load["pg_cpu"] = (
            sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items()) if self.backends else None
        )
        load["ballots"] = len(jobs)
        return load

    def peak_rss_mb(self) -> float:
        return round(max((_hwm_mb(pid) for pid in self.workers), default=0.0), 1)

    def stop(self) -> None:
        from bench.http_pages import _stop

        if self.backends is not None:
            self.backends.close()
        _stop(self.proc)


def _summary(chunks: list[dict], peak_rss_mb: float) -> dict:
    from bench.harness import _read

    wall = sum(c["wall"] for c in chunks)
    ballots = sum(c["ballots"] for c in chunks)
    gets = [x for c in chunks for x in c["gets"]]
    posts = [x for c in chunks for x in c["posts"]]
    errors = [e for c in chunks for e in c["errors"]]
    worker_cpu = sum(c["worker_cpu"] for c in chunks)
    pg = [c["pg_cpu"] for c in chunks if c["pg_cpu"] is not None]
    pg_cpu = sum(pg) if pg else None
    client_cpu = sum(c["client_cpu"] for c in chunks)
    return {
        "seconds": wall,
        "chunk_seconds": [round(c["wall"], 3) for c in chunks],
        "chunk_cpu_seconds": [
            round(c["worker_cpu"] + (c["pg_cpu"] or 0.0) + c["client_cpu"], 3) for c in chunks
        ],
        "ballots_per_s": round(ballots / wall, 1),
        "post_p50_ms": _pct(posts, 50),
        "post_p90_ms": _pct(posts, 90),
        "post_p99_ms": _pct(posts, 99),
        "get_p50_ms": _pct(gets, 50),
        "get_p99_ms": _pct(gets, 99),
        "posts": len(posts),
        "errors": len(errors),
        "error_samples": errors[:5],
        "worker_cpu_s": round(worker_cpu, 2),
        "pg_backend_cpu_s": None if pg_cpu is None else round(pg_cpu, 2),
        "client_cpu_s": round(client_cpu, 2),
        "cpu_seconds": worker_cpu + (pg_cpu or 0.0) + client_cpu,
        "worker_peak_rss_mb": peak_rss_mb,
        "loadavg": float((_read("/proc/loadavg").split() or ["0"])[0]),
    }


def _verify(proposal_id: int, voters: list, sent: dict[str, int]) -> dict:
    """Not timed: V participations, V choices, nobody twice, tally = options sent."""
    from governance.models import Proposal
    from governance.services import tally_of
    from kmp.extensions import db

    params = {"p": proposal_id}
    participations, distinct = db.session.execute(
        text(
            "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM ballot_participations "
            "WHERE proposal_id = :p"
        ),
        params,
    ).one()
    choices = db.session.execute(
        text("SELECT COUNT(*) FROM ballot_choices WHERE proposal_id = :p"), params
    ).scalar()
    expected = {m for m, _u, _g in voters}
    voted = set(
        db.session.execute(
            text("SELECT member_id FROM ballot_participations WHERE proposal_id = :p"), params
        ).scalars()
    )
    tally = tally_of(db.session.get(Proposal, proposal_id))
    counted = {k: v for k, v in tally["total_counts"].items() if v}
    checks = {
        "participations": participations,
        "choices": choices,
        "distinct_voters": distinct,
        "voters_match": voted == expected,
        "tally_counts": counted,
        "sent_counts": dict(sent),
        "tally_participations": tally["participations"],
    }
    v = len(voters)
    checks["ok"] = bool(
        participations == choices == distinct == tally["participations"] == v
        and voted == expected
        and counted == dict(sent)
    )
    return checks


def phase(timer, *, n: int, votes: int) -> dict:
    from collections import Counter

    from bench.generate import generate
    from kmp.extensions import db

    with db.engine.connect() as conn:
        generate(conn, members=n, months=1)
    db.session.commit()
    from bench.governance_tally import open_secret_proposal

    kmp_id = open_secret_proposal("Usulan benchmark (HTTP)")
    floor_id = open_secret_proposal("Usulan lantai")
    voters = _voters(kmp_id, votes)
    if len(voters) < votes:
        raise RuntimeError(f"only {len(voters)} voters with a login in the census of {n}")
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    cookies = _cookies([u for _m, u, _g in voters])
    options = [OPTIONS[i % len(OPTIONS)] for i in range(len(voters))]
    sent = dict(Counter(options))
    kmp_jobs = [(kmp_id, c, o) for c, o in zip(cookies, options, strict=True)]
    floor_jobs = [(floor_id, m, g, o) for (m, _u, g), o in zip(voters, options, strict=True)]
    kmp_warmup = [(f"/pemungutan/{kmp_id}", c) for c in cookies[:WARMUP_VOTERS]]
    floor_warmup = [("/bare", "")] * WARMUP_VOTERS
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    db.engine.dispose()
    size = -(-len(voters) // CHUNKS)
    slices = [slice(i, i + size) for i in range(0, len(voters), size)]
    chunks: dict[str, list] = {"kmp": [], "floor": []}
    floor = kmp = None
    try:
        floor = _Served("bare_vote", url, "/bare", "floor")
        kmp = _Served("kmp", url, "/healthz", "kmp")
        floor.warm(floor_warmup)
        kmp.warm(kmp_warmup)
        with timer:
            # the two sides alternate slice by slice, so both see the same neighbours
            for i, part in enumerate(slices):
                order = (("floor", floor, floor_jobs), ("kmp", kmp, kmp_jobs))
                for side, served, jobs in order if i % 2 == 0 else order[::-1]:
                    chunks[side].append(served.drive(jobs[part]))
        runs = {
            "kmp": _summary(chunks["kmp"], kmp.peak_rss_mb()),
            "floor": _summary(chunks["floor"], floor.peak_rss_mb()),
        }
    finally:
        for served in (floor, kmp):
            if served is not None:
                served.stop()
    checks = _verify(kmp_id, voters, sent)
    return {
        "runs": runs,
        "checks": checks,
        "floor_checks_ok": _verify(floor_id, voters, sent)["ok"],
        "votes": len(voters),
    }


def run(ctx) -> list[dict]:
    from bench.harness import log, make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        votes = min(n, VOTES)
        measured = ctx.measure(f"{NAME}_{n}", phase, n=n, votes=votes)
        runs, checks = measured["runs"], measured["checks"]
        kmp, floor = runs["kmp"], runs["floor"]
        for label, r in (("kmp", kmp), ("floor", floor)):
            log(
                f"{NAME} n={n} {ctx.database.label} {label}: {r['ballots_per_s']} ballots/s, "
                f"POST p50 {r['post_p50_ms']} ms p99 {r['post_p99_ms']} ms, GET p50 "
                f"{r['get_p50_ms']} ms, errors {r['errors']}, CPU workers {r['worker_cpu_s']} s "
                f"pg {r['pg_backend_cpu_s']} s client {r['client_cpu_s']} s, slices "
                f"{r['chunk_seconds']} s"
            )
        bad = [(k, r["errors"], r["error_samples"]) for k, r in runs.items() if r["errors"]]
        if bad or not checks["ok"] or not measured["floor_checks_ok"]:
            raise RuntimeError(f"casting checks failed: errors {bad}, checks {checks}")
        slices = list(zip(floor["chunk_seconds"], kmp["chunk_seconds"], strict=True))
        cpu_slices = list(zip(floor["chunk_cpu_seconds"], kmp["chunk_cpu_seconds"], strict=True))
        subject = {
            "seconds": kmp["seconds"],
            "cpu_seconds": kmp["cpu_seconds"],
            "cpu_scope": "gunicorn workers + PostgreSQL backends + load client"
            if kmp["pg_backend_cpu_s"] is not None
            else "gunicorn workers (SQLite in-process) + load client",
            "peak_memory_mb": kmp["worker_peak_rss_mb"],
            "memory_method": "peak RSS (VmHWM) of the largest gunicorn worker, whole process",
            "loadavg": kmp["loadavg"],
            "runs_seconds": kmp["chunk_seconds"],
            "runs_ratio": [round(f / k, 3) for f, k in slices],
            "runs_cpu_ratio": [round(f / k, 3) if k else None for f, k in cpu_slices],
        }
        floor_side = {
            "seconds": floor["seconds"],
            "cpu_seconds": floor["cpu_seconds"],
            "peak_memory_mb": floor["worker_peak_rss_mb"],
            "loadavg": floor["loadavg"],
            "runs_seconds": floor["chunk_seconds"],
        }
        v = measured["votes"]
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor_side,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="throughput",
            target_value=TARGET,
            extra={
                "title": TITLE,
                "members": n,
                "votes": v,
                "slices": CHUNKS,
                "connections": CONNECTIONS,
                "gunicorn_workers": 2,
                "settings": "gunicorn -w 2 (sync) on bench.http_app:kmp and :bare_vote, "
                f"{CONNECTIONS} connections from one load process (threads, http.client), "
                f"loopback, GET ballot page + POST vote per ballot, the V voters in {CHUNKS} "
                "slices alternating KMP and floor",
                "post_p50_ms": kmp["post_p50_ms"],
                "post_p90_ms": kmp["post_p90_ms"],
                "post_p99_ms": kmp["post_p99_ms"],
                "get_p50_ms": kmp["get_p50_ms"],
                "get_p99_ms": kmp["get_p99_ms"],
                "floor_post_p50_ms": floor["post_p50_ms"],
                "floor_post_p99_ms": floor["post_p99_ms"],
                "floor_get_p50_ms": floor["get_p50_ms"],
                "cpu_ms_per_ballot": {
                    side: {
                        "workers": round(r["worker_cpu_s"] / v * 1000, 2),
                        "postgresql": None
                        if r["pg_backend_cpu_s"] is None
                        else round(r["pg_backend_cpu_s"] / v * 1000, 2),
                        "client": round(r["client_cpu_s"] / v * 1000, 2),
                    }
                    for side, r in (("kmp", kmp), ("floor", floor))
                },
                "non_2xx_3xx": 0,
                "checks": checks,
                "checks_ok": checks["ok"],
            },
        )
        # throughput per ballot, not per member: N is the size of the census
        result["throughput"] = round(v / kmp["seconds"], 1)
        result["floor_throughput"] = round(v / floor["seconds"], 1)
        result["target"] = (
            "no target in issue 6 (report ballots/s through HTTP); guide: ratio >= 0.25 "
            "(at least 25% of the bare endpoint's ballots/s)"
        )
        results.append(result)
    return results
