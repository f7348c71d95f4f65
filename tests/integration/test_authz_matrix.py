"""Issue 10, must show 1: every route in the URL map, every role, against tests/authz_table.py.

For each rule and each of its methods, each actor (anonymous, an anggota of each member group,
partner, pengawas, pengurus, bendahara, admin) sends a request with dummy path values and CSRF
switched off. "Denied" is a 401/403 or a redirect to the login page; anything else (200, 302
elsewhere, 400/404/409/422 because the dummy data is wrong, 429) means the guard let the actor
through. A 5xx is always a failure. A route without an entry in the table fails the test with
a message naming it. How to add an entry: see the docstring of tests/authz_table.py.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from kmp.auth import Role
from kmp.extensions import db as _db
from tests.authz_table import ACTORS, EXPECTED, allowed_actors
from tests.integration.governance_factories import make_voter

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
GROUPS = ("pengemudi", "kurir", "pengguna", "platform")
ACTOR_ROLES = {
    "partner": (Role.PARTNER,),
    "pengawas": (Role.PENGAWAS,),
    "pengurus": (Role.PENGURUS,),
    "bendahara": (Role.PENGURUS, Role.BENDAHARA),  # the treasurer is also a board member
    "admin": (Role.ADMIN,),
}


def rule_key(rule: Rule, method: str) -> tuple[str, str]:
    return rule.endpoint, method


def routes(app) -> list[tuple[Rule, str]]:
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in METHODS:
            if method in rule.methods:
                out.append((rule, method))
    return out


def missing_entries(app, table: dict) -> list[str]:
    """Every (rule, method) with no entry in ``table``, as readable lines."""
    problems = []
    for rule, method in routes(app):
        try:
            allowed_actors(table, rule.endpoint, method)
        except KeyError:
            problems.append(
                f"{method} {rule.rule} (endpoint {rule.endpoint!r}) has no entry in "
                f"tests/authz_table.py: add '{rule.endpoint}': <who may use it>"
            )
    return problems


def stale_entries(app, table: dict) -> list[str]:
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    return [
        f"tests/authz_table.py has an entry for {key!r} but no such route exists"
        for key in table
        if key.split(" ")[0] not in endpoints
    ]


def _build_url(rule: Rule) -> str:
    values = {}
    for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug internals
        kind = type(converter).__name__
        if kind in ("IntegerConverter", "NumberConverter"):
            values[name] = 999999
        elif kind == "PathConverter":
            values[name] = "css/app.css"
        elif kind == "UUIDConverter":
            values[name] = "00000000-0000-0000-0000-000000000000"
        elif kind == "AnyConverter":
            values[name] = sorted(converter.items)[0] if hasattr(converter, "items") else "x"
        else:
            values[name] = "csv" if name in ("fmt", "format") else "x"
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} with {values}"
    return built[1]


def _denied(actor: str, response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302, 303, 307, 308):
        return "/masuk" in (response.headers.get("Location") or "")
    return False


@pytest.fixture
def actors(make_user):
    users = {"anon": None}
    for group in GROUPS:
        user, _member = make_voter(make_user, group)
        users[group] = user
    for name, roles in ACTOR_ROLES.items():
        users[name] = make_user(*roles)
    assert set(users) == set(ACTORS)
    return users


def test_every_route_has_an_entry(app):
    problems = missing_entries(app, EXPECTED) + stale_entries(app, EXPECTED)
    assert not problems, "\n".join(problems)


def test_deleting_an_entry_fails(app):
    endpoint = "core.account"
    table = {k: v for k, v in EXPECTED.items() if k != endpoint}
    problems = missing_entries(app, table)
    assert any(f"endpoint '{endpoint}'" in p for p in problems)


def test_authorization_matrix(app, client, actors, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    failures = []
    for rule, method in routes(app):
        try:
            expected = allowed_actors(EXPECTED, rule.endpoint, method)
        except KeyError:
            failures.append(f"{method} {rule.rule}: no entry for {rule.endpoint!r}")
            continue
        url = _build_url(rule)
        for actor in ACTORS:
            user = actors[actor]
            with client.session_transaction() as session:
                session.clear()
                if user is not None:
                    session["_user_id"] = user.get_id()
                    session["_fresh"] = True
            response = client.open(url, method=method, follow_redirects=False)
            response.close()  # a streamed export keeps its request context until closed
            if rule.endpoint == "core.logout":
                _db.session.expire_all()  # logout ended the user's sessions: read the new version
            if response.status_code >= 500:
                failures.append(f"{method} {url} as {actor}: server error {response.status_code}")
                continue
            allowed = not _denied(actor, response)
            if allowed != (actor in expected):
                verdict = "allowed" if allowed else "denied"
                failures.append(
                    f"{method} {url} ({rule.endpoint}) as {actor}: {verdict} "
                    f"(status {response.status_code}), table says "
                    f"{'allow' if actor in expected else 'deny'}"
                )
    assert not failures, f"{len(failures)} mismatch(es):\n" + "\n".join(failures)
