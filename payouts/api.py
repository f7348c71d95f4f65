"""Partner API: ``POST /api/v1/patronage`` (trips, deliveries, spend reported by a platform).

Up to 10,000 records per request. Each record names a worker by ``platform_worker_id``; only
workers linked to the key's company (with consent) are accepted. Bad records are reported one
by one and the good ones land (or nothing lands with ``atomic: true``). Idempotent twice over:
by ``external_id`` (``payouts.patronage.ingest_patronage``) and by batch (``batch_id``, or the
set of external ids): a replayed batch returns the stored original result.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import re

import marshmallow as ma
from flask import Flask, request
from sqlalchemy import String, any_, bindparam, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import NullType

from kmp.api import (
    ApiError,
    Bool,
    Int,
    List,
    Pattern,
    Str,
    StrictSchema,
    api_blueprint,
    current_principal,
    register_api_blueprint,
    scope_required,
)
from kmp.errors import Conflict
from kmp.extensions import db
from kmp.i18n import gettext
from members.partners import remittances as partners_remittances
from members.partners.models import WorkerLink
from payouts.patronage import (
    MEASURES,
    PERIOD_RE,
    PLAUSIBLE_PER_MONTH,
    PatronageRecord,
    PatronageRow,
    ingest_patronage,
    latest_period,
    pg_text_array,
)

blp = api_blueprint("patronage_api", __name__, description="Data jasa usaha dari mitra platform")

MAX_RECORDS = 10_000
MAX_VALUE = 10**12


def _not_future(period: str) -> str:
    if period > latest_period():
        raise ma.ValidationError("Periode belum terjadi: paling akhir bulan ini.")
    return period


class PatronageRecordLoadSchema(StrictSchema):
    platform_worker_id = Str(
        required=True,
        validate=Pattern(
            r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,59}$", error="ID mitra tidak valid (1-60 karakter)."
        ),
    )
    period = Str(
        required=True,
        validate=[
            Pattern(PERIOD_RE, error="Periode harus TTTT-BB, misalnya 2025-03."),
            _not_future,
        ],
    )
    measure = Str(
        required=True,
        validate=ma.validate.OneOf(
            sorted(MEASURES), error="Pilih trips, deliveries, spend_idr atau contribution_idr."
        ),
    )
    value = Int(
        required=True,
        validate=ma.validate.Range(0, MAX_VALUE, error="Bilangan bulat 0 sampai 10^12."),
    )
    external_id = Str(
        required=True,
        validate=Pattern(r"^[\x21-\x7e]{1,120}$", error="1-120 karakter ASCII tanpa spasi."),
    )

    @ma.validates_schema
    def _plausible(self, data, **_kwargs):
        """Per worker and month: ``payouts.patronage.PLAUSIBLE_PER_MONTH``."""
        limit = PLAUSIBLE_PER_MONTH.get(data.get("measure"))
        if limit is not None and data.get("value", 0) > limit:
            raise ma.ValidationError(
                f"Tidak wajar untuk satu pengemudi sebulan (paling banyak {limit}).", "value"
            )


class _RawRecords(List):
    """``List(Raw())`` that takes a JSON array without calling the inner field once per item
    when no item is null (the only thing ``Raw`` refuses); anything else goes through
    marshmallow as before, with the same messages."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is list and None not in value:
            return list(value)
        return super()._deserialize(value, attr, data, **kwargs)


class PatronageBatchLoadSchema(StrictSchema):
    """Only the envelope: records are checked one by one so each gets its own error."""

    batch_id = Str(
        load_default=None,
        validate=Pattern(r"^[\x21-\x7e]{1,64}$", error="1-64 karakter ASCII."),
    )
    atomic = Bool(load_default=False)
    records = _RawRecords(
        ma.fields.Raw(),
        required=True,
        validate=ma.validate.Length(1, MAX_RECORDS, error="1 sampai 10.000 record."),
    )


class PatronageBatchDocSchema(ma.Schema):
    """The documented request body."""

    batch_id = ma.fields.String(
        metadata={"description": "Optional id of this batch (replay returns its result)"},
        validate=Pattern(r"^[\x21-\x7e]{1,64}$"),
    )
    atomic = ma.fields.Boolean(
        metadata={"description": "true: reject the whole batch when one record is bad"}
    )
    records = ma.fields.List(
        ma.fields.Nested(PatronageRecordLoadSchema),
        required=True,
        validate=ma.validate.Length(1, MAX_RECORDS),
    )


class RecordErrorSchema(ma.Schema):
    index = ma.fields.Integer(required=True)
    external_id = ma.fields.String(allow_none=True, required=True)
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    fields = ma.fields.Dict(required=True)


