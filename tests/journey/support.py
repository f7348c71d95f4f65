"""Helpers for the whole-year journey test: a small browser over the Flask test client (forms
read from the page as a person's browser would: the real CSRF token, the defaults of every
field, checked boxes, the chosen submit button), a partner API client with a real key, the
simulated clock moved in Jakarta time, and the independent SHU arithmetic.

Nothing here imports the application's money code: the expected numbers of the journey are
computed from the AD percentages and what the test itself paid in (``Expect``)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from kmp.timeutil import JAKARTA, set_clock

# =========================================================================== the clock


class Clock:
    """``now_utc()`` under the test's control, set in Jakarta wall time."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        set_clock(lambda: self.now)

    def at(self, year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
        moment = dt.datetime(year, month, day, hour, minute, tzinfo=JAKARTA).astimezone(dt.UTC)
        assert moment >= self.now, f"the clock only moves forward ({moment} < {self.now})"
        self.now = moment
        return moment

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(JAKARTA).date()


# =========================================================================== HTML forms


@dataclass
class Form:
    action: str
    method: str
    attrs: dict
    #: (name, value, kind, attrs): kind is input type, "select", "textarea" or "button".
    fields: list[tuple[str, str, str, dict]] = field(default_factory=list)
    #: select name -> [(value, label)]
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def has(self, name: str, value: str | None = None) -> bool:
        return any(n == name and (value is None or v == value) for n, v, _k, _a in self.fields)

    def defaults(self, button: str | None = None) -> list[tuple[str, str]]:
        """What a browser sends without the user touching anything (``button``: the
        ``data-testid`` or ``value`` of the submit button pressed)."""
        out = []
        for name, value, kind, attrs in self.fields:
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    out.append((name, value or "on"))
            elif kind in ("button", "submit"):
                if button is not None and button in (attrs.get("data-testid"), value):
                    out.append((name, value))
            elif kind != "file":
                out.append((name, value))
        return out


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, dict] | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._textarea: tuple[str, dict] | None = None
        self._text: list[str] = []
        self._option: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower(), a)
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            form.fields.append((name, a.get("value", "on" if kind == "checkbox" else ""), kind, a))
        elif tag == "button" and name:
            form.fields.append((name, a.get("value", ""), "button", a))
        elif tag == "select" and name:
            self._select = (name, a)
            self._select_value = None
            self._first_option = None
            form.options[name] = []
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._option = [value]
            form.options[self._select[0]].append((value, ""))
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea = (name, a)
            self._text = []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)
        if self._option is not None:
            self._option.append(data)

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None and self._select is not None:
            options = self._form.options[self._select[0]]
            options[-1] = (self._option[0], "".join(self._option[1:]).strip())
            self._option = None
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, attrs = self._select
            value = self._select_value if self._select_value is not None else self._first_option
            self._form.fields.append((name, value or "", "select", attrs))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, attrs = self._textarea
            self._form.fields.append((name, "".join(self._text).lstrip("\n"), "textarea", attrs))
            self._textarea = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def pick_form(
    html: str,
    page_url: str,
    *,
    action: str | None = None,
    testid: str | None = None,
    has: dict | None = None,
) -> Form:
    """The one POST form of the page that posts to ``action``, carries ``data-testid=testid``
    and has the hidden/field values ``has`` (none of them given: the form posting to the page
    itself)."""
    found = []
    if action is None and testid is None and not has:
        action = page_url
    wanted = urlsplit(action).path if action else None
    for form in forms_of(html):
        if form.method != "post":
            continue
        target = urlsplit(urljoin("http://localhost" + page_url, form.action or page_url)).path
        if wanted is not None and target != wanted:
            continue
        if testid is not None and form.attrs.get("data-testid") != testid:
            continue
        if has and not all(form.has(k, v) for k, v in has.items()):
            continue
        form.action = target
        found.append(form)
    assert len(found) == 1, (
        f"{len(found)} forms on {page_url} match action={action} testid={testid} has={has}"
    )
    return found[0]


