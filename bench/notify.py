"""A 100,000-member meeting notice: queued set-based and drained through the WhatsApp adapter
against a fake Cloud API (issue 21, Must-show 6).

Subject: ``kmp.notify.queue_bulk("meeting_notice", "meeting:1", <select over N members>)`` + one
commit (one ``INSERT ... SELECT ... ON CONFLICT (dedupe_key) DO NOTHING``), then
``kmp.notify.deliver_all()`` as the delivery job runs it: batches of 500 claimed from the
outbox, each message's channel chain, opt-outs and preferences read per batch, a template
message built and POSTed through ``kmp.http.http_session()`` to the Graph API URL -- answered
in-process by a transport adapter mounted on that session (no network), with the
documented ``{"messages": [{"id": "wamid..."}]}`` -- and the row marked sent with its wamid,
one commit per batch. Rate limits are off (``KMP_WHATSAPP_RATE=0``): the figure is what KMP
itself can push, to compare with the Cloud API's default 80 messages/s per number.

Floor: the same rows written by one bare ``INSERT ... SELECT`` (no conflict clause), then
drained by bare SQL: ``SELECT id ... LIMIT 500`` and one ``UPDATE ... SET status='sent'``
per batch, one commit per batch -- no provider, no HTTP, no per-message Python.

Setup (not timed): nothing but the schema; the N recipients come from a recursive number
series inside the insert itself.
"""

from __future__ import annotations

import json
import time

from sqlalchemy import Integer, String, cast, false, func, insert, literal, select, text

NAME = "notify"
TITLE = "Meeting notice to every member: queued and drained"
UNIT = "messages/s"
DEFAULT_SIZES = (100_000,)
LARGE_SIZES = (1_000_000,)
#: At least five times the Cloud API's default throughput of 80 messages/s per phone number
#: (on a shared, loaded machine): KMP's own cost must never be what holds a campaign back.
MIN_THROUGHPUT = 400.0
FLOOR_NAME = (
    "one bare INSERT ... SELECT of the same rows, then bare batched SELECT id / UPDATE status "
    "(500 per batch, one commit each)"
)
BATCH = 500
CAMPAIGN = "meeting:1"
GRAPH = "https://graph.facebook.com/"


def _numbers(n: int):
    seq = select(literal(1, Integer).label("i")).cte("seq", recursive=True)
    return seq.union_all(select((seq.c.i + 1).label("i")).where(seq.c.i < n))


def _recipients(n: int):
    seq = _numbers(n)
    return select(
        (literal("+62811") + cast(seq.c.i + 1_000_000, String)).label("address"),
        seq.c.i.label("member_id"),
        literal("Undangan RAT 2026: Sabtu 14 Maret 2026 pukul 09.00 WIB di Aula Koperasi.").label(
            "body"
        ),
    )


class FakeGraphAdapter:
    """A ``requests`` transport adapter answering every Graph API POST like Meta does."""

    def __init__(self):
        import requests

        self._requests = requests
        self.calls = 0

    def send(self, request, **kwargs):  # noqa: ARG002 - requests' adapter signature
        self.calls += 1
        body = json.loads(request.body)
        response = self._requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(  # noqa: SLF001 - building a canned response
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": f"wamid.bench{self.calls}", "message_status": "accepted"}],
            }
        ).encode()
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def _use_fake_cloud_api() -> FakeGraphAdapter:
    from flask import current_app

    from kmp.http import http_session

    current_app.config.update(
        KMP_NOTIFIER="whatsapp",
        KMP_WHATSAPP_TOKEN="bench-token",
        KMP_WHATSAPP_PHONE_NUMBER_ID="106540352242922",
        KMP_WHATSAPP_RATE=0,
        KMP_NOTIFY_QUIET_HOURS="off",
    )
    adapter = FakeGraphAdapter()
    http_session().mount(GRAPH, adapter)
    return adapter


def _status_count(status: str) -> int:
    from kmp.extensions import db

    return int(
        db.session.scalar(
            text("SELECT count(*) FROM notifications WHERE status = :s"), {"s": status}
        )
    )


