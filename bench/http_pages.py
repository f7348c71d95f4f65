"""HTTP pages (issue 25): every main member page (dashboard, savings, statement, ballot, my
SHU, the partner dashboard) and the board's pages (member list, register search, the SHU run
page) served by gunicorn (2 sync workers) from the synthetic cooperative of
``bench.request_world``, driven by ``wrk`` (2 threads, 16 connections, loopback) with a phone's
``Accept-Encoding: gzip``, beside a bare Flask endpoint under the same gunicorn settings (the
floor). Per request kind: req/s, p50/p99, the gunicorn workers' CPU ms per request (from
/proc), the SQL statements of one request, and the ratio to the floor's req/s.

Requests rotate over 200 members spread over the whole register (each with that member's
signed session cookie), so the pages are not served from one warm row; board pages rotate
over a few pages. Each kind gets a short warm-up, then a timed run. The database holds N
members with 13 months of history (62 at N >= 100,000: 10,841,735 postings, the 10,000,000
or more issue 9 asks).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NAME = "http_pages"
TITLE = "HTTP pages (gunicorn 2 workers, wrk 16 connections)"
DEFAULT_SIZES = (10_000, 100_000)
LARGE_SIZES = (1_000_000,)
TARGET_RATIO = 0.10  # member pages: >= 10 % of the bare route's req/s (issue 25)
TARGET_P99_MS = 50.0
TARGET_BOARD_CPU_MS = 10.0  # board pages: <= 10 ms of server CPU per request
BOARD_KINDS = ("register", "register_search", "shu_run")
CONNECTIONS = 16
THREADS = 2
WORKERS = 2
DURATION_S = int(os.environ.get("KMP_BENCH_HTTP_SECONDS", "10"))
WARMUP_S = 2
ROOT = Path(__file__).resolve().parent.parent
FLOOR_NAME = "a bare Flask endpoint returning 'ok' under the same gunicorn and wrk settings"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(target: str, url: str, port: int) -> None:
    """Run gunicorn (master + WORKERS sync workers) in this forked process on the code this
    benchmark run already imported: the app is built here and the workers fork from it."""
    from gunicorn.app.base import BaseApplication

    from bench import http_app

    os.environ[http_app.ENV_URL] = url
    application = getattr(http_app, target)()

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"127.0.0.1:{port}")
            self.cfg.set("workers", WORKERS)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("loglevel", "warning")
            self.cfg.set("accesslog", None)

        def load(self):
            return application

    Server().run()


def _gunicorn(target: str, url: str, probe: str):
    import multiprocessing
    import urllib.request

    port = _free_port()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(target, url, port))
    proc.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"gunicorn {target} exited with {proc.exitcode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=5) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    _stop(proc)
    raise RuntimeError(f"gunicorn {target} did not answer {probe}")


def _stop(proc) -> None:
    proc.terminate()  # SIGTERM: gunicorn's graceful shutdown of master and workers
    proc.join(30)
    if proc.is_alive():
        proc.kill()
        proc.join()


def _lua(path: str, requests: list[tuple[str, str]]) -> None:
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["local reqs = {"]
    lines += [f"  {{{q(p)}, {q(c)}}}," for p, c in requests]
    lines += [
        "}",
        "request = function()",
        "  local r = reqs[math.random(#reqs)]",
        '  return wrk.format("GET", r[1], {["Cookie"] = r[2], ["Accept-Encoding"] = "gzip"})',
        "end",
    ]
    Path(path).write_text("\n".join(lines) + "\n")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict:
    result: dict = {}
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(match.group(1)) if match else 0.0
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", output, re.M)
        result[f"p{pct}_ms"] = round(_ms(match.group(1)), 2) if match else None
    match = re.search(r"(\d+) requests in", output)
    result["requests"] = int(match.group(1)) if match else 0
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors:.*", output)
    result["socket_errors"] = match.group(0) if match else ""
    return result


def _wrk(port: int, script: str, seconds: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script,
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    result = parse_wrk(out)
    result["raw"] = out
    return result


def _workers_cpu(master_pid: int) -> float:
    """CPU seconds of gunicorn's workers (the master's children)."""
    from bench.harness import _proc_cpu_seconds, child_pids

    return sum(_proc_cpu_seconds(pid) or 0.0 for pid in child_pids(master_pid))


def _prime(port: int, requests: list[tuple[str, str]]) -> None:
    """A few sequential requests first (long timeout): each worker compiles the page's
    templates on its first request, which under load can take longer than wrk's timeout."""
    import urllib.request

    for path, cookie in (requests * 4)[:4]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            headers={"Cookie": cookie, "Accept-Encoding": "gzip"} if cookie else {},
        )
        with urllib.request.urlopen(req, timeout=120) as response:  # noqa: S310 - loopback
            response.read()


def _timed(proc, port: int, script: str, requests: list[tuple[str, str]]) -> dict:
    _prime(port, requests)
    _wrk(port, script, WARMUP_S)
    cpu0 = _workers_cpu(proc.pid)
    result = _wrk(port, script, DURATION_S)
    cpu = _workers_cpu(proc.pid) - cpu0
    done = result["requests"] or 1
    result["cpu_ms"] = round(cpu * 1000 / done, 2)
    return result


