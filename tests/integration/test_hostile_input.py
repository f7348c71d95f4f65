"""Issue 10, must show 4: hostile input into every form, found by crawling the pages.

For each role of the demo cooperative the test crawls the site (same-origin links from every
parameterless page), collects every POST form, fills each text-like field with an XSS + SQL
injection payload (and, in a second pass, an over-long value), keeps the form's own CSRF token,
and posts it. No answer may be a 5xx. Afterwards every crawled page is fetched again: the payload
must never come back unescaped, and the database must still be whole. Also: open redirects are
refused, an upload above MAX_CONTENT_LENGTH gets the friendly 413 page, and an export of a
name like ``=HYPERLINK(...)`` is escaped.
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import openpyxl
import pytest
from sqlalchemy import func, select

from kmp.auth import User
from kmp.extensions import db

MARK = "kmpxss"
XSS_SQL = (
    f"<script>alert('{MARK}')</script>\"><img src=x onerror=alert(1)>"
    "' OR '1'='1'; DROP TABLE users; --"
)
LONG = "A" * 20_000
RAW_MARKERS = (f"<script>alert('{MARK}')", "<img src=x onerror")
SKIP_ACTIONS = ("/keluar", "/bahasa")
SKIP_LINKS = ("/keluar", "ekspor", ".csv", ".pdf", ".xlsx", ".json", "/static/", "/sw.js")
TEXT_TYPES = {"", "text", "email", "search", "tel", "url", "number", "date", "password"}
MAX_PAGES = 80


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = {
                "method": a.get("method", "get").lower(),
                "action": a.get("action", ""),
                "fields": [],
                "enctype": a.get("enctype", ""),
            }
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input" and a.get("name"):
            self._form["fields"].append(("input", a.get("type", "").lower(), a["name"], a))
        elif tag == "textarea" and a.get("name"):
            self._form["fields"].append(("textarea", "", a["name"], a))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form["fields"].append(("select", "", a["name"], {"options": []}))
        elif tag == "option" and self._select is not None:
            self._form["fields"][-1][3]["options"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _parse(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def _fill(form: dict, value: str) -> dict:
    data: dict[str, object] = {}
    for kind, type_, name, attrs in form["fields"]:
        if kind == "select":
            options = [o for o in attrs["options"] if o] or attrs["options"]
            data[name] = options[0] if options else value
        elif kind == "textarea":
            data[name] = value
        elif type_ == "hidden":
            data[name] = attrs.get("value", "")
        elif type_ in ("checkbox", "radio"):
            data.setdefault(name, attrs.get("value", "y") or "y")
        elif type_ in TEXT_TYPES:
            data[name] = _plausible(type_, name, attrs) if value is PLAUSIBLE else value
        elif type_ == "file":
            content = XSS_SQL if value is PLAUSIBLE else value
            data[name] = (io.BytesIO(f"nama,nik\n{content},=cmd|' /C calc'!A0\n".encode()), "x.csv")
    return data


PLAUSIBLE = object()


def _plausible(type_: str, name: str, attrs: dict) -> str:
    """A value the form will likely accept for a field that is not free text."""
    lowered = name.lower()
    if type_ == "email" or "email" in lowered:
        return "uji@contoh.id"
    if type_ == "tel" or "phone" in lowered or "hp" == lowered:
        return "081234567890"
    if type_ == "number" or lowered.endswith("_idr") or "amount" in lowered:
        return "1000"
    if type_ == "date" or lowered.endswith("date"):
        return "2026-06-15"
    if type_ == "password" or "password" in lowered:
        return "rahasia-12345"
    if "nik" in lowered:
        return "3174011505900001"
    return XSS_SQL


def _local(href: str, base: str) -> str | None:
    url = urljoin("http://localhost" + base, href)
    parts = urlsplit(url)
    if parts.netloc != "localhost" or any(s in parts.path for s in SKIP_LINKS):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _start_pages(app) -> list[str]:
    pages = ["/"]
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/api/"):
            if not any(s in rule.rule for s in SKIP_LINKS):
                pages.append(rule.rule)
    return sorted(set(pages))


def _crawl(client, app, problems) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = _start_pages(app)
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path)
        seen[path] = ""
        if response.status_code >= 500:
            problems.append(f"GET {path}: {response.status_code}")
        if "text/html" not in response.content_type:
            response.close()
            continue
        html = response.get_data(as_text=True)
        seen[path] = html
        for href in _parse(html).links:
            target = _local(href, path)
            if target and target not in seen and target not in queue:
                queue.append(target)
    return seen


@pytest.fixture
def demo(app):
    from kmp.demo import seed_demo

    seed_demo()
    db.session.commit()
    from kmp.demo import DEMO_USERS

    emails = {key: email for key, email, _, _ in DEMO_USERS}
    return {k: db.session.scalar(select(User).where(User.email == e)) for k, e in emails.items()}


def _as(client, user):
    with client.session_transaction() as session:
        session.clear()
        if user is not None:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True


@pytest.mark.slow
def test_injection_into_every_form(app, client, demo, monkeypatch):
    from kmp.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", False)
    problems: list[str] = []
    posted = 0
    shown_escaped: set[str] = set()
    users_before = db.session.scalar(select(func.count()).select_from(User))
    actors = [None, demo["anggota"], demo["partner"], demo["bendahara"], demo["admin"]]
    actors.append(demo["pengawas"])
    for user in actors:
        _as(client, user)
        pages = _crawl(client, app, problems)
        done: set[str] = set()
        for path, html in list(pages.items()):
            for form in _parse(html).forms:
                action = _local(form["action"] or path, path) if form["method"] == "post" else None
                if not action or any(action.startswith(s) for s in SKIP_ACTIONS):
                    continue
                if action.split("?")[0] in done:
                    continue
                done.add(action.split("?")[0])
                for value in (PLAUSIBLE, XSS_SQL, LONG):
                    fresh = client.get(path)  # a fresh CSRF token bound to this session
                    token_forms = [
                        f
                        for f in _parse(fresh.get_data(as_text=True)).forms
                        if f["action"] == form["action"] and f["method"] == "post"
                    ]
                    if not token_forms:
                        break
                    data = _fill(token_forms[0], value)
                    response = client.post(action, data=data, content_type=None)
                    response.close()
                    posted += 1
                    if response.status_code >= 500:
                        problems.append(f"POST {action} (from {path}): {response.status_code}")
                    _as(client, user)  # a form may log out or rotate the session
        # every page again: the payload must come back escaped
        for path in list(pages):
            response = client.get(path)
            if response.status_code >= 500:
                problems.append(f"GET {path} after the attack: {response.status_code}")
            if "text/html" not in response.content_type:
                response.close()
                continue
            body = response.get_data(as_text=True)
            for marker in RAW_MARKERS:
                if marker in body:
                    problems.append(f"GET {path}: payload rendered unescaped ({marker!r})")
            if "&lt;script&gt;alert(" in body:
                shown_escaped.add(path)
    assert posted > 20, f"only {posted} form posts: the crawl found too few forms"
    assert not problems, "\n".join(problems)
    assert shown_escaped, "no page shows the stored payload: nothing was stored"
    # the injection did nothing to the database
    assert db.session.scalar(select(func.count()).select_from(User)) >= users_before


@pytest.mark.parametrize(
    "target",
    [
        "https://jahat.example/",
        "//jahat.example/",
        "/\\jahat.example",
        "http:jahat.example",
        "javascript:alert(1)",
        "\\\\jahat.example",
    ],
)
def test_open_redirect_refused_after_login(client, make_user, csrf_token, target):
    user = make_user("anggota")
    token = csrf_token("/masuk")
    response = client.post(
        "/masuk",
        data={
            "csrf_token": token,
            "login": user.email,
            "password": "rahasia-12345",
            "next": target,
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "jahat" not in location and "javascript" not in location


def test_open_redirect_refused_on_language_switch(client, csrf_token):
    token = csrf_token("/")
    response = client.post(
        "/bahasa", data={"csrf_token": token, "lang": "en", "next": "https://jahat.example/"}
    )
    assert response.status_code == 303
    assert "jahat" not in response.headers["Location"]


def test_oversized_upload_gets_the_friendly_413(app, client, login_as, csrf_token):
    login_as("pengurus")
    token = csrf_token("/pengurus/impor")
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    big = FileStorage(io.BytesIO(b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1024)), "anggota.csv")
    # encode the body here: the test client would spool it to a temporary file it never closes
    boundary, body = encode_multipart({"csrf_token": token, "file": big})
    response = client.post(
        "/pengurus/impor", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert "Berkas terlalu besar" in response.get_data(as_text=True)


def test_hyperlink_name_is_escaped_in_exports(app, client, login_as):
    from tests.integration.governance_factories import make_member

    make_member("pengemudi", name='=HYPERLINK("http://jahat.example","klik")')
    make_member("kurir", name="@SUM(1+1)")
    db.session.commit()
    login_as("pengurus")
    response = client.get("/pengurus/anggota/ekspor?format=csv")
    assert response.status_code == 200
    text = response.get_data(as_text=True).lstrip("\ufeff")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert '\'=HYPERLINK("http://jahat.example","klik")' in cells
    assert "'@SUM(1+1)" in cells
    assert not any(c.startswith(("=", "@", "+")) for c in cells)
    response = client.get("/pengurus/anggota/ekspor?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert '\'=HYPERLINK("http://jahat.example","klik")' in values
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
