"""The audit trail: who changed what, when, from where — append-only and hash-chained.

One mechanism for the whole application, so no feature has to remember to log:

- a SQLAlchemy ``before_flush`` listener notes every insert/update/delete made while a staff
  role (admin, pengurus, bendahara, pengawas, partner) is logged in, or during any API write
  (``/api/...`` with POST/PUT/PATCH/DELETE); ``after_flush`` writes one ``audit_records`` row
  per changed object (table, primary key, before/after of the changed columns, actor, roles,
  IP, time). Secrets are never copied (``***``) and NIK is masked.
- explicit events: ``kmp.signals.audit_event.send(app, action=..., target=..., before=...,
  after=...)`` adds a record in the sender's transaction.
- CLI commands and scheduled jobs are recorded too, with the operator or the job as the actor:
  ``cli:<command> (<os user>)`` (any ``flask ...`` command, from click's context) and
  ``job:<id>`` (``kmp.scheduler.run_job``; ``acting_as(label)`` for anything else).
- bulk statements that bypass the unit of work (``session.execute(insert(...).from_select(...))``,
  executemany inserts such as the ledger's set-based posting, bulk UPDATE/DELETE) leave one
  summary record each (``bulk_insert:<table>``: rows, and for the journal the postings, source
  kinds and first/last key) whenever an actor is recorded.
- not recorded: member self-service by anggota only, the journal row by row
  (``journal_entries``/``postings`` are themselves the append-only record), the notification
  outbox row by row and this table.
- PostgreSQL guarantees the money tables' trail whoever writes (even raw SQL): a deferred
  constraint trigger appends one ``db.money_write`` record per transaction that wrote
  ``journal_entries``, ``postings`` or the payment tables (``audit_money_table``), naming the
  database role, application, client address and the tables/operations, chained like the
  others so ``audit-verify`` checks it.

Each record stores ``prev_hash`` and ``hash = SHA-256(canonical JSON of prev_hash + its own
fields)``. Writers are serialised (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
database write lock the flush already holds), so two concurrent writers cannot fork the chain.
On PostgreSQL a trigger refuses UPDATE and DELETE (``install_audit_triggers(op)`` for the
migration). ``flask --app wsgi kmp audit-verify`` walks the chain and names the first broken
record.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import Blueprint, Flask, g, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import (
    DDL,
    BigInteger,
    Integer,
    String,
    Text,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from kmp.db import UTCDateTime
from kmp.extensions import db
from kmp.timeutil import now_utc

GENESIS = "0" * 64
STAFF_ROLES = ("admin", "pengurus", "bendahara", "pengawas", "partner")
VIEW_ROLES = ("pengawas", "admin")
#: Tables never copied into the trail (high volume, or themselves the record).
EXCLUDED_TABLES = frozenset(
    {"audit_records", "journal_entries", "postings", "notifications", "alembic_version"}
)
#: Columns whose value never leaves the table (a change is shown as ``***``).
SECRET_COLUMNS = frozenset(
    {
        "password_hash",
        "totp_secret",
        "code_hash",
        "token_hash",
        "api_key_hash",
        "key_hash",
        "secret",
        "secret_hash",
        "server_key",
    }
)
MASKED_COLUMNS = frozenset({"nik"})
#: An update that changes only these columns is housekeeping, not an action.
NOISE_COLUMNS = frozenset(
    {
        "last_login_at",
        "updated_at",
        "totp_last_step",
        "session_version",
        "mfa_failures",
        "mfa_failed_at",
    }
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_VALUE_CHARS = 500
_PG_LOCK_KEY = 0x4B4D5041  # "KMPA"


class AuditRecord(db.Model):
    """One attributable change. Never updated, never deleted."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(254), default="")
    roles: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(80), index=True)
    table_name: Mapped[str] = mapped_column(String(80), default="", index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    changes: Mapped[str] = mapped_column(Text, default="{}")
    ip: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def changes_dict(self) -> dict:
        try:
            return json.loads(self.changes or "{}")
        except ValueError:
            return {}


# --------------------------------------------------------------------------- hashing


def canonical_time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(prev_hash: str, fields: dict) -> str:
    payload = {
        "prev": prev_hash,
        "at": canonical_time(fields["created_at"]),
        "actor_id": fields["actor_id"],
        "actor": fields["actor"],
        "roles": fields["roles"],
        "action": fields["action"],
        "table": fields["table_name"],
        "target": fields["target"],
        "changes": fields["changes"],
        "ip": fields["ip"],
    }
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- values


def _plain(value):
    """A JSON-safe, short rendering of one column value."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return canonical_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, dict | list | tuple):
        try:
            value = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            value = str(value)
    value = str(value)
    if len(value) > MAX_VALUE_CHARS:
        value = value[:MAX_VALUE_CHARS] + "…"
    return value


def mask_value(value) -> str | None:
    if value is None:
        return None
    value = str(value)
    keep = 4
    return (
        "•" * max(len(value) - keep, 0) + value[-keep:] if len(value) > keep else "•" * len(value)
    )


def _shown(key: str, value):
    if key in SECRET_COLUMNS or key.endswith("_hash") or key.endswith("_secret"):
        return None if value is None else "***"
    if key in MASKED_COLUMNS:
        return mask_value(value)
    return _plain(value)


# --------------------------------------------------------------------------- actor


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    roles: str
    ip: str


_acting: ContextVar[Actor | None] = ContextVar("kmp_audit_actor", default=None)


@contextmanager
def acting_as(label: str, roles: str = "job"):
    """Record every write inside the block with ``label`` as the actor (jobs: ``job:<id>``)."""
    token = _acting.set(Actor(None, label[:254], roles[:100], ""))
    try:
        yield
    finally:
        _acting.reset(token)


def _os_user() -> str:
    import getpass
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _cli_actor() -> Actor | None:
    """``cli:<command> (<os user>)`` while a ``flask ...`` command runs (click's context)."""
    import click

    context = click.get_current_context(silent=True)
    if context is None:
        return None
    names = []
    while context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    command = " ".join(reversed(names)) or (context.info_name or "")
    return Actor(None, f"cli:{command} ({_os_user()})"[:254], "cli", "")


def _request_actor(*, explicit: bool = False) -> Actor | None:
    """The actor whose changes are recorded now, or None when nothing is recorded."""
    acting = _acting.get()
    if acting is not None:
        return acting
    if not has_request_context():
        actor = _cli_actor()
        if actor is None and explicit:
            return Actor(None, "sistem", "", "")
        return actor
    user = g.get("_login_user")  # set by Flask-Login once the view touched current_user
    user_roles: tuple[str, ...] = ()
    if user is not None and getattr(user, "is_authenticated", False):
        try:
            user_roles = tuple(sorted(str(r) for r in user.roles))
        except Exception:  # noqa: BLE001 - a detached user: fall back to no roles
            user_roles = ()
    else:
        user = None
    api_write = request.path.startswith("/api/") and request.method in WRITE_METHODS
    staff = any(r in STAFF_ROLES for r in user_roles)
    if not (staff or api_write or explicit):
        return None
    if user is not None:
        user_id = getattr(user, "id", None)
        label = getattr(user, "login_name", "") or str(user_id)
    else:
        user_id = None
        principal = g.get("kmp_api_principal")  # kmp.api: the partner's API key
        if principal is not None:
            label = (
                f"api-key:{getattr(principal, 'key_id', '?')} "
                f"{getattr(principal, 'name', '')} "
                f"company:{getattr(principal, 'company_id', '?')}"
            ).replace("  ", " ")
        else:
            label = "api" if api_write else "anonim"
        user_roles = ("partner",) if api_write else ()
    return Actor(user_id, label[:254], ",".join(user_roles)[:100], (request.remote_addr or "")[:64])


# --------------------------------------------------------------------------- listener


def _changes_for(state, action: str) -> dict:
    out: dict = {}
    mapper = state.mapper
    for prop in mapper.column_attrs:
        key = prop.key
        column_name = prop.columns[0].name if prop.columns else key
        if action == "update":
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before == after and history.deleted:
                continue
            out[column_name] = [_shown(column_name, before), _shown(column_name, after)]
        elif action == "insert":
            value = state.dict.get(key)
            if value is not None:
                out[column_name] = [None, _shown(column_name, value)]
        else:  # delete
            value = state.dict.get(key)
            if value is not None:
                out[column_name] = [_shown(column_name, value), None]
    return out


def _target(state) -> str:
    identity = state.identity
    if identity is None:
        try:
            identity = state.mapper.primary_key_from_instance(state.obj())
        except Exception:  # noqa: BLE001
            identity = None
    if not identity:
        return ""
    return ",".join("" if v is None else str(v) for v in identity)


def _table_of(state) -> str | None:
    table = getattr(state.mapper, "local_table", None)
    return getattr(table, "name", None)


@event.listens_for(Session, "before_flush")
def _collect(session, flush_context, instances):  # noqa: ARG001
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditRecord):
            raise RuntimeError("audit records are append-only")
    actor = _request_actor()
    if actor is None:
        return
    pending = session.info.setdefault("kmp_audit_pending", [])
    for action, objects in (
        ("insert", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            try:
                state = inspect(obj)
            except Exception:  # noqa: BLE001, S112 - not a mapped object
                continue
            table = _table_of(state)
            if not table or table in EXCLUDED_TABLES:
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes_for(state, action)
            if action == "update" and (not changes or set(changes) <= NOISE_COLUMNS):
                continue
            pending.append((actor, action, table, state, changes, _target(state)))


@event.listens_for(Session, "after_flush")
def _write(session, flush_context):  # noqa: ARG001
    pending = session.info.pop("kmp_audit_pending", None)
    if not pending:
        return
    rows = []
    for actor, action, table, state, changes, target in pending:
        if action == "insert":
            target = _target(state)
        rows.append(
            {
                "actor_id": actor.user_id,
                "actor": actor.label,
                "roles": actor.roles,
                "action": f"{action}:{table}",
                "table_name": table,
                "target": f"{table}:{target}"[:200],
                "changes": json.dumps(changes, sort_keys=True, ensure_ascii=False, default=str),
                "ip": actor.ip,
            }
        )
    append_records(session, rows)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop("kmp_audit_pending", None)


#: Bulk statements summarised per table: not the trail itself, nor the postings (the journal
#: entries' summary counts them), nor maintained balances and outbox delivery updates.
_BULK_INSERT_SILENT = frozenset({"audit_records", "alembic_version", "postings"})
_BULK_CHANGE_SILENT = EXCLUDED_TABLES | {"accounts"}


def _dml_table(state) -> str | None:
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name is None:  # an ORM entity
        name = getattr(getattr(table, "__table__", None), "name", None)
    return name


@event.listens_for(Session, "do_orm_execute")
def _summarise_bulk(state):
    """One record per bulk INSERT/UPDATE/DELETE run through the session while an actor is
    recorded (the unit of work's own flushes are recorded row by row above)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    table = _dml_table(state)
    silent = _BULK_INSERT_SILENT if state.is_insert else _BULK_CHANGE_SILENT
    if table is None or table in silent:
        return None
    actor = _request_actor()
    if actor is None:
        return None
    result = state.invoke_statement(execution_options={"preserve_rowcount": True})
    params = state.parameters
    rows = (
        len(params)
        if isinstance(params, list) and params
        else getattr(result, "rowcount", None)  # an ORM bulk result has none
    )
    if rows == 0:
        return result
    verb = "insert" if state.is_insert else "update" if state.is_update else "delete"
    summary: dict = {"rows": rows if rows is not None and rows >= 0 else "?"}
    if isinstance(params, list) and params and table == "journal_entries":
        kinds: dict[str, int] = {}
        for row in params:
            kinds[str(row.get("source_kind"))] = kinds.get(str(row.get("source_kind")), 0) + 1
        summary.update(
            postings=sum(int(row.get("posting_count") or 0) for row in params),
            source_kinds=kinds,
            first_key=str(params[0].get("idempotency_key"))[:120],
            last_key=str(params[-1].get("idempotency_key"))[:120],
        )
    append_records(
        state.session,
        [
            {
                "actor_id": actor.user_id,
                "actor": actor.label,
                "roles": actor.roles,
                "action": f"bulk_{verb}:{table}"[:80],
                "table_name": table[:80],
                "target": f"{table}:*"[:200],
                "changes": json.dumps(summary, sort_keys=True, ensure_ascii=False, default=str),
                "ip": actor.ip,
            }
        ],
    )
    return result


def append_records(session: Session, rows: list[dict]) -> None:
    """Chain and insert ``rows`` through the session's connection (inside its transaction)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    table = AuditRecord.__table__
    prev = connection.execute(
        select(table.c.hash).order_by(table.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev = prev or GENESIS
    at = now_utc()
    for row in rows:
        fields = dict(row, created_at=at)
        fields["hash"] = record_hash(prev, fields)
        fields["prev_hash"] = prev
        connection.execute(table.insert().values(**fields))
        prev = fields["hash"]


def record_event(
    action: str, target: str = "", before=None, after=None, *, table_name: str = ""
) -> None:
    """Add one explicit record (the ``kmp.signals.audit_event`` receiver uses this)."""
    actor = _request_actor(explicit=True)
    changes = {"before": _plain(before), "after": _plain(after)}
    append_records(
        db.session,
        [
            {
                "actor_id": actor.user_id,
                "actor": actor.label,
                "roles": actor.roles,
                "action": str(action)[:80],
                "table_name": table_name[:80],
                "target": str(target or "")[:200],
                "changes": json.dumps(changes, sort_keys=True, ensure_ascii=False, default=str),
                "ip": actor.ip,
            }
        ],
    )


def _on_audit_event(sender, **kwargs):  # noqa: ARG001
    record_event(
        kwargs.get("action", "event"),
        kwargs.get("target", ""),
        kwargs.get("before"),
        kwargs.get("after"),
    )


# --------------------------------------------------------------------------- verification


@dataclass
class VerifyResult:
    ok: bool
    count: int
    broken_id: int | None = None
    reason: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"Audit chain OK: {self.count} record(s), every hash matches."
        return f"Audit chain BROKEN at record #{self.broken_id}: {self.reason}"


def verify_chain(batch: int = 5000) -> VerifyResult:
    """Walk the chain in id order; stop at the first record whose link or hash is wrong."""
    table = AuditRecord.__table__
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            fields = row._mapping
            created = fields["created_at"]
            if created is not None and created.tzinfo is None:
                created = created.replace(tzinfo=dt.UTC)
            if fields["prev_hash"] != prev:
                return VerifyResult(
                    False,
                    count,
                    fields["id"],
                    "prev_hash does not match the previous record "
                    "(a record before it was changed, removed or inserted)",
                )
            expected = record_hash(prev, dict(fields, created_at=created))
            if expected != fields["hash"]:
                return VerifyResult(
                    False, count, fields["id"], "its content does not match its hash (edited)"
                )
            prev = fields["hash"]
            count += 1
            last_id = fields["id"]
    return VerifyResult(True, count)


# --------------------------------------------------------------------------- PostgreSQL


AUDIT_APPEND_ONLY_FUNCTION = DDL(
    """
CREATE OR REPLACE FUNCTION kmp_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'kmp: %% on %% is refused: the audit trail is append-only',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""
)
AUDIT_APPEND_ONLY_TRIGGER = DDL(
    "CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
    "FOR EACH ROW EXECUTE FUNCTION kmp_refuse_audit_change()"
)

event.listen(
    AuditRecord.__table__,
    "after_create",
    AUDIT_APPEND_ONLY_FUNCTION.execute_if(dialect="postgresql"),
)
event.listen(
    AuditRecord.__table__,
    "after_create",
    AUDIT_APPEND_ONLY_TRIGGER.execute_if(dialect="postgresql"),
)


# The money tables' trail, kept by the database itself. The first row a transaction writes to
# any money table queues ONE deferred event (the WHEN notes each table/operation in a
# transaction-local setting; later rows cost two settings reads, no function call); at COMMIT
# the event appends a ``db.money_write`` record to the chain, hashed exactly as
# ``record_hash`` does, under the same advisory lock as the application's writers.

_AUDIT_NOTE_FUNCTION = """
CREATE OR REPLACE FUNCTION kmp_audit_note(op TEXT) RETURNS boolean AS $$
BEGIN
    IF current_setting('kmp.audit_tx', true) IS DISTINCT FROM txid_current()::text THEN
        PERFORM set_config('kmp.audit_tx', txid_current()::text, true);
        PERFORM set_config('kmp.audit_ops', op || ';', true);
        RETURN true;
    END IF;
    IF strpos(current_setting('kmp.audit_ops', true), op || ';') = 0 THEN
        PERFORM set_config('kmp.audit_ops', current_setting('kmp.audit_ops', true) || op || ';',
            true);
    END IF;
    RETURN false;
END;
$$ LANGUAGE plpgsql VOLATILE
"""

_AUDIT_WRITE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION kmp_audit_money_writes() RETURNS trigger AS $$
DECLARE
    at TIMESTAMPTZ := clock_timestamp();
    ops TEXT := rtrim(coalesce(current_setting('kmp.audit_ops', true), ''), ';');
    who TEXT := left('db:' || current_user
        || coalesce(' ' || nullif(current_setting('application_name', true), ''), ''), 254);
    addr TEXT := coalesce(host(inet_client_addr()), '');
    what TEXT;
    prev TEXT;
    payload TEXT;
BEGIN
    PERFORM pg_advisory_xact_lock({_PG_LOCK_KEY});
    SELECT hash INTO prev FROM audit_records ORDER BY id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    what := json_build_object('ops', string_to_array(ops, ';'), 'txid', txid_current())::text;
    -- record_hash(): canonical JSON, keys sorted, no spaces
    payload := '{{"action":' || to_json('db.money_write'::text)::text
        || ',"actor":' || to_json(who)::text
        || ',"actor_id":null'
        || ',"at":' || to_json(to_char(at AT TIME ZONE 'UTC',
                                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
        || ',"changes":' || to_json(what)::text
        || ',"ip":' || to_json(addr)::text
        || ',"prev":' || to_json(prev)::text
        || ',"roles":"db","table":""'
        || ',"target":' || to_json(left(ops, 200))::text || '}}';
    INSERT INTO audit_records (created_at, actor_id, actor, roles, action, table_name, target,
                               changes, ip, prev_hash, hash)
    VALUES (at, NULL, who, 'db', 'db.money_write', '', left(ops, 200), what, addr, prev,
            encode(sha256(convert_to(payload, 'UTF8')), 'hex'));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

#: Money tables whose every write the database records (features add theirs).
MONEY_TABLES: dict[str, tuple[str, ...]] = {}


def _money_trigger(table: str, verb: str) -> str:
    op = f"{verb.lower()}:{table}"
    return (
        f"CREATE CONSTRAINT TRIGGER {table}_audit_{verb.lower()} AFTER {verb} ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (CASE "
        "WHEN current_setting('kmp.audit_tx', true) IS DISTINCT FROM txid_current()::text "
        f"THEN kmp_audit_note('{op}') "
        f"WHEN strpos(current_setting('kmp.audit_ops', true), '{op};') = 0 "
        f"THEN kmp_audit_note('{op}') "
        "ELSE false END) EXECUTE FUNCTION kmp_audit_money_writes()"
    )


def money_audit_ddl(table: str) -> list[DDL]:
    """PostgreSQL statements that make the database record every write to ``table``."""
    verbs = MONEY_TABLES.get(table, ("INSERT", "UPDATE", "DELETE"))
    return [
        DDL(_escape(_AUDIT_NOTE_FUNCTION)),
        DDL(_escape(_AUDIT_WRITE_FUNCTION)),
        *(DDL(_escape(_money_trigger(table, verb))) for verb in verbs),
    ]


def _escape(sql: str) -> str:
    return sql.replace("%", "%%")  # DDL() formats its text with %


def audit_money_table(table, verbs: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE")) -> None:
    """Declare ``table`` (a ``Table``) a money table: on PostgreSQL ``create_all`` and the
    initial migration (``install_audit_triggers``) install its audit triggers."""
    MONEY_TABLES[table.name] = tuple(verbs)

    def install(target, connection, **kw):  # noqa: ARG001
        if connection.dialect.name == "postgresql":
            for statement in money_audit_ddl(target.name):
                connection.execute(statement)

    event.listen(table, "after_create", install)


def install_audit_triggers(op) -> None:
    """Called from the initial migration (PostgreSQL only): the trail's append-only trigger
    and the money tables' audit triggers."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(AUDIT_APPEND_ONLY_FUNCTION)
    op.execute(AUDIT_APPEND_ONLY_TRIGGER)
    for table in MONEY_TABLES:
        for statement in money_audit_ddl(table):
            op.execute(statement)


def uninstall_audit_triggers(op) -> None:
    """The initial migration's downgrade: the functions (their triggers go with them)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for function in (
        "kmp_refuse_audit_change()",
        "kmp_audit_note(TEXT)",
        "kmp_audit_money_writes()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")


# --------------------------------------------------------------------------- pages

bp = Blueprint("audit", __name__, url_prefix="/jejak-audit")
PAGE_SIZE = 50
ACTION_KINDS = ("insert", "update", "delete")


def _filtered_query(args):
    query = select(AuditRecord)
    actor = (args.get("oleh") or "").strip()[:100]
    table = (args.get("tabel") or "").strip()[:80]
    kind = (args.get("jenis") or "").strip()[:20]
    target = (args.get("target") or "").strip()[:100]
    date_from = _parse_date(args.get("dari"))
    date_to = _parse_date(args.get("sampai"))
    if actor:
        query = query.where(AuditRecord.actor.contains(actor, autoescape=True))
    if table:
        query = query.where(AuditRecord.table_name == table)
    if kind in ACTION_KINDS:
        query = query.where(AuditRecord.action.startswith(kind + ":", autoescape=True))
    elif kind == "event":
        query = query.where(AuditRecord.table_name == "")
    if target:
        query = query.where(AuditRecord.target.contains(target, autoescape=True))
    from kmp.timeutil import JAKARTA

    if date_from:
        start = dt.datetime.combine(date_from, dt.time.min, tzinfo=JAKARTA)
        query = query.where(AuditRecord.created_at >= start)
    if date_to:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=JAKARTA)
        query = query.where(AuditRecord.created_at < end)
    filters = {
        "oleh": actor,
        "tabel": table,
        "jenis": kind,
        "target": target,
        "dari": date_from.isoformat() if date_from else "",
        "sampai": date_to.isoformat() if date_to else "",
    }
    return query, filters


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip()[:10]) if value else None
    except ValueError:
        return None


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("hal", "1")), 100_000))
    except ValueError:
        return 1


def _guard(view):
    from kmp.auth import role_required

    return role_required(*VIEW_ROLES)(view)


@bp.get("/")
@_guard
def index():
    query, filters = _filtered_query(request.args)
    page = _page_number()
    records = db.session.scalars(
        query.order_by(AuditRecord.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    has_next = len(records) > PAGE_SIZE
    tables = db.session.scalars(
        select(AuditRecord.table_name).where(AuditRecord.table_name != "").distinct()
    ).all()
    from kmp.audit_text import describe

    return render_template(
        "audit/index.html",
        records=[(r, describe(r)) for r in records[:PAGE_SIZE]],
        filters=filters,
        page=page,
        has_next=has_next,
        tables=sorted(tables),
        kinds=ACTION_KINDS,
    )


@bp.get("/ekspor")
@_guard
def export():
    from kmp.exports import send_export

    query, _filters = _filtered_query(request.args)
    headers = [
        _("Nomor"),
        _("Waktu (UTC)"),
        _("Oleh"),
        _("Peran"),
        _("Tindakan"),
        _("Sasaran"),
        _("Perubahan"),
        _("IP"),
        _("Hash sebelumnya"),
        _("Hash"),
    ]

    def rows():
        for r in db.session.scalars(
            query.order_by(AuditRecord.id).execution_options(yield_per=500)
        ):
            yield [
                r.id,
                r.created_at,
                r.actor,
                r.roles,
                r.action,
                r.target,
                r.changes,
                r.ip,
                r.prev_hash,
                r.hash,
            ]

    return send_export(rows(), headers, "jejak-audit", request.args.get("format"))


def init_app(app: Flask) -> None:
    from kmp.signals import audit_event
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    audit_event.connect(_on_audit_event, weak=False)
    register_nav(app, NavItem("audit.index", lazy_gettext("Jejak audit"), VIEW_ROLES, 880))
    from kmp.registry import get_registry

    get_registry(app).audit_installed = True
