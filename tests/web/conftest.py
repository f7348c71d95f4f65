"""Browser harness: the test app served live in a thread, driven by Debian's Chromium.

Fixtures
- ``live_server``: session-scoped; ``live_server.url`` is ``http://127.0.0.1:<port>``. It serves the
  SAME ``app`` (and database) as the test body: seed through services, ``db.session.commit()``,
  then drive the browser. The ``db`` fixture cleans the database and resets the login limiter.
- ``browser``: session-scoped Playwright Chromium (``/usr/bin/chromium``, headless).
- ``new_page(**context_options)``: a page in a fresh context (own cookies, cache, service worker)
  with ``base_url`` set, 390x844 and ``id-ID`` unless overridden (e.g. ``viewport=...``,
  ``service_workers="block"``). ``page`` is ``new_page()``.
- ``web_login(page, login, password)`` logs in through the real form; ``login_as_web(*roles)``
  creates a user and logs ``page`` in as that user (returns the user).

Page helpers (``tests/web/helpers.py``): ``submit_login``, ``open_menu``/``close_menu``,
``nav_entries`` ({endpoint: label}), ``menu_roles``, ``wait_for_service_worker``,
``saved_pages`` (what the service worker keeps offline), ``wait_until(check, page=page)``;
issue 11: ``MEMBER_PAGES``/``BOARD_PAGES`` (the pages every budget/axe/screenshot test walks),
``seed_member_world(make_user)`` (an active member with a receipt, a vote and an open ballot),
``logged_in_state(browser, url, login, password)`` (cookies for a fresh, empty-cache context).

Every browser test is marked ``@pytest.mark.browser`` (a test using ``page``/``new_page``/
``browser`` without it is a usage error). Skips: ``KMP_TEST_BROWSER=0`` (the PostgreSQL pass of
``make test``), or no ``/usr/bin/chromium`` (a failure under ``CI=true``). Passwords are hashed
once per distinct password here (scrypt is slow); logging in still checks them for real.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.web.helpers import submit_login

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 390, "height": 844}
LOCALE = "id-ID"
TIMEOUT_MS = 10_000
TEST_PASSWORD = "rahasia-12345"


def _browser_skip_reason() -> str | None:
    if os.environ.get("KMP_TEST_BROWSER") == "0":
        return "browser tests run in the SQLite pass"
    return None


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    # Note: a conftest's collection hook sees every item of the session, not only tests/web.
    reason = _browser_skip_reason()
    for item in items:
        drives = {"page", "new_page", "browser"} & set(getattr(item, "fixturenames", ()))
        if drives and not item.get_closest_marker("browser"):
            raise pytest.UsageError(f"{item.nodeid} uses {drives}: mark it @pytest.mark.browser")
        if reason and item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _hash_each_password_once(monkeypatch):
    """scrypt costs ~0.1 s per user; browser tests create many users with the same password.
    Logging in still checks the password with the real scrypt."""
    import kmp.auth

    real = kmp.auth.generate_password_hash
    memo: dict[tuple, str] = _PASSWORD_HASHES

    def cached(password, *args, **kwargs):
        key = (password, args, tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = real(password, *args, **kwargs)
        return memo[key]

    monkeypatch.setattr(kmp.auth, "generate_password_hash", cached)


_PASSWORD_HASHES: dict[tuple, str] = {}


@dataclass(frozen=True)
class LiveServer:
    url: str

    def __call__(self, path: str = "/") -> str:
        return self.url + path


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # noqa: ARG002 - keep test output readable
        pass


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="kmp-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: install Debian's 'chromium' package to run browser tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable[..., object]]:
    contexts = []

    def make(**options):
        options.setdefault("viewport", VIEWPORT)
        options.setdefault("locale", LOCALE)
        options.setdefault("base_url", live_server.url)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def web_login():
    def do(page, login: str, password: str = TEST_PASSWORD) -> None:
        submit_login(page, login, password)
        assert "/masuk" not in page.url, f"login as {login} failed: {page.url}"

    return do


@pytest.fixture
def login_as_web(page, make_user, web_login):
    """``login_as_web("pengurus")`` creates a user with those roles and logs ``page`` in."""

    def do(*roles, user=None, password: str = TEST_PASSWORD):
        user = user or make_user(*roles, password=password)
        web_login(page, user.login_name, password)
        return user

    return do
