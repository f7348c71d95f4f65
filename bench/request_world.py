"""The cooperative every request benchmark of issue 25 runs against, and an in-process
profile of each request kind (not a benchmark module: ``bench.http_pages`` and
``python -m bench.request_world`` use it).

``build_world(n)`` (in an app context, on an empty database): ``bench.generate``'s N members
with their history, a year's surplus and a computed SHU run for the last fiscal year, an open
ballot whose census holds every active member, a platform company with a staff login and 50
consenting worker links, and a board login (pengurus). ``requests(world)`` lists, per request
kind, the paths and the login each is sent with.

``python -m bench.request_world [--members N] [--db URL] [--rounds R]`` prints, per request
kind, the SQL statements of one request (deterministic) and the median server CPU ms over R
requests through the WSGI app in this process (``time.process_time``; SQLite runs in-process,
so its work is included; PostgreSQL backends are not). This is the before/after profile of
``bench/notes/speed.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time

SAMPLE = 200  # members the page requests rotate over

#: kind -> (label, who: member | staff | board)
KINDS = {
    "dashboard": ("member dashboard /anggota", "member"),
    "savings": ("member savings /anggota/simpanan", "member"),
    "statement": ("member statement /buku-besar/saya", "member"),
    "ballot": ("ballot page /pemungutan/<id>", "member"),
    "my_shu": ("my SHU /shu/saya/<id>", "member"),
    "partner": ("partner dashboard /mitra/<id>/kontribusi", "staff"),
    "register": ("board member list /pengurus/anggota", "board"),
    "register_search": ("member register search /pengurus/anggota?q=", "board"),
    "shu_run": ("board SHU run /shu/<id>", "board"),
}


def _fiscal_year() -> int:
    from kmp.timeutil import business_date

    return business_date().year - 1


def months_for(n: int) -> int:
    return 62 if 100_000 <= n < 1_000_000 else 13


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


def _company(worker_ids: list[int]) -> tuple[int, int]:
    """A platform company (pokok paid) with one staff login and consenting worker links."""
    from werkzeug.security import generate_password_hash

    from kmp.auth import PASSWORD_METHOD, Role, User, UserRole
    from kmp.extensions import db
    from kmp.timeutil import now_utc
    from members.partners.models import WorkerLink
    from members.register.models import Member, MemberKind, MemberStaff
    from members.register.states import MemberStatus

    user = User(
        email="staf@platform.bench",
        full_name="Staf Platform",
        password_hash=generate_password_hash("kmp-bench-password", method=PASSWORD_METHOD),
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(UserRole(user_id=user.id, role=Role.PARTNER))
    since = now_utc() - dt.timedelta(days=400)
    company = Member(
        member_no="PLT-2024-999999",
        group_code="platform",
        kind=MemberKind.COMPANY,
        status=MemberStatus.ACTIVE,
        full_name="PT Platform Bench",
        company_name="PT Platform Bench",
        nib="1234567890123",
        npwp="012345678901000",
        representative_name=user.full_name,
        joined_date=since.date(),
        activated_at=since,
        user_id=user.id,
        is_extraordinary=True,
    )
    db.session.add(company)
    db.session.flush()
    db.session.add(
        MemberStaff(
            member_id=company.id, user_id=user.id, title="Perwakilan", is_representative=True
        )
    )
    for i, member_id in enumerate(worker_ids):
        db.session.add(
            WorkerLink(
                member_id=member_id,
                company_id=company.id,
                platform_worker_id=f"W{i:06d}",
                consent_text_version="v1",
                consented_at=since,
            )
        )
    db.session.commit()
    return company.id, user.id


def build_world(n: int, *, log=print) -> dict:
    from sqlalchemy import func, select

    from bench.generate import generate
    from governance import services as governance
    from kmp.extensions import db
    from kmp.ledger.chart import CASH
    from kmp.ledger.services import EntrySpec, post_entries
    from kmp.timeutil import now_utc
    from members.ad.services import install_default_ad
    from members.register.models import Member
    from payouts import services as shu

    started = time.perf_counter()
    install_default_ad()
    db.session.commit()
    with db.engine.connect() as conn:
        stats = generate(conn, members=n, months=months_for(n))
        conn.commit()
    if db.engine.dialect.name == "postgresql":  # the generator writes its own ids
        from sqlalchemy import text

        for table in ("members", "users", "user_roles", "accounts", "journal_entries"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce(max(id), 1)) FROM {table}"
                )
            )
        db.session.commit()
    log(f"[world] {n:,} members generated in {time.perf_counter() - started:.0f}s")
    fy = _fiscal_year()
    surplus = n * 10_000
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"bench:world-income:{fy}",
                description="Pendapatan jasa (bench)",
                lines=[(CASH, surplus), ("income:member-services", -surplus)],
                source_kind="bench",
                entry_date=dt.date(fy, 6, 30),
            )
        ]
    )
    db.session.commit()
    t = time.perf_counter()
    run = shu.create_run(fy)
    shu.compute_run(run)
    db.session.commit()
    run_id = run.id
    log(f"[world] SHU run computed in {time.perf_counter() - t:.0f}s")
    t = time.perf_counter()
    now = now_utc()
    proposal = governance.create_proposal(
        kind="ordinary",
        title="Usulan bench",
        opens_at=now - dt.timedelta(minutes=1),
        closes_at=now + dt.timedelta(days=30),
    )
    governance.open_proposal(proposal)
    db.session.commit()
    proposal_id = proposal.id
    log(f"[world] ballot opened (census frozen) in {time.perf_counter() - t:.0f}s")
    rows = db.session.execute(
        select(Member.id, Member.user_id, Member.member_no)
        .where(Member.status == "active", Member.user_id.is_not(None))
        .order_by(Member.id)
    ).all()
    step = max(1, len(rows) // SAMPLE)
    sample = rows[::step][:SAMPLE]
    from payouts.models import DistributionLine

    with_line = set(
        db.session.scalars(
            select(DistributionLine.member_id).where(
                DistributionLine.run_id == run_id,
                DistributionLine.member_id.in_([r.id for r in sample]),
            )
        )
    )
    company_id, staff_id = _company([r.id for r in sample[:50]])
    board_id = _board_user()
    total = db.session.scalar(select(func.count()).select_from(Member))
    return {
        "n": n,
        "members": total,
        "postings": stats["postings"],
        "months": months_for(n),
        "run": run_id,
        "proposal": proposal_id,
        "company": company_id,
        "staff_user": staff_id,
        "board_user": board_id,
        "sample": [(r.user_id, r.member_no) for r in sample],
        "shu_users": [r.user_id for r in sample if r.id in with_line],
    }


def requests(world: dict) -> dict[str, list[tuple[str, str]]]:
    """kind -> [(path, who)], ``who`` a user id (int) to log in as."""
    members = [uid for uid, _ in world["sample"]]
    board, staff = world["board_user"], world["staff_user"]
    pages = max(world["members"] // 50, 1)
    return {
        "dashboard": [("/anggota", u) for u in members],
        "savings": [("/anggota/simpanan", u) for u in members],
        "statement": [("/buku-besar/saya", u) for u in members],
        "ballot": [(f"/pemungutan/{world['proposal']}", u) for u in members],
        "my_shu": [(f"/shu/saya/{world['run']}", u) for u in world["shu_users"]],
        "partner": [(f"/mitra/{world['company']}/kontribusi", staff)],
        "register": [("/pengurus/anggota", board)]
        + [(f"/pengurus/anggota?halaman={p}", board) for p in (2, 3)],
        "register_search": [(f"/pengurus/anggota?q={no}", board) for _, no in world["sample"]],
        "shu_run": [(f"/shu/{world['run']}", board)]
        + [(f"/shu/{world['run']}?halaman={p}", board) for p in (2, 3, max(pages // 2, 1))],
    }


def session_cookies(app, user_ids) -> dict[int, str]:
    """Signed session cookies as a real login leaves them (user id, permanent, CSRF token)."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from kmp.auth import User
    from kmp.extensions import db

    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    cookies = {}
    for uid in sorted(set(user_ids)):
        with app.test_request_context("/"):
            login_user(db.session.get(User, uid))
            session.permanent = True
            generate_csrf()
            cookies[uid] = f"{name}={serializer.dumps(dict(session))}"
    return cookies