@dataclass(frozen=True)
class Choose:
    """A form value: the option of a select whose label contains ``text``."""

    text: str

    def value_in(self, form: Form, name: str) -> str:
        matches = [v for v, label in form.options.get(name, []) if self.text in label]
        assert len(matches) == 1, f"{len(matches)} options of {name} contain {self.text!r}"
        return matches[0]


# =========================================================================== a person's browser


class Browser:
    """One person's browser: its own cookies, logging in through ``/masuk``, filling and
    posting forms as they appear on the page."""

    def __init__(self, app, name: str = "") -> None:
        self.app = app
        self.name = name
        self.client = app.test_client()

    def get(self, url: str, status: int | tuple = 200):
        response = self.client.get(url)
        expected = status if isinstance(status, tuple) else (status,)
        assert response.status_code in expected, (
            f"{self.name}: GET {url} -> {response.status_code}\n{_excerpt(response)}"
        )
        return response

    def submit(
        self,
        page_url: str,
        data: dict | None = None,
        *,
        action: str | None = None,
        testid: str | None = None,
        has: dict | None = None,
        button: str | None = None,
        expect: int | tuple = (302, 303),
    ):
        """GET ``page_url``, take the matching form with everything the page put in it, change
        ``data`` (a value, a list for repeated names, True/False to check/uncheck a box, a
        ``(bytes, filename)`` for a file) and post it."""
        page = self.get(page_url)
        form = pick_form(
            page.get_data(as_text=True), page_url, action=action, testid=testid, has=has
        )
        sent: dict[str, list] = {}
        for name, value in form.defaults(button):
            sent.setdefault(name, []).append(value)
        files = {}
        for name, value in (data or {}).items():
            if value is False or value is None:
                sent.pop(name, None)
            elif value is True:
                sent[name] = [next((v for n, v, _k, _a in form.fields if n == name), "y") or "y"]
            elif isinstance(value, tuple):
                files[name] = (io.BytesIO(value[0]), value[1])
                sent.pop(name, None)
            elif isinstance(value, Choose):
                sent[name] = [value.value_in(form, name)]
            elif isinstance(value, list):
                sent[name] = [str(v) for v in value]
            else:
                sent[name] = [str(value)]
        payload: dict = {k: (v if len(v) > 1 else v[0]) for k, v in sent.items() if v}
        payload.update(files)
        response = self.client.post(
            form.action,
            data=payload,
            content_type="multipart/form-data" if files else None,
        )
        expected = expect if isinstance(expect, tuple) else (expect,)
        assert response.status_code in expected, (
            f"{self.name}: POST {form.action} -> {response.status_code}\n{_excerpt(response)}"
        )
        return response

    def login(self, login: str, password: str) -> None:
        response = self.submit("/masuk", {"login": login, "password": password})
        assert "/masuk" not in response.headers.get("Location", ""), f"{self.name} not logged in"


def _excerpt(response) -> str:
    text = response.get_data(as_text=True)
    errors = re.findall(r'(?:flash-error|field-error|class="error)[^>]*>(.*?)</', text, re.S)
    return ("errors: " + " | ".join(e.strip() for e in errors)) if errors else text[:1500]


def location(response) -> str:
    return urlsplit(response.headers["Location"]).path


def created_id(response) -> int:
    """The id at the end of the page a POST redirected to (``/rapat/12`` -> 12)."""
    return int(location(response).rsplit("/", 1)[1])


# =========================================================================== the partner API