def subject_phase(timer, *, n: int) -> dict:
    from kmp.extensions import db
    from kmp.notify import deliver_all, queue_bulk

    adapter = _use_fake_cloud_api()
    source = _recipients(n)
    with timer:
        started = time.perf_counter()
        queued = queue_bulk("meeting_notice", CAMPAIGN, source)
        db.session.commit()
        queued_at = time.perf_counter()
        report = deliver_all(batch=BATCH, seconds=10**9)
        drained_at = time.perf_counter()
    again = queue_bulk("meeting_notice", CAMPAIGN, source)
    db.session.commit()
    return {
        "queued": queued,
        "sent": report.sent,
        "rows_sent": _status_count("sent"),
        "http_calls": adapter.calls,
        "queue_seconds": round(queued_at - started, 3),
        "drain_seconds": round(drained_at - queued_at, 3),
        "second_queue_created": again,
    }


def floor_phase(timer, *, n: int) -> dict:
    from kmp.db import UTCDateTime
    from kmp.extensions import db
    from kmp.notify import Notification
    from kmp.timeutil import now_utc

    seq = _numbers(n)
    stamp = now_utc()
    columns = {
        "kind": literal("meeting_notice"),
        "channel": literal("whatsapp"),
        "address": literal("+62811") + cast(seq.c.i + 1_000_000, String),
        "subject": literal(""),
        "body": literal("Undangan RAT 2026: Sabtu 14 Maret 2026 pukul 09.00 WIB di Aula Koperasi."),
        "member_id": seq.c.i,
        "dedupe_key": literal(f"meeting_notice:{CAMPAIGN}:m") + cast(seq.c.i, String),
        "campaign": literal(CAMPAIGN),
        "status": literal("pending"),
        "urgent": literal(False),
        "attempts": literal(0, Integer),
        "channel_attempts": literal(0, Integer),
        "channels_tried": literal(""),
        "created_at": literal(stamp, UTCDateTime()),
    }
    table = Notification.__table__
    stmt = insert(table).from_select(list(columns), select(*columns.values()))
    pick = (  # the outbox's own index: (status, urgent, id)
        select(table.c.id)
        .where(table.c.status == "pending", table.c.urgent == false())
        .order_by(table.c.id)
        .limit(BATCH)
    )
    with timer:
        started = time.perf_counter()
        db.session.execute(stmt)
        db.session.commit()
        queued_at = time.perf_counter()
        while True:
            ids = list(db.session.scalars(pick))
            if not ids:
                break
            db.session.execute(
                table.update()
                .where(table.c.id.in_(ids))
                .values(
                    status="sent",
                    attempts=1,
                    sent_at=now_utc(),
                    provider="whatsapp",
                    provider_message_id=literal("wamid.") + cast(table.c.id, String),
                )
            )
            db.session.commit()
        drained_at = time.perf_counter()
    return {
        "rows_sent": _status_count("sent"),
        "queue_seconds": round(queued_at - started, 3),
        "drain_seconds": round(drained_at - queued_at, 3),
        "rows": int(db.session.scalar(select(func.count()).select_from(table))),
    }


def run(ctx) -> list[dict]:
    from bench.harness import make_result

    results = []
    for n in ctx.sizes_for(DEFAULT_SIZES, LARGE_SIZES):
        floor, subject = ctx.paired(NAME, floor_phase, subject_phase, n=n)
        problems = [
            f"{key}={subject[key]}"
            for key in ("queued", "sent", "rows_sent", "http_calls")
            if subject[key] != n
        ]
        if problems or floor["rows_sent"] != n:
            raise RuntimeError(f"notify bench for {n}: {problems}, floor sent {floor['rows_sent']}")
        result = make_result(
            name=NAME,
            ctx=ctx,
            n=n,
            subject=subject,
            floor=floor,
            floor_name=FLOOR_NAME,
            unit=UNIT,
            ratio_kind="throughput",
            target_value=0.0,
            min_throughput=MIN_THROUGHPUT,
            extra={
                "queue_seconds": subject["queue_seconds"],
                "drain_seconds": subject["drain_seconds"],
                "queue_per_second": round(n / subject["queue_seconds"], 1),
                "drain_per_second": round(n / subject["drain_seconds"], 1),
                "floor_queue_seconds": floor["queue_seconds"],
                "floor_drain_seconds": floor["drain_seconds"],
                "second_queue_created": subject["second_queue_created"],
            },
        )
        if subject["second_queue_created"] != 0:
            result["target_met"] = False  # queueing the campaign again must queue nothing
        results.append(result)
    return results