def statements_per_kind(app, world: dict, cookies: dict[int, str]) -> dict[str, int]:
    """The SQL statements of one request of each kind (after one warm-up request)."""
    from sqlalchemy import event

    from kmp.extensions import db

    counts = {}
    client = app.test_client(use_cookies=False)  # the Cookie header is the session
    with app.app_context():
        engine = db.engine
    # each request in its own app context (as under gunicorn): no login user kept in ``g``
    for kind, reqs in requests(world).items():
        path, uid = reqs[0]
        headers = {"Cookie": cookies[uid], "Accept-Encoding": "gzip"}
        client.get(path, headers=headers)
        seen: list[str] = []

        def count(conn, cursor, statement, *args, _seen=seen):  # noqa: ARG001
            _seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(path, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        if response.status_code != 200:
            raise RuntimeError(
                f"{kind} {path}: {response.status_code} {response.headers.get('Location')}"
            )
        counts[kind] = len(seen)
    return counts


def cpu_per_kind(app, world: dict, cookies: dict[int, str], rounds: int) -> dict[str, dict]:
    """Median / p90 CPU ms of one request per kind through the WSGI app in this process."""
    client = app.test_client(use_cookies=False)  # the Cookie header is the session
    out = {}
    for kind, reqs in requests(world).items():
        samples = []
        for i in range(rounds):
            path, uid = reqs[i % len(reqs)]
            headers = {"Cookie": cookies[uid], "Accept-Encoding": "gzip"}
            c0 = time.process_time()
            response = client.get(path, headers=headers)
            samples.append((time.process_time() - c0) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{kind} {path}: {response.status_code}")
        samples.sort()
        # deterministic: Python function calls per request (cProfile over 20 requests)
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        for i in range(20):
            path, uid = reqs[i % len(reqs)]
            client.get(path, headers={"Cookie": cookies[uid], "Accept-Encoding": "gzip"})
        profile.disable()
        calls = pstats.Stats(profile).total_calls // 20
        out[kind] = {
            "calls": calls,
            "median_ms": round(statistics.median(samples[rounds // 10 :]), 2),
            "p10_ms": round(samples[len(samples) // 10], 2),
            "p90_ms": round(samples[int(len(samples) * 0.9)], 2),
        }
    return out


def board_plans(world: dict) -> dict[str, str]:
    """EXPLAIN of the board pages' own queries (SQLite: QUERY PLAN; PostgreSQL: EXPLAIN
    ANALYZE, with the rows each node read)."""
    from sqlalchemy import select, text, tuple_

    from kmp.extensions import db
    from members.register.models import MemberStatusCount
    from payouts.models import DistributionLine as L

    order = (L.group_code, L.member_no)
    queries = {
        "shu_page_1": select(L).where(L.run_id == world["run"]).order_by(*order).limit(50),
        "shu_keyset": select(L)
        .where(L.run_id == world["run"], tuple_(*order) > tuple_("kurir", "KUR-0"))
        .order_by(*order)
        .limit(50),
        "register_counts": select(MemberStatusCount.status, MemberStatusCount.n),
    }
    pg = db.engine.dialect.name == "postgresql"
    plans = {}
    for name, stmt in queries.items():
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " if pg else "EXPLAIN QUERY PLAN "
        rows = db.session.execute(text(prefix + sql)).all()
        plans[name] = " | ".join(str(r[0] if pg else r[-1]) for r in rows)
    return plans


def bare_cpu_ms(rounds: int) -> float:
    """The floor: a bare Flask route's CPU per request, in the same process and run."""
    from flask import Flask

    bare = Flask("bare")
    bare.add_url_rule("/bare", "bare", lambda: "ok")
    client = bare.test_client()
    samples = []
    for _ in range(rounds):
        c0 = time.process_time()
        client.get("/bare", headers={"Accept-Encoding": "gzip"})
        samples.append((time.process_time() - c0) * 1000)
    return round(statistics.median(samples), 3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.request_world")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    from bench.harness import code_version
    from kmp import create_app
    from kmp.extensions import db

    if args.db == "sqlite":
        folder = tempfile.mkdtemp(prefix="kmp_world_")
        url = f"sqlite:///{folder}/kmp.sqlite3"
    else:
        url = args.db
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        from kmp.cli import install_defaults

        install_defaults()
        db.session.commit()
        world = build_world(args.members, log=lambda m: print(m, file=sys.stderr))
        uids = {uid for reqs in requests(world).values() for _, uid in reqs}
        cookies = session_cookies(app, uids)
        try:
            plans = board_plans(world)
        except Exception as error:  # noqa: BLE001 - the code measured may predate the index
            plans = {"error": repr(error)}
        db.session.remove()
    statements = statements_per_kind(app, world, cookies)
    cpu = cpu_per_kind(app, world, cookies, args.rounds)
    floor = bare_cpu_ms(max(args.rounds, 500))
    print(
        json.dumps(
            {
                "members": args.members,
                "database": app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0],
                "bare_cpu_ms": floor,
                "kinds": {
                    k: {
                        "statements": statements[k],
                        **cpu[k],
                        "x_bare": round(cpu[k]["median_ms"] / floor, 1),
                    }
                    for k in statements
                },
                "plans": plans,
                "code": code_version(),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
