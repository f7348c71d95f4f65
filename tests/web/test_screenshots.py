"""Issue 11, must-show 4: screenshots at 360x800 of the member pages (dashboard, vote, card,
savings, apply, and pay / SHU slip once they exist: ``screenshot=True`` in
``tests.web.helpers.MEMBER_PAGES``) are written to ``artifacts/screenshots/`` (gitignored),
and each page is checked: no horizontal scrolling, nothing sticking out past the right edge
(wide tables scroll inside their own box), no text clipped by its box."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.helpers import MEMBER_PAGES, logged_in_state, pages_available, seed_member_world

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = {"width": 360, "height": 800}

# Elements whose box leaves the screen on the right, outside a box that scrolls or clips.
CUT_OFF_JS = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || r.right <= 0) continue;  // hidden, or parked off-screen
    if (r.right > width + 1 && !clipped(el)) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
    }
  }
  return out.slice(0, 10);
}"""


def test_member_pages_at_360px_screenshots_and_nothing_cut_off(
    app, browser, live_server, make_user
):
    world = seed_member_world(make_user)
    state = logged_in_state(browser, live_server.url, world["login"], world["password"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*-360x800.png"):
        old.unlink()  # only this run's pages
    shot = 0
    for public in (False, True):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=PHONE,
            locale="id-ID",
            service_workers="block",
            storage_state=None if public else state,
        )
        try:
            page = context.new_page()
            for item in pages_available(app, MEMBER_PAGES):
                if item.public != public:
                    continue
                page.goto(item.url(world))
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                    f"{item.name}: scrolls sideways at 360 px"
                )
                assert page.evaluate(CUT_OFF_JS) == [], f"{item.name}: cut off at 360 px"
                if item.screenshot:
                    name = re.sub(r"[^a-z0-9]+", "-", item.name.lower()).strip("-")
                    target = SHOTS / f"{name}-360x800.png"
                    page.screenshot(path=str(target), full_page=True)
                    assert target.stat().st_size > 5_000, f"{target} looks empty"
                    shot += 1
        finally:
            context.close()
    assert shot >= 4


def test_receipt_and_member_card_print_cleanly(app, browser, live_server, make_user):
    """Print rules: only the card or receipt is printed (no menu, footer, buttons), framed."""
    world = seed_member_world(make_user)
    state = logged_in_state(browser, live_server.url, world["login"], world["password"])
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, service_workers="block", storage_state=state
    )
    try:
        page = context.new_page()
        for path, box in (
            ("/anggota/kartu", "member-card"),
            (f"/kwitansi/{world['receipt_no']}", "receipt"),
        ):
            page.goto(path)
            page.emulate_media(media="print")
            for selector in ("header.topbar", "footer.footer", "[data-testid=share]", ".no-print"):
                for element in page.locator(selector).all():
                    assert not element.is_visible(), f"{path}: {selector} is printed"
            border = page.get_by_test_id(box).evaluate(
                "(el) => getComputedStyle(el).borderTopStyle"
            )
            assert border == "solid", f"{path}: the printed {box} has no frame"
            page.emulate_media(media="screen")
            expect_visible = page.locator("header.topbar")
            assert expect_visible.is_visible()
    finally:
        context.close()
