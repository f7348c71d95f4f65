"""Issue 24, must show 2: every form field and every API field, fuzzed; zero 5xx.

Routes come from ``app.url_map`` (as in ``test_authz_matrix.py``), each opened as an actor
``tests/authz_table.py`` allows (the demo cooperative's users). The form fields of a route are
read from the forms of every page (their ``action`` matched back to a rule), the API fields from
the partner API's OpenAPI document (request bodies and query parameters). Each field gets each
hostile value below once, the other fields of its form a plausible value; then the whole form at
once per value, a repeated field, and hostile path values (a 40-digit id, NUL, ...). CSRF and
rate limits are off: this is about parsing, both are tested elsewhere. Any 5xx fails, with the
exception that caused it. Runs on SQLite and, with ``KMP_TEST_DATABASE_URL``, on PostgreSQL
(which refuses NUL characters and out-of-range integers that SQLite would take).
"""

from __future__ import annotations

import io
import json
import time
import traceback
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder

from kmp.auth import User
from kmp.extensions import db
from kmp.registry import get_registry
from tests.authz_table import EXPECTED, allowed_actors
from tests.integration.test_hostile_input import _parse, _plausible

HOSTILE = {
    "empty": "",
    "long": "A" * 100_000,
    "rtl_emoji": "\u202eمرحبا שלום \u200f👩\u200d👩\u200d👧🇮🇩",
    "nul": "abc\x00def",
    "sql": "1' OR '1'='1'; DROP TABLE users; --",
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "template": "{{ 7*7 }}{% raw %}{{ config }}{% endraw %}${7*7}#{7*7}",
    "formula": "=cmd|' /C calc'!A0",
    "negative": "-1",
    "digits40": "9" * 40,
    "float": "1e308",
}
#: JSON keeps the types: a 40-digit integer and 1e308 as numbers, not strings.
HOSTILE_JSON = {**HOSTILE, "negative": -1, "digits40": 10**40 - 1, "float": 1e308}
PATH_VALUES = {"int": ["9" * 40], "str": ["a\x00b", "9" * 40]}
#: Each field gets this many of the hostile values alone (round robin over the fields, so
#: every value meets many fields), then every value at once in the whole form.
PER_FIELD = 2
#: A form with more fields (the AD editor) has this many of them fuzzed alone, spread evenly.
MAX_FIELDS_ALONE = 8
#: Who opens a route, most able first (actor names of tests/authz_table.py -> demo user).
PREFERENCE = ("bendahara", "admin", "pengurus", "pengawas", "partner", "pengemudi", "anon")
DEMO_OF = {"pengemudi": "anggota", "anon": None}
SKIP = ("/keluar", "/static/", "/sw.js")


@pytest.fixture
def demo(app):
    from kmp.demo import DEMO_USERS, seed_demo

    seed_demo()
    db.session.commit()
    emails = {key: email for key, email, _, _ in DEMO_USERS}
    return {k: db.session.scalar(select(User).where(User.email == e)) for k, e in emails.items()}


def _actor(endpoint: str, method: str) -> str | None:
    try:
        allowed = allowed_actors(EXPECTED, endpoint, method)
    except KeyError:
        return None
    return next((a for a in PREFERENCE if a in allowed), None)


def _url(rule, override: dict | None = None) -> str:
    values = {}
    for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug internals
        kind = type(converter).__name__
        if kind in ("IntegerConverter", "NumberConverter") or "Int" in kind:
            values[name] = 1
        elif kind == "AnyConverter":
            values[name] = sorted(converter.items)[0]
        elif kind == "PathConverter":
            values[name] = "x"
        else:
            values[name] = "csv" if name in ("fmt", "format") else "1"
    url = rule.build(values, append_unknown=False)[1]
    for name, raw in (override or {}).items():
        url = url.replace(f"/{values[name]}", f"/{quote(raw, safe='%')}", 1)
    return url


class Session:
    """The test client as one demo user at a time; collects 5xx with their cause."""

    def __init__(self, app, client, users, caplog):
        self.app, self.client, self.users, self.caplog = app, client, users, caplog
        self.problems: list[str] = []
        self.requests = 0
        self.slowest: list[tuple[float, str]] = []

    def as_(self, actor):
        user = self.users.get(DEMO_OF.get(actor, actor)) if actor else None
        with self.client.session_transaction() as session:
            session.clear()
            if user is not None:
                db.session.refresh(user)  # a password change moves the session version
                session["_user_id"] = user.get_id()
                session["_fresh"] = True

    def send(self, label: str, method: str, url: str, **kwargs):
        self.caplog.clear()
        started = time.perf_counter()
        builder = EnvironBuilder(path=url, method=method, **kwargs)
        environ = builder.get_environ()  # a large body is spooled to a temporary file ...
        try:
            response = self.client.open(environ)
        finally:
            builder.close()
            environ["wsgi.input"].close()  # ... closed here
        self.requests += 1
        self.slowest.append((time.perf_counter() - started, f"{method} {url[:80]} [{label}]"))
        self.slowest = sorted(self.slowest, reverse=True)[:15]
        status = response.status_code
        body = response.get_data(as_text=True) if "html" in response.content_type else ""
        response.close()
        if status >= 500:
            causes = [
                "".join(traceback.format_exception_only(*r.exc_info[:2])).strip()
                for r in self.caplog.records
                if r.exc_info
            ]
            cause = causes[0][:300] if causes else ""
            self.problems.append(f"{method} {url[:120]} [{label}]: {status} {cause}")
        return status, body


