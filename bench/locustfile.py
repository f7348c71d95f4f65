"""Locust scenario of the soak (``python -m bench.soak`` starts it; see that module).

Mixed member traffic against the KMP application served by gunicorn. Each simulated user is
one member of the synthetic cooperative at a time (never one another user is logged in as),
who:

* logs in through the real form (GET ``/masuk`` for the CSRF token, POST the phone number and
  password), and now and then logs out and in again as the next free member;
* opens the dashboard (``/anggota``) and the ledger statement (``/buku-besar/saya``);
* pays simpanan wajib (when a month is open) or sukarela through the app: ``/anggota/simpanan``,
  POST ``/anggota/simpanan/bayar`` (the fake gateway answers with its checkout URL), then
  plays Midtrans: records the settlement in the fake gateway's store (the
  ``fake_gateway_orders`` table the app's GET-status reads) and POSTs the signed notification
  to ``/payments/midtrans/notification``, sometimes twice (Midtrans retries), then follows
  the return URL to the receipt page;
* votes on the open secret yes/no proposal (GET the ballot, POST an option; the proposal
  allows changing one's vote, so later votes are changes).

Configuration comes from the JSON file named by ``KMP_SOAK_CONFIG`` (written by
``bench.soak``). Every payment and vote the app confirmed is appended to the JSONL file named
there (the soak's accounting compares it with the database afterwards); a status-code
histogram per request name is written at the end.

Run by locust only: ``bench.run`` imports every module of ``bench`` while looking for
benchmarks, and importing locust monkey-patches the process with gevent, so the user class is
defined only when locust itself is already loaded.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
from collections import Counter, defaultdict, deque

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
OPTION_RE = re.compile(r'name="option" value="([^"]+)"')
WAJIB_SELECT = 'data-testid="wajib-months"'
ORDER_RE = re.compile(r"/payments/simulate/([A-Za-z0-9._~-]{1,50})$")


def csrf_from(html: str) -> str | None:
    match = CSRF_RE.search(html)
    return match.group(1) if match else None


def order_id_from(location: str) -> str | None:
    match = ORDER_RE.search(location.split("?", 1)[0])
    return match.group(1) if match else None


class PgFakeStore:
    """The fake gateway's store (``fake_gateway_orders``) over one psycopg connection: what
    "Midtrans" knows about an order. Same two methods as ``kmp.payments.factory.DbFakeStore``,
    without Flask."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def get(self, key: str):
        row = self.conn.execute(
            "SELECT record FROM fake_gateway_orders WHERE key = %s", (key,)
        ).fetchone()
        if row is None:
            return None
        record = row[0]
        return json.loads(record) if isinstance(record, str) else record

    def put(self, key: str, record: dict) -> None:
        from psycopg.types.json import Json

        self.conn.execute(
            "INSERT INTO fake_gateway_orders (key, record, updated_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (key) DO UPDATE SET record = EXCLUDED.record, "
            "updated_at = EXCLUDED.updated_at",
            (key, Json(record)),
        )


class Midtrans:
    """The payment provider's side: one connection, one order at a time (a lock). Under
    locust's gevent monkey-patching psycopg waits cooperatively, so the simulated users keep
    running while "Midtrans" talks to its store."""

    def __init__(self, dsn: str, server_key: str) -> None:
        self.dsn = dsn
        self.server_key = server_key
        self._lock = threading.Lock()
        self._conn = None

    def settle(self, order_id: str) -> dict:
        """The member paid at the bank: record the settlement, return the signed notification
        body Midtrans would POST."""
        import psycopg

        from kmp.payments.gateway import FakeGateway

        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.dsn, autocommit=True)
            with self._conn.transaction():
                gateway = FakeGateway(self.server_key, "", store=PgFakeStore(self._conn))
                return gateway.simulate(order_id, "settlement")