class PatronageResultSchema(ma.Schema):
    batch_id = ma.fields.String(allow_none=True, required=True)
    received = ma.fields.Integer(required=True)
    inserted = ma.fields.Integer(required=True)
    duplicates = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    errors = ma.fields.List(ma.fields.Nested(RecordErrorSchema), required=True)
    replayed = ma.fields.Boolean(required=True)


_RECORD = PatronageRecordLoadSchema()
_BATCH = PatronageBatchLoadSchema()


_FIELDS = frozenset(PatronageRecordLoadSchema._declared_fields)
_WORKER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,59}\Z")
_EXTERNAL_RE = re.compile(r"^[\x21-\x7e]{1,120}\Z")


def _screen(records: list) -> tuple[list[str], list[int]]:
    """One pass over the records: ``(external_ids, doubtful)``, the external id of every record
    (``""`` when it has none) and the indexes of the records that are not plainly valid.

    A fast pre-check that accepts only records the schema accepts too (same rules, no error
    messages); the doubtful ones go through marshmallow, which decides and words the errors.
    """
    fields, worker_re, period_re, external_re = _FIELDS, _WORKER_RE, PERIOD_RE, _EXTERNAL_RE
    latest, plausible = latest_period(), PLAUSIBLE_PER_MONTH
    external_ids: list[str] = []
    doubtful: list[int] = []
    for index, record in enumerate(records):
        if type(record) is dict and record.keys() == fields:
            worker, period, value, external = (
                record["platform_worker_id"],
                record["period"],
                record["value"],
                record["external_id"],
            )
            if type(external) is str:
                external_ids.append(external)
                if (
                    type(worker) is str
                    and worker_re.match(worker) is not None
                    and type(period) is str
                    and period_re.fullmatch(period) is not None
                    and period <= latest
                    and type(record["measure"]) is str
                    and record["measure"] in MEASURES
                    and type(value) is int
                    and 0 <= value <= plausible[record["measure"]]
                    and external_re.match(external) is not None
                ):
                    continue
            else:
                external_ids.append("")
        else:
            external = record.get("external_id") if isinstance(record, dict) else None
            external_ids.append(external if isinstance(external, str) else "")
        doubtful.append(index)
    return external_ids, doubtful


def _load_records(records: list, doubtful: list[int]) -> tuple[list, dict[int, dict]]:
    """``(loaded, errors_by_index)``: marshmallow validates the ``doubtful`` records (those
    ``_screen`` does not plainly accept); 10,000 records per request must stay fast."""
    loaded: list = list(records)
    errors: dict[int, dict] = {}
    for index in doubtful:
        try:
            loaded[index] = _RECORD.load(records[index])
        except ma.ValidationError as error:
            errors[index] = error.messages
        except TypeError:
            errors[index] = {"_schema": ["Record harus berupa objek JSON."]}
    return loaded, errors


def _worker_map(company_id: int, worker_ids: set[str]) -> dict[str, int]:
    """``{platform_worker_id: member_id}`` of the company's consenting workers among the
    (upper-cased, validated) ids: ``partners_links.worker_map``'s rule in one statement, the ids
    passed as one array (PostgreSQL) or one JSON text (SQLite) instead of 900 per query."""
    if not worker_ids:
        return {}
    if db.session.get_bind().dialect.name == "postgresql":
        # untyped parameter: the literal is parsed once as the array's input, not per row
        ids = bindparam("worker_ids", pg_text_array(sorted(worker_ids)), type_=NullType())
        wanted = WorkerLink.platform_worker_id == any_(cast(ids, ARRAY(String)))
    else:
        wanted = WorkerLink.platform_worker_id.in_(
            select(literal_column("value")).select_from(
                func.json_each(bindparam("worker_ids", json.dumps(sorted(worker_ids))))
            )
        )
    rows = db.session.execute(
        select(WorkerLink.platform_worker_id, WorkerLink.member_id).where(
            WorkerLink.company_id == company_id, WorkerLink.withdrawn_at.is_(None), wanted
        )
    )
    return dict(rows.tuples().all())


def _flatten(messages) -> dict:
    if isinstance(messages, dict):
        return {str(k): v for k, v in messages.items()}
    return {"_record": messages}


@blp.post("/patronage")
@scope_required("patronage:write")
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": PatronageBatchDocSchema}},
    }
)
@blp.response(201, PatronageResultSchema)
@blp.alt_response(200, schema=PatronageResultSchema, description="Replay: the original result")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def post_patronage():
    """Report patronage (trips, deliveries, spend) of linked workers: up to 10,000 records."""
    with _cyclic_gc_paused():
        return _post_patronage()


