"""HTTP pages: the member dashboard (``/anggota``), the member statement
(``/buku-besar/saya``) and the member register search (``/pengurus/anggota?q=<member no>``)
served by gunicorn (2 sync workers) from the synthetic cooperative, driven by ``wrk`` (2
threads, 16 connections, on loopback) beside a bare Flask endpoint under the same gunicorn
settings (the floor).

Requests rotate over 500 members spread over the whole register (each request carries that
member's signed session cookie) so the pages are not served from one warm row; the register
search rotates over 500 member numbers. Each page gets a short warm-up, then a timed run.
The database holds N members with 12 months of history (62 months at N >= 100,000:
10,841,735 postings, so the ledger holds the 10,000,000 or more issue 9 asks; 58 months gave
only 9,108,952).
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
TARGET_RATIO = 0.40
TARGET_P99_MS = 100.0
CONNECTIONS = 16
THREADS = 2
WORKERS = 2
DURATION_S = int(os.environ.get("KMP_BENCH_HTTP_SECONDS", "10"))
WARMUP_S = 2
SAMPLE = 500
ROOT = Path(__file__).resolve().parent.parent
PAGES = (
    ("dashboard", "member dashboard /anggota"),
    ("statement", "member statement /buku-besar/saya"),
    ("register_search", "member register search /pengurus/anggota?q="),
)
FLOOR_NAME = "a bare Flask endpoint returning 'ok' under the same gunicorn and wrk settings"


def months_for(n: int) -> int:
    return 62 if 100_000 <= n < 1_000_000 else 12


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
        '  return wrk.format("GET", r[1], {["Cookie"] = r[2]})',
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


def _session_cookies(app, user_ids: list[int]) -> list[str]:
    """Signed Flask session cookies as a real login would leave them: Flask-Login's user id
    and the CSRF token the login form put in the session (without it every page would mint
    a token and re-sign the session cookie, which no browser after its first page does)."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from kmp.auth import User
    from kmp.extensions import db

    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    cookies = []
    for uid in user_ids:
        with app.test_request_context("/"):
            login_user(db.session.get(User, uid))
            session.permanent = True  # as kmp.views._finish_login leaves it
            generate_csrf()
            cookies.append(f"{name}={serializer.dumps(dict(session))}")
    return cookies


def _board_user() -> int:
    from werkzeug.security import generate_password_hash

    from kmp.auth import PASSWORD_METHOD, Role, User, UserRole
    from kmp.extensions import db

    user = User(
        phone="+6281100000001",
        full_name="Pengurus Benchmark",
        password_hash=generate_password_hash("kmp-bench-password", method=PASSWORD_METHOD),
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(UserRole(user_id=user.id, role=Role.PENGURUS))
    db.session.commit()
    return user.id


def phase(timer, *, n: int) -> dict:
    from flask import current_app
    from sqlalchemy import select

    from bench.generate import generate
    from kmp.extensions import db
    from members.register.models import Member

    with db.engine.connect() as conn:
        stats = generate(conn, members=n, months=months_for(n))
    db.session.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    rows = db.session.execute(
        select(Member.id, Member.user_id, Member.member_no)
        .where(Member.status == "active")
        .order_by(Member.id)
    ).all()
    step = max(1, len(rows) // SAMPLE)
    sample = rows[::step][:SAMPLE]
    app = current_app._get_current_object()
    member_cookies = _session_cookies(app, [r.user_id for r in sample])
    board_cookie = _session_cookies(app, [_board_user()])[0]
    db.session.remove()
    db.engine.dispose()
    workdir = tempfile.mkdtemp(prefix="kmp_bench_http_")
    scripts = {
        "dashboard": [("/anggota", c) for c in member_cookies],
        "statement": [("/buku-besar/saya", c) for c in member_cookies],
        "register_search": [(f"/pengurus/anggota?q={r.member_no}", board_cookie) for r in sample],
        "bare": [("/bare", "")],
    }
    paths = {}
    for key, requests in scripts.items():
        paths[key] = os.path.join(workdir, f"{key}.lua")
        _lua(paths[key], requests)
    runs: dict = {}
    try:
        with timer:
            for target, probe, keys in (
                ("bare", "/bare", ["bare"]),
                ("kmp", "/healthz", [p for p, _ in PAGES]),
            ):
                proc, port = _gunicorn(target, url, probe)
                try:
                    for key in keys:
                        _wrk(port, paths[key], WARMUP_S)
                        runs[key] = _wrk(port, paths[key], DURATION_S)
                finally:
                    _stop(proc)
            # the floor again after the pages, so both sides see the same neighbours
            proc, port = _gunicorn("bare", url, "/bare")
            try:
                runs["bare_after"] = _wrk(port, paths["bare"], DURATION_S)
            finally:
                _stop(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"runs": runs, "postings": stats["postings"], "months": months_for(n)}


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
        for key, label in PAGES:
            page = runs[key]
            if page["non_2xx"] or page["requests"] == 0:
                raise RuntimeError(f"{label}: {page['non_2xx']} non-2xx responses\n{page['raw']}")
            ratio = page["rps"] / floor["rps"] if floor["rps"] else 0.0
            met = ratio >= TARGET_RATIO and (page["p99_ms"] or 1e9) < TARGET_P99_MS
            log(
                f"{label} n={n} {ctx.database.label}: {page['rps']:.0f} req/s, p50 "
                f"{page['p50_ms']} ms, p99 {page['p99_ms']} ms; bare {floor['rps']:.0f} req/s"
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
                    "ratio": round(ratio, 3),
                    "ratio_kind": "throughput",
                    "target": f"req/s >= {TARGET_RATIO:.0%} of the bare endpoint's and p99 < "
                    f"{TARGET_P99_MS:.0f} ms at {CONNECTIONS} connections",
                    "target_met": bool(met),
                    "settings": f"gunicorn -w {WORKERS} (sync), wrk -t{THREADS} -c{CONNECTIONS} "
                    f"-d{DURATION_S}s after a {WARMUP_S}s warm-up, loopback",
                    "loadavg": measured.get("loadavg"),
                    "code": code_version(),
                    "run_at": now_utc().isoformat(timespec="seconds"),
                }
            )
    return results