def final_stats(stats) -> dict:
    """Locust's statistics (``environment.stats``) as the soak reads them: the same fields
    as ``bench.soak.parse_stats_csv`` gives for the CSV file."""

    def row(entry, name: str, method: str) -> dict:
        pct = entry.get_response_time_percentile
        empty = not entry.num_requests
        return {
            "method": method,
            "name": name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "median_ms": None if empty else entry.median_response_time,
            "mean_ms": None if empty else round(entry.avg_response_time, 1),
            "max_ms": None if empty else entry.max_response_time,
            "rps": round(entry.total_rps, 2),
            "p50_ms": None if empty else pct(0.50),
            "p95_ms": None if empty else pct(0.95),
            "p99_ms": None if empty else pct(0.99),
        }

    rows = [row(e, e.name, e.method) for e in sorted(stats.entries.values(), key=lambda e: e.name)]
    rows.append(row(stats.total, "Aggregated", ""))
    errors = [
        {"method": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
        for e in stats.errors.values()
    ]
    return {"requests": rows, "failures": errors}


def _load_config() -> dict:
    with open(os.environ["KMP_SOAK_CONFIG"]) as handle:
        return json.load(handle)


def _define_users():  # noqa: C901 - the whole scenario in one place
    from locust import HttpUser, between, events, task

    config = _load_config()
    accounts = deque(config["accounts"])
    midtrans = Midtrans(config["dsn"], config["server_key"])
    proposal_id = config["proposal_id"]
    wait = config.get("wait_seconds", [0.5, 2.0])
    record_lock = threading.Lock()
    record_file = open(config["record_path"], "a", buffering=1)  # noqa: SIM115 - whole run
    codes: dict[str, Counter] = defaultdict(Counter)

    def record(kind: str, **fields) -> None:
        with record_lock:
            record_file.write(json.dumps({"kind": kind, **fields}) + "\n")

    @events.request.add_listener
    def _count(name, response=None, exception=None, **_kwargs):
        status = getattr(response, "status_code", None)
        codes[name][str(status if status else f"error:{type(exception).__name__}")] += 1

    @events.quitting.add_listener
    def _write_final(environment, **_kwargs):
        # Written once every user has stopped (after --stop-timeout): the CSV files locust
        # writes can miss the requests finished during the stop timeout.
        with open(config["codes_path"], "w") as handle:
            json.dump({name: dict(counter) for name, counter in codes.items()}, handle, indent=1)
        with open(config["final_stats_path"], "w") as handle:
            json.dump(final_stats(environment.stats), handle, indent=1)
        record_file.close()

    class SoakMember(HttpUser):
        wait_time = between(*wait)

        def on_start(self) -> None:
            # users <= accounts and a member goes back to the queue only when its user logs
            # out: no two users are ever logged in as the same member.
            self.account = accounts.popleft()
            self.logged_in = False
            self.login()

        # ---------------------------------------------------------------- helpers

        def _page(self, path: str, name: str, *, expect: str | None = None) -> str | None:
            """GET a page that must answer 200 (and contain ``expect``); None on failure."""
            with self.client.get(
                path, name=name, allow_redirects=False, catch_response=True
            ) as response:
                if response.status_code != 200:
                    where = response.headers.get("Location", "")
                    response.failure(f"HTTP {response.status_code} {where}".strip())
                    if "/masuk" in where:
                        self.logged_in = False
                    return None
                html = response.text
                if expect and expect not in html:
                    response.failure(f"page without {expect!r}")
                    return None
                return html

        def login(self) -> None:
            html = self._page("/masuk", "login: form", expect="csrf_token")
            token = html and csrf_from(html)
            if not token:
                return
            with self.client.post(
                "/masuk",
                name="login: submit",
                data={
                    "csrf_token": token,
                    "login": self.account["login"],
                    "password": config["password"],
                    "next": "",
                },
                allow_redirects=False,
                catch_response=True,
            ) as response:
                if response.status_code in (302, 303) and "/masuk" not in response.headers.get(
                    "Location", ""
                ):
                    self.logged_in = True
                    response.success()
                else:
                    response.failure(f"login refused: HTTP {response.status_code}")

        def _ensure_login(self) -> bool:
            if not self.logged_in:
                self.login()
            return self.logged_in

        # ---------------------------------------------------------------- tasks

        @task(4)
        def dashboard(self) -> None:
            if self._ensure_login():
                self._page("/anggota", "dashboard /anggota")

        @task(3)
        def statement(self) -> None:
            if self._ensure_login():
                self._page("/buku-besar/saya", "statement /buku-besar/saya")

        @task(2)
        def pay(self) -> None:
            if not self._ensure_login():
                return
            html = self._page("/anggota/simpanan", "pay: savings page", expect="csrf_token")
            if html is None:
                return
            if WAJIB_SELECT in html and random.random() < 0.7:
                purpose, data = "wajib", {"purpose": "wajib", "months": "1"}
            else:
                amount = random.randrange(10, 201) * 1000
                purpose, data = "sukarela", {"purpose": "sukarela", "amount": str(amount)}
            with self.client.post(
                "/anggota/simpanan/bayar",
                name=f"pay: start ({purpose})",
                data={"csrf_token": csrf_from(html), **data},
                allow_redirects=False,
                catch_response=True,
            ) as response:
                order_id = order_id_from(response.headers.get("Location", ""))
                if response.status_code != 303 or order_id is None:
                    response.failure(f"checkout not started: HTTP {response.status_code}")
                    return
            record("payment_started", order_id=order_id, purpose=purpose, **self._who())
            # Midtrans: the member paid; its notification reaches the webhook.
            payload = midtrans.settle(order_id)
            body = json.dumps(payload, separators=(",", ":"))
            headers = {"Content-Type": "application/json", "User-Agent": "Veritrans"}
            deliveries = 2 if random.random() < 0.1 else 1
            for delivery in range(deliveries):
                name = "pay: notification" if delivery == 0 else "pay: notification (retry)"
                expected = "ok" if delivery == 0 else "duplicate"
                with self.client.post(
                    "/payments/midtrans/notification",
                    name=name,
                    data=body,
                    headers=headers,
                    catch_response=True,
                ) as response:
                    try:
                        answer = response.json().get("status")
                    except ValueError:
                        answer = None
                    if response.status_code != 200 or answer != expected:
                        response.failure(f"HTTP {response.status_code} status={answer!r}")
                        return
                    if delivery == 0:
                        record(
                            "payment_settled",
                            order_id=order_id,
                            purpose=purpose,
                            amount_idr=int(float(payload["gross_amount"])),
                            outcome=response.json().get("outcome"),
                            **self._who(),
                        )
                    else:
                        record("notification_retried", order_id=order_id)
            # Back from the payment page to the receipt.
            query = f"order_id={order_id}&status_code=200&transaction_status=settlement"
            with self.client.get(
                f"/anggota/simpanan/kembali?{query}",
                name="pay: return",
                allow_redirects=False,
                catch_response=True,
            ) as response:
                where = response.headers.get("Location", "")
                if response.status_code != 303 or "/anggota/simpanan/pembayaran/" not in where:
                    response.failure(f"HTTP {response.status_code} {where}")
                    return
            self._page(where, "pay: receipt", expect='data-testid="payment-paid"')

        @task(2)
        def vote(self) -> None:
            if not self._ensure_login():
                return
            html = self._page(f"/pemungutan/{proposal_id}", "vote: ballot", expect='name="option"')
            if html is None:
                return
            option = random.choice(OPTION_RE.findall(html))
            with self.client.post(
                f"/pemungutan/{proposal_id}/pilih",
                name="vote: cast",
                data={"csrf_token": csrf_from(html), "option": option},
                allow_redirects=False,
                catch_response=True,
            ) as response:
                where = response.headers.get("Location", "")
                if response.status_code != 303 or not where.endswith("/tanda-terima"):
                    response.failure(f"vote refused: HTTP {response.status_code} {where}")
                    return
            record("vote", option=option, **self._who())
            self._page(f"/pemungutan/{proposal_id}/tanda-terima", "vote: receipt")

        @task(1)
        def relogin(self) -> None:
            html = self._page("/anggota", "dashboard /anggota") if self.logged_in else None
            token = html and csrf_from(html)
            if token:
                with self.client.post(
                    "/keluar",
                    name="logout",
                    data={"csrf_token": token},
                    allow_redirects=False,
                    catch_response=True,
                ) as response:
                    if response.status_code not in (302, 303):
                        response.failure(f"logout: HTTP {response.status_code}")
            self.logged_in = False
            self.client.cookies.clear()
            # Another member takes this seat: over the run the users log in as many members.
            accounts.append(self.account)
            self.account = accounts.popleft()
            self.login()

        def _who(self) -> dict:
            return {"member_id": self.account["member_id"], "member_no": self.account["member_no"]}

    return SoakMember


if "locust" in sys.modules:  # loaded by `locust -f bench/locustfile.py`
    SoakMember = _define_users()
