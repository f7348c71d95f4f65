"""Results store (``bench/results.json``) and the ``BENCHMARKS.md`` renderer.

The store keeps the latest result per (benchmark, database, n), so a quick default run does not
erase the figures of an earlier ``--large`` run; each row shows when it was measured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
NOTES = Path(__file__).resolve().parent / "notes"
MARKDOWN = ROOT / "BENCHMARKS.md"
DB_ORDER = {"sqlite": 0, "postgresql": 1}


def load() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text())
    return {"machine": {}, "command": "", "results": []}


def merge(store: dict, results: list[dict]) -> dict:
    index = {(r["name"], r["database"], r["n"]): r for r in store["results"]}
    for result in results:
        index[(result["name"], result["database"], result["n"])] = result
    store["results"] = sorted(
        index.values(), key=lambda r: (r["name"], DB_ORDER.get(r["database"], 9), r["n"])
    )
    return store


def save(store: dict) -> None:
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(store, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, RESULTS)


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _title(name: str, modules: dict) -> str:
    module = modules.get(name.split(":", 1)[0])
    title = getattr(module, "TITLE", name) if module else name
    return f"{title}: {name.split(':', 1)[1]}" if ":" in name else title


def _http_section(rows: list[dict], modules: dict) -> list[str]:
    """HTTP rows (``kind == "http"``): requests/s and latency beside the bare endpoint's."""
    module = modules.get("http_pages")
    lines = ["## HTTP pages (`bench/http_pages.py`)", ""]
    summary = getattr(module, "__doc__", "") or ""
    if summary:
        lines += [" ".join(summary.strip().split("\n\n")[0].split()), ""]
    lines += [
        f"Floor: {rows[0]['floor_name']}. Settings: {rows[0].get('settings', '')}.",
        "",
        "| Database | Members | Postings | Page | req/s | p50 ms | p99 ms | CPU ms/req "
        "| SQL | Floor req/s | Floor p99 ms | Floor CPU ms | Ratio | Target met | Load "
        "| Measured |",
        "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|---|",
    ]
    for r in sorted(rows, key=lambda r: (DB_ORDER.get(r["database"], 9), r["n"], r["name"])):
        lines.append(
            f"| {r.get('database_version', r['database'])} | {r['n']:,} "
            f"| {_num(r.get('postings'))} | {r.get('page', r['name'])} | {_num(r['rps'])} "
            f"| {_num(r.get('p50_ms'), 1)} | {_num(r.get('p99_ms'), 1)} "
            f"| {_num(r.get('cpu_ms'), 2)} | {_num(r.get('statements'))} "
            f"| {_num(r.get('floor_rps'))} | {_num(r.get('floor_p99_ms'), 1)} "
            f"| {_num(r.get('floor_cpu_ms'), 2)} "
            f"| **{r['ratio']:.2f}** | {'yes' if r['target_met'] else '**no**'} "
            f"| {r.get('loadavg', '–')} | {r.get('run_at', '')[:16].replace('T', ' ')} UTC |"
        )
    targets = sorted({r["target"] for r in rows})
    lines += ["", "Targets: " + "; ".join(targets) + ".", ""]
    note = NOTES / "http_pages.md"
    if note.exists():
        lines += [note.read_text().strip(), ""]
    return lines


