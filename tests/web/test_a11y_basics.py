"""Accessibility basics of the layout (issue 11) until axe-core joins: text contrast (WCAG 2.1 AA,
computed in Chromium), touch targets of at least 44x44 px, a visible focus ring, the skip link,
and no horizontal scrolling at 320 px."""

from __future__ import annotations

import pytest

from tests.web.helpers import open_menu, submit_login

pytestmark = pytest.mark.browser

# Text whose colour against its resolved background is below 4.5:1 (3:1 for large text).
LOW_CONTRAST_JS = """() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3]));
  const lum = (rgb) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent)
      .join("").trim();
    if (!text || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    const box = el.getBoundingClientRect();
    if (box.right <= 0 || box.bottom <= 0) continue;  // parked off-screen (the skip link)
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      const name = `${el.tagName.toLowerCase()}.${el.className} "${text.slice(0, 40)}"`;
      failures.push(`${name} ${ratio.toFixed(2)}:1`);
    }
  }
  return failures;
}"""

# Interactive elements smaller than 44x44 px (inline links inside running text are exempt).
SMALL_TARGETS_JS = """() => {
  const small = [];
  const selector = "a[href], button, summary, input:not([type=hidden]), select, textarea";
  for (const el of document.querySelectorAll(selector)) {
    if (!el.getClientRects().length || getComputedStyle(el).visibility === "hidden") continue;
    const style = getComputedStyle(el);
    let box = el.getBoundingClientRect();
    if (box.right <= 0 || box.bottom <= 0) continue;
    if (el.tagName === "A" && style.display === "inline" && el.closest("p, li, td, dd")) continue;
    if (el.type === "checkbox" || el.type === "radio") {
      box = (el.closest("label, .check") || el).getBoundingClientRect();
    }
    if (box.width < 44 || box.height < 44) {
      const name = (el.innerText || el.getAttribute("aria-label") || el.name || "").trim();
      const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
      small.push(`${el.tagName.toLowerCase()} "${name.slice(0, 30)}" ${size}`);
    }
  }
  return small;
}"""

NO_SIDEWAYS_SCROLL_JS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def check_page(page, label: str) -> None:
    assert page.evaluate(LOW_CONTRAST_JS) == [], f"{label}: low contrast"
    assert page.evaluate(SMALL_TARGETS_JS) == [], f"{label}: touch targets under 44 px"
    assert page.evaluate(NO_SIDEWAYS_SCROLL_JS), f"{label}: scrolls sideways"


@pytest.mark.parametrize("width", [390, 320])
def test_core_pages_pass_contrast_touch_target_and_width_checks(new_page, make_user, width):
    page = new_page(viewport={"width": width, "height": 800})
    make_user("admin", "pengurus", "bendahara", "pengawas", "anggota", email="semua@test.kmp.id")

    page.goto("/")
    check_page(page, "/")
    submit_login(page, "semua@test.kmp.id", "kata-sandi-keliru-1")
    check_page(page, "/masuk with an error")
    submit_login(page, "semua@test.kmp.id", "rahasia-12345")
    check_page(page, "/beranda")
    open_menu(page)
    check_page(page, "/beranda with the menu open")
    page.goto("/akun")
    check_page(page, "/akun")
    with page.expect_navigation():
        page.get_by_test_id("lang-en").click()
    check_page(page, "/akun in English")


def test_skip_link_and_focus_ring_are_visible_from_the_keyboard(page):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert skip.evaluate("(el) => el === document.activeElement")
    box = skip.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, "the skip link comes into view when focused"
    assert box["height"] >= 44
    ring = skip.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert ring[0] != "none" and float(ring[1].rstrip("px")) >= 2
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_member_pages_pass_contrast_touch_target_and_width_checks_at_320px(
    app, new_page, make_user
):
    from tests.web.helpers import MEMBER_PAGES, pages_available, seed_member_world

    world = seed_member_world(make_user)
    page = new_page(viewport={"width": 320, "height": 640}, service_workers="block")
    submit_login(page, world["login"], world["password"])
    checked = 0
    for item in pages_available(app, MEMBER_PAGES):
        page.goto(item.url(world))
        check_page(page, f"{item.name} at 320 px")
        checked += 1
    assert checked >= 8


GLOSSARY_TERMS = (
    "simpanan-pokok",
    "simpanan-wajib",
    "simpanan-sukarela",
    "shu",
    "rat",
    "ra-kelompok",
    "kpa",
    "pengurus",
    "pengawas",
    "ad",
)


def test_glossary_explains_the_cooperative_words_and_is_linked_from_every_page(page):
    page.goto("/")
    with page.expect_navigation():
        page.get_by_test_id("glossary-link").click()
    assert page.url.endswith("/panduan")
    assert page.locator("h1").inner_text() == "Kamus istilah"
    for key in GLOSSARY_TERMS:
        term = page.get_by_test_id(f"term-{key}")
        assert term.count() == 1, key
        meaning = term.locator("xpath=following-sibling::dd[1]").inner_text()
        # Plain words: short sentences (no sentence over 40 words).
        sentences = [s for s in meaning.replace("?", ".").split(".") if s.strip()]
        assert sentences and max(len(s.split()) for s in sentences) <= 40, key
    assert "Tabungan" in page.get_by_test_id("term-simpanan-sukarela").inner_text()
    check_page(page, "/panduan")
    with page.expect_navigation():
        page.get_by_test_id("lang-en").click()
    assert page.locator("h1").inner_text() == "Glossary"
    assert "Joining fee" in page.get_by_test_id("term-simpanan-pokok").inner_text()
