"""The benchmark harness: fresh databases, forked measurements, floors and result lines.

Every measurement (a benchmark's subject or its floor) runs in its own forked child process
against its own fresh database, so the two never share caches, connections or memory, and
the child's peak memory is its own. The floor is measured in the same run, so a result is a
ratio that survives a noisy shared machine; the absolute seconds are only context.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import platform
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from kmp.config import normalise_database_url
from kmp.timeutil import now_utc

MEMORY_METHOD_HWM = (
    "client process peak RSS growth: /proc/self/status VmHWM (reset via clear_refs) minus VmRSS "
    "at the start of the timed part, in a process forked per measurement; the database server "
    "is not included"
)
MEMORY_METHOD_RUSAGE = (
    "client process resource.getrusage(RUSAGE_SELF).ru_maxrss delta over the timed part, in a "
    "process forked per measurement; the database server is not included"
)


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON result lines."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Databases under test


@dataclass
class Database:
    """A database engine under test: SQLite (temp files) or a PostgreSQL server."""

    kind: str  # "sqlite" | "postgresql"
    server_url: str | None = None  # PostgreSQL: the maintenance database URL (user, host, ...)
    directory: str | None = None  # SQLite: where the temp files go (None: system temp dir)
    _version: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, spec: str) -> Database:
        """``sqlite`` / ``sqlite:///dir/or/file`` / ``postgresql://user@host:port/db``."""
        if spec == "sqlite" or spec.startswith("sqlite"):
            directory = None
            if spec.startswith("sqlite:///") and ":memory:" not in spec:
                path = spec[len("sqlite:///") :]
                directory = path if os.path.isdir(path) else os.path.dirname(path) or None
            return cls("sqlite", directory=directory)
        url = normalise_database_url(spec)
        if not url.startswith("postgresql"):
            raise SystemExit(f"unsupported database URL {spec!r}: use sqlite or postgresql://")
        return cls("postgresql", server_url=url)

    @property
    def label(self) -> str:
        return self.kind

    def version(self) -> str:
        if self._version is None:
            if self.kind == "sqlite":
                self._version = f"SQLite {sqlite3.sqlite_version}"
            else:
                engine = self._admin_engine()
                try:
                    with engine.connect() as conn:
                        self._version = "PostgreSQL " + str(
                            conn.execute(text("SHOW server_version")).scalar()
                        )
                finally:
                    engine.dispose()
        return self._version

    def describe(self) -> str:
        if self.kind == "sqlite":
            return f"{self.version()} (temp file, WAL, synchronous=NORMAL as the app sets them)"
        url = make_url(self.server_url).render_as_string(hide_password=True)
        return f"{self.version()} at {url}"

    def _admin_engine(self):
        return create_engine(self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    @contextlib.contextmanager
    def fresh(self, tag: str) -> Iterator[str]:
        """A brand-new empty database for one measurement, removed afterwards."""
        safe = "".join(c if c.isalnum() else "_" for c in tag.lower())[:30]
        if self.kind == "sqlite":
            folder = tempfile.mkdtemp(prefix=f"kmp_bench_{safe}_", dir=self.directory)
            try:
                yield f"sqlite:///{folder}/bench.sqlite3"
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            return
        name = f"kmp_bench_{safe}_{os.getpid()}_{secrets.token_hex(3)}"
        engine = self._admin_engine()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            yield make_url(self.server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            engine.dispose()


# --------------------------------------------------------------------------------------------
# Timing and memory inside the measuring child


def _status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _maxrss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _proc_cpu_seconds(pid: int) -> float | None:
    """user + system CPU seconds of a process on this machine (None if not readable)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers), from /proc."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return sorted(int(p) for p in handle.read().split())
    except OSError:
        pass
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


class ServerBackends:
    """CPU of the PostgreSQL backends serving one database, read from /proc when the server
    runs on this machine (loopback). Lets a result carry a CPU-time ratio beside the wall-clock
    one: CPU seconds barely move when neighbours steal the cores, wall-clock seconds do."""

    def __init__(self, url: str) -> None:
        import psycopg

        parsed = make_url(url)
        self.local = parsed.host in (None, "", "localhost", "127.0.0.1", "::1")
        self._conn = psycopg.connect(
            host=parsed.host,
            port=parsed.port,
            user=parsed.username,
            password=parsed.password,
            dbname=parsed.database,
            autocommit=True,
        )

    def cpu_by_pid(self) -> dict[int, float]:
        if not self.local:
            return {}
        pids = [
            row[0]
            for row in self._conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        found = {pid: _proc_cpu_seconds(pid) for pid in pids}
        return {pid: cpu for pid, cpu in found.items() if cpu is not None}

    def close(self) -> None:
        self._conn.close()


class Stopwatch:
    """``with timer:`` around the timed part only; records wall seconds, CPU seconds (this
    process, plus the PostgreSQL backends when the server is local) and peak memory growth."""

    def __init__(self, backends: ServerBackends | None = None) -> None:
        self.seconds: float | None = None
        self.cpu_seconds: float | None = None
        self.loadavg: float | None = None
        self.cpu_scope = "benchmark process (SQLite runs in-process)"
        self.peak_memory_mb: float | None = None
        self.memory_method = MEMORY_METHOD_RUSAGE
        self._backends = backends
        if backends is not None:
            self.cpu_scope = (
                "benchmark process + its PostgreSQL backends"
                if backends.local
                else "benchmark process only (PostgreSQL server not local)"
            )

    def __enter__(self) -> Stopwatch:
        gc.collect()
        if _reset_hwm() and _status_kib("VmRSS") is not None:
            self.memory_method = MEMORY_METHOD_HWM
            self._start_kib = _status_kib("VmRSS")
        else:
            self._start_kib = _maxrss_kib()
        self._server0 = self._backends.cpu_by_pid() if self._backends else {}
        self._cpu0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0
        cpu = time.process_time() - self._cpu0
        if self._backends:
            server1 = self._backends.cpu_by_pid()
            cpu += sum(v - self._server0.get(pid, 0.0) for pid, v in server1.items())
        self.cpu_seconds = cpu
        self.loadavg = float((_read("/proc/loadavg").split() or ["0"])[0])
        if self.memory_method == MEMORY_METHOD_HWM:
            peak = _status_kib("VmHWM") or 0
        else:
            peak = _maxrss_kib()
        self.peak_memory_mb = round(max(0, peak - self._start_kib) / 1024, 1)


# --------------------------------------------------------------------------------------------
# One measurement = one fresh database + one forked child


Phase = Callable[..., dict]


def _child_main(conn, url: str, phase: Phase, params: dict) -> None:
    try:
        from kmp import create_app
        from kmp.cli import install_defaults
        from kmp.extensions import db

        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            db.create_all()
            install_defaults()
            db.session.commit()
            backends = ServerBackends(url) if url.startswith("postgresql") else None
            timer = Stopwatch(backends)
            try:
                extra = phase(timer, **params) or {}
            finally:
                if backends is not None:
                    backends.close()
            if timer.seconds is None:
                raise RuntimeError(f"{phase.__name__} never entered its timer")
            db.session.remove()
            db.engine.dispose()
        conn.send(
            (
                "ok",
                {
                    "seconds": timer.seconds,
                    "cpu_seconds": timer.cpu_seconds,
                    "cpu_scope": timer.cpu_scope,
                    "loadavg": timer.loadavg,
                    "peak_memory_mb": timer.peak_memory_mb,
                    "memory_method": timer.memory_method,
                    **extra,
                },
            )
        )
    except BaseException:  # noqa: BLE001 - reported to the parent, which re-raises
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def measure(database: Database, tag: str, phase: Phase, **params) -> dict:
    """Run ``phase(timer, **params)`` in a forked child on a fresh database with the KMP schema
    (``db.create_all()``) and defaults (``install_defaults()``) committed; returns its dict plus
    ``seconds``/``peak_memory_mb``/``memory_method``."""
    context = multiprocessing.get_context("fork")
    with database.fresh(tag) as url:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_child_main, args=(sender, url, phase, params))
        child.start()
        sender.close()
        try:
            status, payload = receiver.recv()
        except EOFError:
            child.join()
            raise RuntimeError(
                f"benchmark child for {tag} died without a result (exit code {child.exitcode})"
            ) from None
        child.join()
    if status != "ok":
        raise RuntimeError(f"benchmark child for {tag} failed:\n{payload}")
    return payload


# --------------------------------------------------------------------------------------------
# The context handed to each benchmark's run(ctx)


@dataclass
class Context:
    database: Database
    sizes: tuple[int, ...] | None = None
    large: bool = False
    repeat: int = 1

    def sizes_for(self, default: tuple[int, ...], large: tuple[int, ...] = ()) -> list[int]:
        if self.sizes:
            return list(self.sizes)
        return list(default) + (list(large) if self.large else [])

    def measure(self, tag: str, phase: Phase, **params) -> dict:
        return measure(self.database, tag, phase, **params)

    def paired(
        self, tag: str, floor_phase: Phase, subject_phase: Phase, **params
    ) -> tuple[dict, dict]:
        """``repeat`` rounds of (floor, subject), interleaved so both sides see the same
        neighbours; keeps the fastest run of each side (the least disturbed one)."""
        floors, subjects = [], []
        for round_ in range(max(1, self.repeat)):
            label = f"{tag} {self.database.label} {params}"
            floors.append(self.measure(f"{tag}_floor", floor_phase, **params))
            log(f"{label} round {round_ + 1}: floor {floors[-1]['seconds']:.2f}s")
            subjects.append(self.measure(f"{tag}_kmp", subject_phase, **params))
            log(f"{label} round {round_ + 1}: kmp {subjects[-1]['seconds']:.2f}s")
        floor = min(floors, key=lambda r: r["seconds"])
        subject = min(subjects, key=lambda r: r["seconds"])
        floor["runs_seconds"] = [round(r["seconds"], 3) for r in floors]
        subject["runs_seconds"] = [round(r["seconds"], 3) for r in subjects]
        subject["runs_ratio"] = [
            round(f["seconds"] / s["seconds"], 3) for f, s in zip(floors, subjects, strict=True)
        ]
        subject["runs_cpu_ratio"] = [
            round(f["cpu_seconds"] / s["cpu_seconds"], 3) if s.get("cpu_seconds") else None
            for f, s in zip(floors, subjects, strict=True)
        ]
        return floor, subject


def make_result(
    *,
    name: str,
    ctx: Context,
    n: int,
    subject: dict,
    floor: dict,
    floor_name: str,
    unit: str,
    ratio_kind: str,
    target_value: float,
    extra: dict | None = None,
    min_throughput: float | None = None,
) -> dict:
    """The standard result line.

    ``ratio_kind="throughput"``: ratio = subject throughput / floor throughput (higher is better;
    target met when ratio >= target_value). ``ratio_kind="slowdown"``: ratio = subject seconds /
    floor seconds (lower is better; target met when ratio <= target_value).
    ``min_throughput``: an absolute target instead (met when the subject's throughput, in
    ``unit``, is at least that); the ratio to the floor is still reported beside it.
    """
    seconds = subject["seconds"]
    floor_seconds = floor["seconds"]
    cpu, floor_cpu = subject.get("cpu_seconds"), floor.get("cpu_seconds")
    cpu_ratio = None
    if cpu and floor_cpu:
        cpu_ratio = floor_cpu / cpu if ratio_kind == "throughput" else cpu / floor_cpu
    if ratio_kind == "throughput":
        ratio = floor_seconds / seconds
        target = (
            f"ratio >= {target_value:g} (throughput at least {target_value:.0%} of the floor's)"
        )
        met = ratio >= target_value
    elif ratio_kind == "slowdown":
        ratio = seconds / floor_seconds
        target = f"ratio <= {target_value:g} (time within {target_value:g}x of the floor's)"
        met = ratio <= target_value
    else:
        raise ValueError(ratio_kind)
    if min_throughput is not None:
        target = f"at least {min_throughput:,.0f} {unit} (absolute; the ratio is context)"
        met = n / seconds >= min_throughput
    result = {
        "name": name,
        "database": ctx.database.label,
        "n": n,
        "seconds": round(seconds, 3),
        "peak_memory_mb": subject.get("peak_memory_mb"),
        "floor_name": floor_name,
        "floor_seconds": round(floor_seconds, 3),
        "ratio": round(ratio, 3),
        "throughput": round(n / seconds, 1),
        "target": target,
        "target_met": bool(met),
        "unit": unit,
        "ratio_kind": ratio_kind,
        "cpu_seconds": None if cpu is None else round(cpu, 3),
        "floor_cpu_seconds": None if floor_cpu is None else round(floor_cpu, 3),
        "cpu_ratio": None if cpu_ratio is None else round(cpu_ratio, 3),
        "cpu_scope": subject.get("cpu_scope"),
        "floor_throughput": round(n / floor_seconds, 1),
        "floor_peak_memory_mb": floor.get("peak_memory_mb"),
        "memory_method": subject.get("memory_method"),
        "database_version": ctx.database.version(),
        "repeat": ctx.repeat,
        "runs_seconds": subject.get("runs_seconds"),
        "floor_runs_seconds": floor.get("runs_seconds"),
        "runs_ratio": subject.get("runs_ratio"),
        "runs_cpu_ratio": subject.get("runs_cpu_ratio"),
        "loadavg": subject.get("loadavg"),
        "floor_loadavg": floor.get("loadavg"),
        "code": code_version(),
        "run_at": now_utc().isoformat(timespec="seconds"),
    }
    if min_throughput is not None:
        result["min_throughput"] = min_throughput
    result.update(extra or {})
    return result


# --------------------------------------------------------------------------------------------
# The machine


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def code_version() -> str:
    """HEAD's short hash, with ``+dirty(<paths>)`` when the measured code has local changes."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "kmp/ledger", "kmp/db.py", "kmp/app.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    paths = sorted({line[3:] for line in dirty if line.strip()})
    return head + (f"+dirty({', '.join(paths)})" if paths else "")


def machine_info() -> dict:
    cpuinfo = _read("/proc/cpuinfo")
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    meminfo = _read("/proc/meminfo")
    mem_kib = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")),
        0,
    )
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    import psycopg
    import sqlalchemy

    return {
        "cpu_model": model,
        "cores": cores,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "loadavg_at_start": _read("/proc/loadavg").split()[:3],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
        "sqlite": sqlite3.sqlite_version,
        "date": now_utc().isoformat(timespec="seconds"),
        "code": code_version(),
    }