def _growth_section(results: list[dict], modules: dict) -> list[str]:
    """Cost per item at each N relative to the smallest N measured (batch jobs: about 1.0
    means linear total cost; per-member pages: req/s should stay flat)."""
    lines = [
        "## Growth with N",
        "",
        "Cost per item (KMP seconds / N, and the floor's) at each size, relative to the "
        "smallest size measured for that benchmark and database: 1.00 means the total cost "
        "grows linearly with N. HTTP rows compare requests/s instead (flat is 1.00).",
        "",
        "| Benchmark | Database | N | KMP µs per item | vs smallest N | Floor µs per item "
        "| vs smallest N |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    groups: dict = {}
    for r in results:
        groups.setdefault((r["name"], r["database"]), []).append(r)
    for (name, database), rows in sorted(groups.items()):
        rows = sorted(rows, key=lambda r: r["n"])
        if len(rows) < 2:
            continue
        base = rows[0]
        for r in rows:
            if r.get("kind") == "http":
                lines.append(
                    f"| {_title(name, modules)} | {database} | {r['n']:,} | – "
                    f"| req/s {r['rps'] / base['rps']:.2f}x | – "
                    f"| req/s {r['floor_rps'] / base['floor_rps']:.2f}x |"
                )
                continue
            per, base_per = r["seconds"] / r["n"], base["seconds"] / base["n"]
            fper, fbase = r["floor_seconds"] / r["n"], base["floor_seconds"] / base["n"]
            lines.append(
                f"| {_title(name, modules)} | {database} | {r['n']:,} | {per * 1e6:,.1f} "
                f"| {per / base_per:.2f} | {fper * 1e6:,.1f} | {fper / fbase:.2f} |"
            )
    lines.append("")
    return lines


def render(store: dict, modules: dict) -> str:
    machine = store.get("machine") or {}
    results = store["results"]
    lines = [
        "# KMP benchmarks",
        "",
        "Generated by `python -m bench.run` (what `make bench` runs) from `bench/results.json`.",
        "Do not edit by hand: the notes under each table come from `bench/notes/<name>.md`.",
        "",
        "## How to read this",
        "",
        "- The machine is shared and noisy, so every benchmark measures a **floor** in the same "
        "run: the barest way to do the same database work (e.g. a plain multi-row insert of the "
        "same rows). The **ratio** compares KMP to that floor and is the figure to judge; the "
        "absolute seconds are context only.",
        "- Throughput benchmarks: ratio = KMP throughput / floor throughput (higher is better; "
        "1.0 would mean KMP costs nothing over the bare insert). Time-bound benchmarks "
        '("within 3x of its floor"): ratio = KMP seconds / floor seconds (lower is better).',
        "- Each measurement (KMP and floor) runs in its own forked process against its own "
        "fresh database (a SQLite temp file, or a new PostgreSQL database `kmp_bench_*` dropped "
        "afterwards) with the schema from `db.create_all()` and `kmp.cli.install_defaults()`. "
        "Setup (schema, member accounts, input data) is outside the timed part.",
        "- Peak memory: growth of the benchmark process's peak resident set during the timed "
        "part (Linux VmHWM reset through `/proc/self/clear_refs`, minus VmRSS at the start; "
        "falls back to the `resource.getrusage` maxrss delta). The database server's memory is "
        "not included.",
        "- *Load KMP / floor*: the machine's 1-minute load average at the end of each side's "
        "timed part (the machine has the cores shown below; a load above that means the "
        "benchmark was sharing them).",
        "- `--repeat R` runs R rounds of (floor, KMP), interleaved so both sides see the same "
        "neighbours, and keeps the fastest run of each side; *ratio per round* shows the spread.",
        "- *CPU ratio* is the same comparison in CPU seconds (the benchmark process, plus its "
        "PostgreSQL backends read from `/proc` when the server is local). It moves much less "
        "than wall-clock when other jobs steal the cores, so when the two disagree the machine "
        "was busy; the target is judged on the wall-clock ratio.",
        "- Rows are kept per (benchmark, database, N) until re-measured: check the *measured* "
        "column; the 1,000,000 rows come from `--large` runs.",
        "",
        "## Command",
        "",
        "```sh",
        "make bench                                  # = .venv/bin/python -m bench.run",
        "KMP_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench",
        "                                            # SQLite, then the same on PostgreSQL",
        ".venv/bin/python -m bench.run --large       # adds the 1,000,000 sizes",
        ".venv/bin/python -m bench.run --only ledger_posting --sizes 10000 --db sqlite",
        "```",
        "",
    ]
    if store.get("command"):
        lines += [f"Last run: `{store['command']}`", ""]
    if machine:
        lines += [
            "## Machine (last run)",
            "",
            "| | |",
            "|---|---|",
            f"| CPU | {machine.get('cpu_model')} ({machine.get('cores')} cores available) |",
            f"| Memory | {machine.get('memory_gib')} GiB |",
            f"| Load average at start | {' '.join(machine.get('loadavg_at_start') or [])} |",
            f"| Kernel | {machine.get('kernel')} |",
            f"| Python | {machine.get('python')} (SQLAlchemy {machine.get('sqlalchemy')}, "
            f"psycopg {machine.get('psycopg')}) |",
            f"| SQLite | {machine.get('sqlite')} |",
            f"| PostgreSQL | {machine.get('postgresql') or 'not measured in the last run'} |",
            f"| Date | {machine.get('date')} |",
            f"| Code measured | {machine.get('code')} (git HEAD; +dirty lists uncommitted ledger "
            "files) |",
            "",
        ]
    lines += ["## Targets", ""]
    if not results:
        lines += ["No results yet.", ""]
    for r in results:
        mark = "met" if r["target_met"] else "**MISSED**"
        if r.get("min_throughput") is not None:  # an absolute target: the rate decides
            lines.append(
                f"- {_title(r['name'], modules)}, {r['database']}, N = {r['n']:,}: "
                f"{r['throughput']:,.0f} {r.get('unit', 'items/s')} (ratio {r['ratio']:.2f} to "
                f"the floor), target {r['target']}: {mark}"
            )
            continue
        lines.append(
            f"- {_title(r['name'], modules)}, {r['database']}, N = {r['n']:,}: ratio "
            f"{r['ratio']:.2f}, target {r['target']}: {mark}"
        )
    lines.append("")
    names = sorted({r["name"] for r in results if r.get("kind") != "http"})
    for name in names:
        rows = [r for r in results if r["name"] == name]
        module = modules.get(name)
        lines += [f"## {_title(name, modules)} (`bench/{name}.py`)", ""]
        summary = getattr(module, "__doc__", "") or ""
        if summary:
            lines += [" ".join(summary.strip().split("\n\n")[0].split()), ""]
        unit = rows[0].get("unit", "items/s")
        lines += [
            f"Floor: {rows[0]['floor_name']}.",
            "",
            f"| Database | N | Time (s) | {unit} | Peak MB | Floor time (s) | Floor {unit} "
            "| Floor peak MB | Ratio | CPU ratio | Ratio per round | Target met | Checks "
            "| Load KMP / floor | Measured |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|---|--:|---|",
        ]
        for r in rows:
            checks = "–"
            if "ledger_check_ok" in r:
                checks = (
                    f"ledger-check OK ({r.get('ledger_check_seconds', 0):.1f} s)"
                    if r["ledger_check_ok"]
                    else "**ledger-check FAILED**"
                )
            runs = r.get("repeat", 1)
            lines.append(
                f"| {r.get('database_version', r['database'])} | {r['n']:,} "
                f"| {_num(r['seconds'], 1)} | {_num(r['throughput'])} "
                f"| {_num(r.get('peak_memory_mb'), 1)} | {_num(r['floor_seconds'], 1)} "
                f"| {_num(r.get('floor_throughput'))} | {_num(r.get('floor_peak_memory_mb'), 1)} "
                f"| **{r['ratio']:.2f}** | {_num(r.get('cpu_ratio'), 2)} "
                f"| {' / '.join(f'{x:.2f}' for x in r.get('runs_ratio') or [])} "
                f"| {'yes' if r['target_met'] else '**no**'} "
                f"| {checks} | {r.get('loadavg', '–')} / {r.get('floor_loadavg', '–')} "
                f"| {r.get('run_at', '')[:16].replace('T', ' ')} UTC"
                f"{'' if runs == 1 else f', best of {runs}'} |"
            )
        lines += ["", f"Target: {rows[0]['target']}.", ""]
        note = NOTES / f"{name}.md"
        if note.exists():
            lines += [note.read_text().strip(), ""]
    http_rows = [r for r in results if r.get("kind") == "http"]
    if http_rows:
        lines += _http_section(http_rows, modules)
    if results:
        lines += _growth_section(results, modules)
    soak = NOTES / "soak.md"  # written by `python -m bench.soak` (10 minutes, not in make bench)
    if soak.exists():
        lines += [
            "## Load and soak (`bench/soak.py`, issue 10)",
            "",
            "Not part of `make bench` (it runs for 10 minutes): "
            "`.venv/bin/python -m bench.soak --minutes 10` writes `bench/soak_result.json` and "
            "this section's text (`bench/notes/soak.md`).",
            "",
            soak.read_text().strip().replace("### Soak:", "### Last run:", 1),
            "",
        ]
    generator = NOTES / "generate.md"
    if generator.exists():
        lines += [
            "## Synthetic cooperative generator (`bench/generate.py`)",
            "",
            generator.read_text().strip(),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(store: dict, modules: dict) -> None:
    text = render(store, modules)
    # The page-weight section is written by tests/web/test_budgets.py: keep it.
    start, end = "<!-- budgets:start -->", "<!-- budgets:end -->"
    old = MARKDOWN.read_text() if MARKDOWN.exists() else ""
    if start in old and end in old:
        kept = old[old.index(start) : old.index(end) + len(end)]
        text = text.rstrip() + "\n\n" + kept + "\n"
    MARKDOWN.write_text(text)