@contextlib.contextmanager
def _cyclic_gc_paused():
    """A 10,000-record request allocates some 50,000 containers (the parsed JSON, the rows),
    none of them in reference cycles; each batch of allocations would otherwise start the
    cyclic collector, and its older generations walk the whole heap: about half of the
    request's CPU in the benchmark. Reference counting still frees everything; the collector
    is switched back on afterwards (only if it was on) and catches up on its own."""
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _post_patronage():
    principal = current_principal()
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError(
            gettext("Isi permintaan harus objek JSON."),
            code="validation_error",
            details={"fields": {"_schema": ["Isi permintaan harus objek JSON."]}},
        )
    try:
        envelope = _BATCH.load(payload)
    except ma.ValidationError as error:
        raise ApiError(
            gettext("Data tidak valid: periksa kolom yang disebutkan."),
            code="validation_error",
            details={"fields": error.messages},
        ) from None
    records = envelope["records"]
    external_ids, doubtful = _screen(records)
    batch_key = partners_remittances.patronage_batch_key(envelope["batch_id"], external_ids)
    fingerprint = hashlib.sha256(request.get_data()).hexdigest()
    stored = partners_remittances.find_patronage_batch(principal.company_id, batch_key)
    if stored is not None:
        if envelope["batch_id"] and stored.fingerprint != fingerprint:
            raise Conflict(
                gettext("batch_id ini sudah dipakai untuk data yang berbeda."),
                code="batch_id_reused",
                field="batch_id",
            )
        db.session.commit()
        return {**stored.result, "replayed": True}, 200

    errors: list[dict] = []
    loaded, bad = _load_records(records, doubtful)
    for index in sorted(bad):
        errors.append(
            {
                "index": index,
                "external_id": external_ids[index] or None,
                "code": "invalid_record",
                "message": "Record tidak valid.",
                "fields": _flatten(bad[index]),
            }
        )
    good = [(i, record) for i, record in enumerate(loaded) if i not in bad]
    worker_ids = {record["platform_worker_id"] for _, record in good}
    linked = _worker_map(principal.company_id, {w.upper() for w in worker_ids})
    workers = {w: linked.get(w.upper()) for w in worker_ids}
    rows: list[PatronageRow] = []
    for index, record in good:
        member_id = workers[record["platform_worker_id"]]
        if member_id is None:
            errors.append(
                {
                    "index": index,
                    "external_id": record["external_id"],
                    "code": "unknown_worker",
                    "message": "Pengemudi tidak tertaut ke perusahaan Anda (atau mencabut "
                    "persetujuannya).",
                    "fields": {"platform_worker_id": ["Tidak tertaut."]},
                }
            )
            continue
        rows.append(
            PatronageRow(
                member_id=member_id,
                period=record["period"],
                measure=record["measure"],
                value=record["value"],
                external_id=record["external_id"],
            )
        )
    errors.sort(key=lambda e: e["index"])
    if errors and envelope["atomic"]:
        raise ApiError(
            gettext("Ada record yang tidak valid; karena atomic=true tidak ada yang disimpan."),
            code="validation_error",
            details={"records": errors},
        )
    report = ingest_patronage(rows, source="api", source_ref=f"partner:{principal.company_id}")
    result = {
        "batch_id": envelope["batch_id"],
        "received": len(records),
        "inserted": report.inserted,
        "duplicates": len(report.duplicates),
        "rejected": len(errors),
        "errors": errors,
    }
    try:
        partners_remittances.record_patronage_batch(
            principal.company_id, batch_key, fingerprint, result, api_key_id=principal.key_id
        )
        db.session.commit()
    except IntegrityError:  # a concurrent twin stored the batch first: return its result
        db.session.rollback()
        stored = partners_remittances.find_patronage_batch(principal.company_id, batch_key)
        if stored is None:
            raise
        return {**stored.result, "replayed": True}, 200
    return {**result, "replayed": False}, 201


def patronage_summary(company_id: int, periods: int = 12) -> list[tuple[str, str, int]]:
    """``[(period, measure, total)]`` reported by one partner, the last ``periods`` months."""
    rows = db.session.execute(
        select(PatronageRecord.period, PatronageRecord.measure, func.sum(PatronageRecord.value))
        .where(PatronageRecord.source_ref == f"partner:{company_id}")
        .group_by(PatronageRecord.period, PatronageRecord.measure)
        .order_by(PatronageRecord.period)
    ).all()
    keep = sorted({r[0] for r in rows})[-periods:]
    return [(p, str(m), int(v)) for p, m, v in rows if p in keep]


def _patronage_answer(sender, company_id: int, **kwargs):  # noqa: ARG001
    return patronage_summary(company_id)


def init_api(app: Flask) -> None:
    from kmp import signals

    signals.partner_patronage_requested.connect(_patronage_answer, weak=False)
    register_api_blueprint(app, blp)