class PartnerApi:
    """A platform company's server calling ``/api/v1`` with its key."""

    def __init__(self, app, key: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {key}"}

    def post(self, path: str, body: dict, status: int | tuple = (200, 201)):
        response = self.client.post(
            f"/api/v1{path}",
            data=json.dumps(body),
            headers={**self.headers, "Content-Type": "application/json"},
        )
        expected = status if isinstance(status, tuple) else (status,)
        assert response.status_code in expected, (
            f"POST {path} -> {response.status_code}: {response.get_data(as_text=True)[:800]}"
        )
        return response

    def get(self, path: str, status: int = 200):
        response = self.client.get(f"/api/v1{path}", headers=self.headers)
        assert response.status_code == status, (
            f"GET {path} -> {response.status_code}: {response.get_data(as_text=True)[:800]}"
        )
        return response.get_json()


# =========================================================================== expectations


@dataclass
class Expect:
    """What the test itself knows a member paid and owes (the independent bookkeeping)."""

    pokok: int = 0
    wajib: int = 0
    sukarela: int = 0
    shu: int = 0
    #: wajib months (YYYY-MM) the member has paid, in full.
    months_paid: set[str] = field(default_factory=set)
    patronage: int = 0


def largest_remainder(total: int, weights: list[int]) -> list[int]:
    """``total`` split by ``weights``: floors, then one Rupiah each to the largest remainders,
    a tie going to the earlier position (domain decision 8: the lower member number)."""
    whole = sum(weights)
    if total == 0 or whole == 0:
        assert total == 0, "nothing to split by"
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class Share:
    jasa_modal: int
    jasa_usaha: int

    @property
    def total(self) -> int:
        return self.jasa_modal + self.jasa_usaha


def expected_shu(
    shu: int,
    allocation: list[tuple[str, int]],
    groups: list[tuple[str, int]],
    modal_bp: int,
    usaha_bp: int,
    members: dict[str, list[tuple[str, int, int]]],
) -> tuple[dict[str, int], dict[str, Share]]:
    """The whole SHU by the AD table (in table order), the jasa anggota line by the groups'
    SHU weights (in AD order), each group's pool into jasa modal then jasa usaha, and each
    pool between the group's members (``(member_no, capital, patronage)``) by member number.
    Returns the funds and each member's share."""
    funds = dict(
        zip(
            [k for k, _ in allocation],
            largest_remainder(shu, [bp for _, bp in allocation]),
            strict=True,
        )
    )
    pools = largest_remainder(funds["jasa_anggota"], [w for _, w in groups])
    shares: dict[str, Share] = {}
    for (code, _weight), pool in zip(groups, pools, strict=True):
        modal_pool, usaha_pool = largest_remainder(pool, [modal_bp, usaha_bp])
        rows = sorted(members.get(code, []))
        modal = largest_remainder(modal_pool, [capital for _, capital, _ in rows])
        usaha = largest_remainder(usaha_pool, [patronage for _, _, patronage in rows])
        for (no, _c, _p), jm, ju in zip(rows, modal, usaha, strict=True):
            shares[no] = Share(jm, ju)
    return funds, shares


# =========================================================================== reading the books


def member_balances(member_no: str) -> dict[str, int]:
    """The member's four accounts as the ledger holds them (natural sign), read directly."""
    from sqlalchemy import select

    from kmp.extensions import db
    from kmp.ledger.models import Account

    prefixes = {
        "equity:savings:principal": "pokok",
        "equity:savings:mandatory": "wajib",
        "liability:savings:voluntary": "sukarela",
        "liability:shu-payable": "shu",
    }
    codes = {f"{p}:{member_no}": kind for p, kind in prefixes.items()}
    out = dict.fromkeys(prefixes.values(), 0)
    for code, balance, sign in db.session.execute(
        select(Account.code, Account.balance_idr, Account.normal_sign).where(
            Account.code.in_(list(codes))
        )
    ):
        out[codes[code]] = int(balance) * int(sign)
    return out


def wajib_schedule(paid_idr: int, monthly_idr: int, months: list[str]) -> tuple[dict, int]:
    """Oldest month first: what each billed month has received from ``paid_idr`` in total,
    and what is left over as advance credit."""
    left = paid_idr
    received = {}
    for month in months:
        part = min(left, monthly_idr)
        received[month] = part
        left -= part
    return received, left


def natural_balance(code: str) -> int:
    from sqlalchemy import select

    from kmp.extensions import db
    from kmp.ledger.models import Account

    row = db.session.execute(
        select(Account.balance_idr, Account.normal_sign).where(Account.code == code)
    ).first()
    return 0 if row is None else int(row[0]) * int(row[1])
