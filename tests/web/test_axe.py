"""Issue 11, must-show 3: axe-core (shipped inside the ``axe-playwright-python`` package and
injected from disk: no network) finds no serious or critical violation on any member page or
on the board's main pages, at phone width."""

from __future__ import annotations

import pytest

from tests.web.helpers import (
    BOARD_PAGES,
    MEMBER_PAGES,
    logged_in_state,
    pages_available,
    seed_member_world,
)

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}
# WCAG 2.1 A/AA plus axe's best practices (landmarks, headings, ...).
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
}


def blocking_violations(axe, page) -> list[str]:
    results = axe.run(page, options=AXE_OPTIONS)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BLOCKING:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def test_member_and_board_pages_have_no_serious_axe_violations(
    app, browser, live_server, make_user
):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    world = seed_member_world(make_user)
    member = logged_in_state(browser, live_server.url, world["login"], world["password"])
    board = logged_in_state(browser, live_server.url, world["board_login"], "rahasia-12345")
    problems: dict[str, list[str]] = {}
    checked = 0
    for state, pages in ((member, MEMBER_PAGES), (board, BOARD_PAGES)):
        for public in (True, False):
            context = browser.new_context(
                base_url=live_server.url,
                viewport={"width": 360, "height": 800},
                locale="id-ID",
                service_workers="block",
                storage_state=None if public else state,
            )
            try:
                page = context.new_page()
                for item in pages_available(app, pages):
                    if item.public != public:
                        continue
                    response = page.goto(item.url(world))
                    assert response.status < 400, f"{item.name}: HTTP {response.status}"
                    found = blocking_violations(axe, page)
                    # The open menu is part of every page: check it too, once per role.
                    if item is pages[0] and page.locator("details.menu summary").count():
                        page.locator("details.menu summary").click()
                        found += blocking_violations(axe, page)
                    if found:
                        problems[f"{item.name} {item.url(world)}"] = found
                    checked += 1
            finally:
                context.close()
    assert problems == {}, problems
    assert checked >= 20