def phase(timer, *, n: int) -> dict:
    from flask import current_app

    from bench import request_world
    from kmp.extensions import db

    world = request_world.build_world(n)
    app = current_app._get_current_object()
    kinds = request_world.requests(world)
    cookies = request_world.session_cookies(
        app, {uid for reqs in kinds.values() for _, uid in reqs}
    )
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    # counted on an app of its own: this process's app context (pushed by the harness) would
    # otherwise be shared by the counted requests, and with it Flask-Login's user in ``g``
    from kmp import create_app

    counting_app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    statements = request_world.statements_per_kind(counting_app, world, cookies)
    with counting_app.app_context():
        db.session.remove()
        db.engine.dispose()
    db.session.remove()
    db.engine.dispose()
    workdir = tempfile.mkdtemp(prefix="kmp_bench_http_")
    scripts = {k: [(path, cookies[uid]) for path, uid in reqs] for k, reqs in kinds.items()}
    scripts["bare"] = [("/bare", "")]
    paths = {}
    for key, reqs in scripts.items():
        paths[key] = os.path.join(workdir, f"{key}.lua")
        _lua(paths[key], reqs)
    runs: dict = {}
    try:
        with timer:
            for target, probe, keys in (
                ("bare", "/bare", ["bare"]),
                ("kmp", "/healthz", list(request_world.KINDS)),
            ):
                proc, port = _gunicorn(target, url, probe)
                try:
                    for key in keys:
                        runs[key] = _timed(proc, port, paths[key], scripts[key])
                finally:
                    _stop(proc)
            # the floor again after the pages, so both sides see the same neighbours
            proc, port = _gunicorn("bare", url, "/bare")
            try:
                runs["bare_after"] = _timed(proc, port, paths["bare"], scripts["bare"])
            finally:
                _stop(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "runs": runs,
        "statements": statements,
        "postings": world["postings"],
        "months": world["months"],
    }


def run(ctx) -> list[dict]:
    from bench.harness import code_version, log
    from kmp.timeutil import now_utc

    if shutil.which("wrk") is None:
        log("skipped: no wrk (install Debian's 'wrk'; `make bench` does when run as root)")
        return []
    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        measured = ctx.measure(f"{NAME}_{n}", phase, n=n)
        runs = measured["runs"]
        floor_runs = [runs["bare"], runs["bare_after"]]
        floor = max(floor_runs, key=lambda r: r["rps"])
        from bench.request_world import KINDS

        for key, (label, _who) in KINDS.items():
            page = runs[key]
            if page["non_2xx"] or page["requests"] == 0:
                raise RuntimeError(f"{label}: {page['non_2xx']} non-2xx responses\n{page['raw']}")
            ratio = page["rps"] / floor["rps"] if floor["rps"] else 0.0
            board = key in BOARD_KINDS
            if board:
                met = page["cpu_ms"] <= TARGET_BOARD_CPU_MS
                target = f"server CPU <= {TARGET_BOARD_CPU_MS:.0f} ms per request, flat in N"
            else:
                met = ratio >= TARGET_RATIO and (page["p99_ms"] or 1e9) < TARGET_P99_MS
                target = (
                    f"req/s >= {TARGET_RATIO:.0%} of the bare endpoint's and p99 < "
                    f"{TARGET_P99_MS:.0f} ms at {CONNECTIONS} connections"
                )
            log(
                f"{label} n={n} {ctx.database.label}: {page['rps']:.0f} req/s, p50 "
                f"{page['p50_ms']} ms, p99 {page['p99_ms']} ms, CPU {page['cpu_ms']} ms/req, "
                f"{measured['statements'][key]} statements; bare {floor['rps']:.0f} req/s, "
                f"CPU {floor['cpu_ms']} ms/req"
            )
            results.append(
                {
                    "name": f"{NAME}:{key}",
                    "kind": "http",
                    "page": label,
                    "database": ctx.database.label,
                    "database_version": ctx.database.version(),
                    "n": n,
                    "postings": measured["postings"],
                    "months": measured["months"],
                    "rps": page["rps"],
                    "p50_ms": page["p50_ms"],
                    "p90_ms": page["p90_ms"],
                    "p99_ms": page["p99_ms"],
                    "requests": page["requests"],
                    "socket_errors": page["socket_errors"],
                    "floor_name": FLOOR_NAME,
                    "floor_rps": floor["rps"],
                    "floor_rps_runs": [r["rps"] for r in floor_runs],
                    "floor_p50_ms": floor["p50_ms"],
                    "floor_p99_ms": floor["p99_ms"],
                    "cpu_ms": page["cpu_ms"],
                    "floor_cpu_ms": floor["cpu_ms"],
                    "statements": measured["statements"][key],
                    "ratio": round(ratio, 3),
                    "ratio_kind": "throughput",
                    "target": target,
                    "target_met": bool(met),
                    "settings": f"gunicorn -w {WORKERS} (sync), wrk -t{THREADS} -c{CONNECTIONS} "
                    f"-d{DURATION_S}s after a {WARMUP_S}s warm-up, loopback, "
                    "Accept-Encoding: gzip",
                    "loadavg": measured.get("loadavg"),
                    "code": code_version(),
                    "run_at": now_utc().isoformat(timespec="seconds"),
                }
            )
    return results
