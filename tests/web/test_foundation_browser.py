"""Issue 2, must show 3: each demo role in Chromium — navigation, language switch, logout;
a wrong password gives an Indonesian error and no session; the 6th wrong password is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import url_for
from playwright.sync_api import expect

from kmp.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
from kmp.extensions import db
from tests.web.helpers import close_menu, menu_roles, nav_entries, open_menu, submit_login

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class RoleNav:
    """What one demo login must see. Features extend this table: ``nav`` (endpoints of menu
    items the role must be offered), ``not_nav`` (endpoints it must never be offered) and
    ``home`` (the endpoint the login lands on, once a feature registers a home for a role)."""

    badges: frozenset[str]
    home: str = "core.home"
    nav: frozenset[str] = frozenset()
    not_nav: frozenset[str] = frozenset()


EVERYONE = frozenset({"core.home", "core.account"})
MEMBER = EVERYONE | {"members.dashboard"}
BOARD_ONLY = frozenset({"register.register", "officers.officers", "ledger.accounts"})
ROLE_NAV: dict[str, RoleNav] = {
    # Board roles land on the board's to-do list (kmp.board), members among them keep
    # "Keanggotaan saya" in the menu.
    "admin": RoleNav(frozenset({"admin"}), "board.home", EVERYONE | BOARD_ONLY),
    "pengurus": RoleNav(frozenset({"pengurus", "anggota"}), "board.home", MEMBER | BOARD_ONLY),
    "bendahara": RoleNav(
        frozenset({"pengurus", "bendahara", "anggota"}), "board.home", MEMBER | BOARD_ONLY
    ),
    "pengawas": RoleNav(frozenset({"pengawas", "anggota"}), "board.home", MEMBER | BOARD_ONLY),
    "anggota": RoleNav(frozenset({"anggota"}), "members.dashboard", MEMBER, not_nav=BOARD_ONLY),
    "partner": RoleNav(
        frozenset({"partner"}),
        "members.company",
        EVERYONE | {"members.company"},
        not_nav=BOARD_ONLY | {"members.dashboard"},
    ),
}
# English labels of the core entries (the rest follow the catalogs).
NAV_EN = {"core.home": "Home", "core.account": "Account"}
DEMO_LOGIN = {key: email for key, email, _name, _roles in DEMO_USERS}


def test_every_demo_role_is_covered():
    assert set(ROLE_NAV) == set(DEMO_LOGIN)


def path_for(app, endpoint: str) -> str:
    with app.test_request_context():
        return url_for(endpoint)


@pytest.mark.parametrize("role", list(ROLE_NAV))
def test_demo_role_sees_its_navigation_switches_language_and_logs_out(app, page, live_server, role):
    ensure_demo_users()
    db.session.commit()
    case = ROLE_NAV[role]

    submit_login(page, DEMO_LOGIN[role], DEMO_PASSWORD)
    assert page.url == live_server(path_for(app, case.home)), f"{role} landed on {page.url}"
    expect(page.locator("html")).to_have_attribute("lang", "id")
    assert menu_roles(page) == case.badges
    page.goto("/beranda")
    if case.home == "core.home":
        badges = page.get_by_test_id("roles").locator(".badge")
        assert {b.get_attribute("data-role") for b in badges.all()} == case.badges

    entries = nav_entries(page)
    assert case.nav <= set(entries), f"{role} misses {case.nav - set(entries)}"
    assert not (case.not_nav & set(entries)), f"{role} is offered {case.not_nav & set(entries)}"
    assert entries["core.home"] == "Beranda"
    # Every entry offered to the role opens for that role: not forbidden, no crash.
    for endpoint in entries:
        href = page.locator(f'nav a[data-nav="{endpoint}"]').get_attribute("href")
        status = page.request.get(href, max_redirects=0).status
        assert status < 500 and status != 403, f"{role}: {endpoint} ({href}) answered {status}"

    with page.expect_navigation():
        page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    entries = nav_entries(page)
    for endpoint, label in NAV_EN.items():
        assert entries[endpoint] == label
    expect(page.get_by_test_id("lang-en")).to_have_attribute("aria-pressed", "true")
    open_menu(page)
    expect(page.get_by_test_id("logout")).to_have_text("Log out")
    close_menu(page)

    with page.expect_navigation():
        page.get_by_test_id("lang-id").click()
    expect(page.locator("html")).to_have_attribute("lang", "id")
    assert nav_entries(page)["core.home"] == "Beranda"

    open_menu(page)
    expect(page.get_by_test_id("logout")).to_have_text("Keluar")
    with page.expect_navigation():
        page.get_by_test_id("logout").click()
    assert page.url == live_server("/")
    expect(page.locator("details.menu")).to_have_count(0)
    expect(page.locator(".flash")).to_contain_text("Anda sudah keluar")
    page.goto("/akun")
    assert page.url.startswith(live_server("/masuk")), "logged out, /akun must ask to log in"


def _session_user_id(app, page) -> str | None:
    cookie = next((c for c in page.context.cookies() if c["name"] == "session"), None)
    if cookie is None:
        return None
    data = app.session_interface.get_signing_serializer(app).loads(cookie["value"])
    return data.get("_user_id")


def test_wrong_password_shows_indonesian_error_and_no_session(app, page, live_server, make_user):
    make_user("anggota", email="sinta@test.kmp.id")
    submit_login(page, "sinta@test.kmp.id", "salah-sekali-123")
    assert page.url.startswith(live_server("/masuk"))
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_role("alert")).to_contain_text("Email/nomor HP atau kata sandi salah")
    expect(page.get_by_test_id("logout")).to_have_count(0)
    assert _session_user_id(app, page) is None
    page.goto("/akun")
    assert page.url.startswith(live_server("/masuk")), "a failed login must not authenticate"


def test_sixth_wrong_password_within_a_minute_gets_429(page, make_user):
    make_user("anggota", email="rudi@test.kmp.id")
    statuses = []
    page.goto("/masuk")
    for _attempt in range(6):  # the refused form comes back: type again and send again
        page.locator("#login").fill("rudi@test.kmp.id")
        page.locator("#password").fill("bukan-sandinya-1")
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/masuk")
        ) as answer:
            page.get_by_test_id("login-submit").click()
        statuses.append(answer.value.status)
        page.wait_for_load_state()
    assert statuses == [401, 401, 401, 401, 401, 429]
    expect(page.locator("[data-status='429']")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Terlalu banyak percobaan")
    expect(page.locator("main")).to_contain_text(re.compile("Tunggu satu menit"))