def _forms_by_rule(app, session: Session) -> dict[tuple[str, str], dict]:
    """``{(endpoint, method): {"url", "actor", "fields"}}`` from every page's forms."""
    adapter = app.url_map.bind("localhost")
    found: dict[tuple[str, str], dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        if any(s in rule.rule for s in SKIP) or rule.endpoint == "static":
            continue
        actor = _actor(rule.endpoint, "GET")
        if actor is None:
            continue
        session.as_(actor)
        page = _url(rule)
        status, html = session.send("discover", "GET", page)
        if status != 200 or not html:
            continue
        for form in _parse(html).forms:
            action = (form["action"] or page).split("#")[0]
            if not action.startswith("/"):
                continue
            path = action.split("?")[0]
            method = form["method"].upper()
            try:
                endpoint, _args = adapter.match(path, method=method)
            except HTTPException:
                continue
            entry = found.setdefault(
                (endpoint, method), {"url": action, "actor": actor, "fields": {}}
            )
            for kind, type_, name, attrs in form["fields"]:
                if name != "csrf_token":
                    entry["fields"].setdefault(name, (kind, type_, attrs))
    return found


def _plausible_data(fields: dict) -> MultiDict:
    data = MultiDict()
    for name, (kind, type_, attrs) in fields.items():
        if kind == "select":
            options = [o for o in attrs["options"] if o] or attrs["options"] or ["1"]
            data.add(name, options[0])
        elif type_ == "hidden":
            data.add(name, attrs.get("value", ""))
        elif type_ in ("checkbox", "radio"):
            data.add(name, attrs.get("value", "y") or "y")
        elif type_ == "file":
            data.add(name, FileValue("nama\nx\n"))
        elif type_ in ("submit", "button", "reset", "image"):
            data.add(name, attrs.get("value", ""))
        else:
            value = _plausible(type_, name, attrs)
            data.add(name, value if "script" not in value else "Uji")
    return data


def _with(data: MultiDict, fields: dict, name: str, value: str) -> MultiDict:
    out = MultiDict(data)
    _kind, type_, _attrs = fields[name]
    out.setlist(name, [FileValue(value) if type_ == "file" else value])
    return out


class FileValue(str):
    """A file field's content; a fresh file object is made for every request."""


def _materialise(data: MultiDict) -> MultiDict:
    return MultiDict(
        [
            (k, (io.BytesIO(v.encode()), "x.csv") if isinstance(v, FileValue) else v)
            for k, v in data.items(multi=True)
        ]
    )


def _post(session: Session, method: str, url: str, data: MultiDict, label: str):
    if method == "GET":
        pairs = [(k, v) for k, v in data.items(multi=True) if not isinstance(v, FileValue)]
        return session.send(label, "GET", url.split("?")[0], query_string=pairs)
    return session.send(
        label, method, url, data=_materialise(data), content_type="multipart/form-data"
    )


def _fuzz_forms(app, session: Session) -> int:
    forms = _forms_by_rule(app, session)
    names = list(HOSTILE)
    fields_done = turn = 0
    for (endpoint, method), entry in sorted(forms.items()):
        if entry["url"].split("?")[0] in SKIP or endpoint == "core.logout":
            continue
        actor = _actor(endpoint, method) or entry["actor"]
        fields = entry["fields"]
        base = _plausible_data(fields)
        alone = sorted(fields)
        if len(alone) > MAX_FIELDS_ALONE:
            step = len(alone) / MAX_FIELDS_ALONE
            alone = [alone[int(i * step)] for i in range(MAX_FIELDS_ALONE)]
        fields_done += len(fields)
        for name in alone:
            for _ in range(PER_FIELD):
                value_name = names[turn % len(names)]
                turn += 1
                session.as_(actor)
                data = _with(base, fields, name, HOSTILE[value_name])
                _post(session, method, entry["url"], data, f"{name}={value_name}")
            session.as_(actor)
            repeated = MultiDict(base)
            repeated.setlist(name, ["1", "2", HOSTILE["html"]])
            _post(session, method, entry["url"], repeated, f"{name} repeated")
        for value_name in names:  # the whole form at once
            session.as_(actor)
            data = MultiDict(base)
            for name in fields:
                data = _with(data, fields, name, HOSTILE[value_name])
            _post(session, method, entry["url"], data, f"all={value_name}")
    return fields_done


def _fuzz_paths_and_bare_posts(app, session: Session) -> None:
    """Every POST rule once with no fields and with hostile path values (ids in the URL)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith("/api/") or any(s in rule.rule for s in SKIP):
            continue
        for method in ("GET", "POST"):
            if method not in rule.methods or rule.endpoint == "static":
                continue
            actor = _actor(rule.endpoint, method)
            if actor is None:
                continue
            variants = [{}] if method == "POST" else []
            for name, converter in rule._converters.items():  # noqa: SLF001
                kind = "int" if "Int" in type(converter).__name__ else "str"
                if type(converter).__name__ == "AnyConverter":
                    continue
                variants += [{name: raw} for raw in PATH_VALUES[kind]]
            for override in variants:
                session.as_(actor)
                session.send(f"path {override}", method, _url(rule, override))
            if method == "GET" and not rule.arguments:
                session.as_(actor)
                query = [(k, HOSTILE["digits40"]) for k in ("page", "cursor", "q", "id")]
                query += [("year", HOSTILE["nul"]), ("month", "-1"), ("page", "2")]
                session.send("query", "GET", rule.rule, query_string=query)


# ------------------------------------------------------------------------------- the API


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if "allOf" in schema:
        merged: dict = {"properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(spec, part).get("properties", {}))
        return merged
    return schema


def _example(spec: dict, schema: dict):
    schema = _resolve(spec, schema)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _example(spec, v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_example(spec, schema.get("items", {}))]
    if kind == "integer":
        return 1000
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-01-15"
    if "enum" in schema:
        return schema["enum"][0]
    return "W-1"


def _paths(value, prefix=()):
    """Every leaf path of a JSON example: ``("lines", 0, "amount_idr")``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _set(document, path, value):
    document = json.loads(json.dumps(document))
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def _fuzz_api(app, session: Session, demo) -> int:
    from members.partners import keys as partners_keys
    from members.register.models import Member

    company = db.session.scalar(select(Member).where(Member.user_id == demo["partner"].id))
    if company is None:  # the partner user is staff of the company
        from members.partners.links import partner_companies

        company = partner_companies(active_only=False)[0]
    from kmp.api import SCOPES

    _row, key = partners_keys.create_api_key(
        company, name="fuzz", scopes=list(SCOPES), by_user=demo["admin"]
    )
    db.session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    session.as_(None)
    spec = get_registry(app).api.spec.to_dict()
    fields = 0
    for path, operations in sorted(spec["paths"].items()):
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            url = path
            for parameter in operation.get("parameters", []) + operations.get("parameters", []):
                if parameter.get("in") == "path":
                    url = url.replace("{" + parameter["name"] + "}", "1")
            query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            for parameter in query:
                fields += 1
                for value_name, value in HOSTILE.items():
                    session.send(
                        f"api ?{parameter['name']}={value_name}",
                        method.upper(),
                        url,
                        headers=headers,
                        query_string={parameter["name"]: value},
                    )
                session.send(
                    f"api ?{parameter['name']} repeated",
                    method.upper(),
                    url,
                    headers=headers,
                    query_string=[(parameter["name"], "1"), (parameter["name"], "x")],
                )
            for raw in ("9" * 40, "x\x00", "-1"):
                if url != path or "{" in path:
                    session.send(
                        f"api path {raw!r}",
                        method.upper(),
                        path.split("{")[0] + quote(raw),
                        headers=headers,
                    )
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            example = _example(spec, body["schema"])
            for leaf in _paths(example):
                fields += 1
                for value_name, value in HOSTILE_JSON.items():
                    session.send(
                        f"api {'.'.join(map(str, leaf))}={value_name}",
                        method.upper(),
                        url,
                        headers={**headers, "Content-Type": "application/json"},
                        data=json.dumps(_set(example, leaf, value)),
                    )
            # a repeated key: JSON keeps the last, it must still be checked
            text = json.dumps(example)
            first = next(iter(example), None)
            if first:
                twice = text[:-1] + f', "{first}": {json.dumps(HOSTILE_JSON["digits40"])}}}'
                session.send(
                    "api repeated key",
                    method.upper(),
                    url,
                    headers={**headers, "Content-Type": "application/json"},
                    data=twice,
                )
    return fields


@pytest.mark.slow
def test_every_form_and_api_field_fuzzed_gives_no_server_error(
    app, client, demo, monkeypatch, caplog
):
    from kmp.extensions import limiter

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    monkeypatch.setattr(limiter, "enabled", False)
    session = Session(app, client, demo, caplog)
    form_fields = _fuzz_forms(app, session)
    _fuzz_paths_and_bare_posts(app, session)
    api_fields = _fuzz_api(app, session, demo)
    print(f"{form_fields} form fields, {api_fields} API fields, {session.requests} requests")  # noqa: T201
    print("slowest:")  # noqa: T201
    for seconds, label in session.slowest:
        print(f"  {seconds:.2f}s {label}")  # noqa: T201
    assert form_fields > 100, f"only {form_fields} form fields found: the discovery broke"
    assert api_fields > 10, f"only {api_fields} API fields found"
    assert not session.problems, (
        f"{len(session.problems)} server error(s) in {session.requests} requests:\n"
        + "\n".join(session.problems)
    )
