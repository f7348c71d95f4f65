"""Small page helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time


def submit_login(page, login: str, password: str) -> None:
    """Fill and send the real login form; no assertion on the outcome."""
    page.goto("/masuk")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()


def open_menu(page):
    """Open the role navigation (``<details class="menu">``) and return it."""
    menu = page.locator("details.menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return menu


def close_menu(page) -> None:
    """Close the menu with Escape, as a keyboard user would (it covers the page when open)."""
    if page.locator("details.menu[open]").count():
        page.keyboard.press("Escape")
        page.locator("details.menu[open]").wait_for(state="detached")


def nav_entries(page) -> dict[str, str]:
    """``{endpoint: label}`` of the navigation shown to the logged-in user (menu left closed)."""
    links = open_menu(page).locator("nav a[data-nav]")
    entries = {link.get_attribute("data-nav"): link.inner_text().strip() for link in links.all()}
    close_menu(page)
    return entries


def menu_roles(page) -> set[str]:
    """The role badges shown in the menu."""
    roles = set(open_menu(page).get_by_test_id("menu-roles").locator(".badge").all_inner_texts())
    close_menu(page)
    return roles


def wait_until(check, timeout: float = 10.0, page=None):
    """Call ``check()`` until it returns something truthy (polls every 50 ms).

    For conditions that need an async script: ``page.wait_for_function`` does not await a
    returned Promise (a Promise counts as truthy), ``page.evaluate`` does."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {check}")
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)


def wait_for_service_worker(page) -> None:
    """Wait until the service worker is active and controls ``page``."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")


def saved_pages(page) -> list[str]:
    """Paths the service worker keeps for offline reading (``kmp-pages-v1``)."""
    return page.evaluate(
        """async () => (await caches.keys()).includes("kmp-pages-v1")
            ? (await (await caches.open("kmp-pages-v1")).keys()).map((r) => new URL(r.url).pathname)
            : []"""
    )
