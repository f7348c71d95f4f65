"""``python -m bench.run [--db URL] [--sizes 10000,100000] [--large] [--only NAME]``.

Runs every benchmark module of the ``bench`` package (a module with ``NAME`` and
``run(ctx) -> list[dict]``) on SQLite (a temp file per measurement) and, when
``KMP_BENCH_DATABASE_URL`` is set, again on that PostgreSQL server (a fresh database per
measurement, dropped afterwards). Prints one JSON line per result on stdout, progress on
stderr, and regenerates ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import json
import os
import pkgutil
import shlex
import sys
import traceback

import bench
from bench import report
from bench.harness import Context, Database, log, machine_info

NOT_BENCHMARKS = {"run", "harness", "report", "generate", "soak", "locustfile"}


def discover() -> dict:
    modules = {}
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name in NOT_BENCHMARKS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "run", None)) and getattr(module, "NAME", None):
            modules[module.NAME] = module
    return dict(sorted(modules.items()))


def _preload_application() -> None:
    """Build the app once in this process before any measurement forks: every measurement of
    the run then uses the same already-imported code, even if files change during the run."""
    from kmp import create_app

    create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")


def _hide_password(arg: str) -> str:
    if "://" not in arg:
        return arg
    from sqlalchemy.engine import make_url

    try:
        return make_url(arg).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL after all
        return arg


@contextlib.contextmanager
def _locked():
    """Several runs may share a checkout (long runs overlap): one writer of the store at a
    time, and each merges into what is on disk *now*, so no run erases another's rows."""
    with open(report.RESULTS.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _merge_saved(store: dict, results: list[dict], modules: dict) -> dict:
    with _locked():
        fresh = report.load()
        fresh["machine"], fresh["command"] = store["machine"], store["command"]
        report.merge(fresh, results)
        report.save(fresh)
        report.write_markdown(fresh, modules)
    return fresh


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers, got {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db",
        action="append",
        default=None,
        metavar="URL",
        help="sqlite (temp files) or postgresql://user@host:port/db (a server where fresh "
        "databases may be created); repeatable. Default: sqlite, plus "
        "KMP_BENCH_DATABASE_URL when set.",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="comma-separated N, overriding each benchmark's default sizes",
    )
    parser.add_argument("--large", action="store_true", help="add the 1,000,000 sizes")
    parser.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this benchmark (repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side; the fastest is kept (default 1)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not update bench/results.json and BENCHMARKS.md"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only regenerate BENCHMARKS.md from bench/results.json (and the notes)",
    )
    args = parser.parse_args(argv)

    modules = discover()
    if args.list:
        for name, module in modules.items():
            print(f"{name}: {getattr(module, 'TITLE', '')}")
        return 0
    if args.render_only:
        report.write_markdown(report.load(), modules)
        log(f"wrote {report.MARKDOWN.name} from bench/{report.RESULTS.name}")
        return 0
    selected = list(modules)
    if args.only:
        wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in modules]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have {', '.join(modules)}")
        selected = [n for n in modules if n in wanted]
    specs = args.db or ["sqlite"] + (
        [os.environ["KMP_BENCH_DATABASE_URL"]] if os.environ.get("KMP_BENCH_DATABASE_URL") else []
    )
    databases = [Database.parse(spec) for spec in specs]

    try:
        _preload_application()
    except Exception:  # noqa: BLE001 - a broken tree is the one thing we cannot measure
        log(f"the application does not build, nothing measured:\n{traceback.format_exc()}")
        return 2
    store = report.load()
    machine = machine_info()
    for database in databases:
        if database.kind == "postgresql":
            machine["postgresql"] = database.version().removeprefix("PostgreSQL ")
    store["machine"] = machine
    store["command"] = " ".join(
        ["python -m bench.run"]
        + [shlex.quote(_hide_password(a)) for a in (argv if argv is not None else sys.argv[1:])]
    )
    log(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"load {' '.join(machine['loadavg_at_start'])}"
    )
    failures = 0
    for name in selected:
        module = modules[name]
        for database in databases:
            log(f"{name} on {database.describe()}")
            ctx = Context(
                database=database, sizes=args.sizes, large=args.large, repeat=max(1, args.repeat)
            )
            try:
                results = module.run(ctx)
            except Exception:  # noqa: BLE001 - report and go on with the other benchmarks
                failures += 1
                log(f"{name} on {database.label} FAILED:\n{traceback.format_exc()}")
                continue
            for result in results:
                result["command"] = store["command"]
                print(json.dumps(result, ensure_ascii=False), flush=True)
            if not args.no_write:
                store = _merge_saved(store, results, modules)
    if not args.no_write:
        with _locked():
            store = {**report.load(), "machine": store["machine"], "command": store["command"]}
            report.write_markdown(store, modules)
        log(f"wrote {report.MARKDOWN.name} and bench/{report.RESULTS.name}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
