"""Issue 22, must show 3: every page in both languages, with no untranslated message, no raw
internal code and no number in the other locale's format.

The demo cooperative is seeded (``kmp seed-demo``: a year of members, savings, loans, a RAT,
an SHU run, announcements). Every GET route (from ``app.url_map``) without path parameters, or
with integer ids only (then id 1: the demo's first member, run, meeting, loan...), is opened by
every demo user ``tests/authz_table.py`` lets through, once in Indonesian and once in English
(the language a logged-in user chose, as ``POST /bahasa`` stores it); pages that answer 404 or
redirect are skipped, at least 600 must open. The visible text (tags, attributes, scripts,
styles and ``hidden`` elements stripped; ``<code>``/``<pre>`` kept out) must not show:

* in English, common Indonesian words; in Indonesian, common English words. The glossary terms
  kept in both languages (pokok, wajib, sukarela, SHU, RAT, AD, BPJS, NIK, ...) are not counted,
  and neither is data the cooperative typed in (every text value stored in the database: names,
  titles, announcements), which stays in the language it was written in;
* a ``snake_case`` code (``jasa_modal``, ``proposal_closed``) or a bare code of a known label
  (``kmp.labels.LABELS``) as a cell of its own;
* a grouped number in the other locale's format: ``1.000.000`` in English, ``1,000,000`` in
  Indonesian.

The check is shown to bite on a sample page with each kind of fault (``test_the_checks_bite``).
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from sqlalchemy import String, Text, select

from kmp.auth import User
from kmp.extensions import db
from tests.authz_table import EXPECTED, allowed_actors

INDONESIAN = re.compile(
    r"\b(tidak|anggota|simpanan|sudah|belum|dengan|untuk|yang|pengurus|pengawas|bendahara|"
    r"harus|bisa|dari|atau|dan|ini|itu|pada|jumlah|saldo|tagihan|penarikan|rapat|usulan|"
    r"suara|pinjaman|angsuran|rekening|tanggal|bulan|tahun|baru|lihat|kirim|simpan|buka|"
    r"tutup|masuk|keluar|belum|lunas|hadir|daftar|semua|tunggakan|pembayaran|kwitansi|akun|"
    r"sandi|anda|kami|oleh|sejak|sampai|hingga|sebelum|sesudah|setelah)\b",
    re.IGNORECASE,
)
ENGLISH = re.compile(
    r"\b(the|and|member|members|savings|balance|submit|with|for|your|not|already|must|cannot|"
    r"this|that|have|has|been|please|amount|loan|loans|meeting|board|payment|account|"
    r"withdrawal|open|closed|save|send|view|show|none|yes|no(?!\.)|from|until|month|year)\b",
    re.IGNORECASE,
)
#: Kept in both languages (the glossary) or proper names: not counted as the other language.
GLOSSARY = re.compile(
    r"\b(pokok|wajib|sukarela|SHU|RAT|RALB|AD|ART|BPJS|KPJ|JKN|JKK|JKM|JHT|NIK|NPWP|Rp|"
    r"Koperasi Multi Pihak|KMP|Ojek Nusantara|Kurir Nusantara|"
    # loanwords Indonesian uses as they are
    r"virtual account|payment gateway|customer service)\b"
)
#: Not words of either language: ledger account keys (``equity:savings:mandatory``), names the
#: user must type exactly, in quotes ('Kode akun'), and the column names of the CSV imports.
NOT_WORDS = re.compile(
    r"\b[a-z]+(?::[a-z0-9_-]+)+\b|'[^']{1,40}'|"
    r"\b(?:member_no|platform_worker_id|external_id|date, description(?:, \w+)+)\b"
)
SNAKE = re.compile(r"(?<![\w@./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@./-])")
ID_GROUPS = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+(?![\d.,]*\d)")
EN_GROUPS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d.,]*\d)")
HIDDEN = {"script", "style", "template", "code", "pre", "textarea", "noscript"}
VOID = {"br", "img", "input", "meta", "link", "hr", "source", "wbr", "area", "col", "base"}
SKIP_PATHS = ("/keluar", "/static/", "/sw.js", "/healthz", "/api/")
DEMO_OF = {"pengemudi": "anggota"}
ACTORS = ("anon", "pengemudi", "partner", "pengawas", "pengurus", "bendahara", "admin")


class _Text(HTMLParser):
    """The visible text of a page as a list of text nodes (what sits between two tags)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.stack: list[tuple[str, bool]] = []
        self.nodes: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        hides = tag in HIDDEN or "hidden" in dict(attrs)
        self.stack.append((tag, hides))
        self.hidden += hides

    def handle_endtag(self, tag):
        if tag in VOID or tag not in (t for t, _ in self.stack):
            return
        while self.stack:
            top, hides = self.stack.pop()
            self.hidden -= hides
            if top == tag:
                break

    def handle_data(self, data):
        if not self.hidden:
            text = " ".join(data.split())
            if text:
                self.nodes.append(text)


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.nodes


def problems_in(nodes: list[str], lang: str, data, codes: set[str]) -> list[str]:
    """What is wrong with a page's text nodes in ``lang`` ("id" or "en")."""
    found = []
    other = INDONESIAN if lang == "en" else ENGLISH
    wrong_groups = ID_GROUPS if lang == "en" else EN_GROUPS
    for node in nodes:
        for hit in SNAKE.finditer(NOT_WORDS.sub(" ", node)):
            found.append(f"code {hit[0]!r}: {node}")
        if node in codes:
            found.append(f"bare code {node!r}")
        text = NOT_WORDS.sub(" ", node)
        if text in data:  # the cooperative's own data stays as it was typed
            text = ""
        elif other.search(text) or wrong_groups.search(text):
            for value in data:
                if len(value) <= len(text) and value in text:
                    text = text.replace(value, " ")
        for hit in wrong_groups.finditer(text):
            found.append(f"number {hit[0]!r} in the other locale's format: {node}")
        # the glossary, and the Indonesian term given in brackets ("Member (anggota)")
        words = GLOSSARY.sub(" ", re.sub(r"\([^()]*\)", " ", text) if lang == "en" else text)
        hit = other.search(words)
        if hit:
            found.append(f"{'Indonesian' if lang == 'en' else 'English'} {hit[0]!r}: {node}")
    return found


class _Stored(list):
    """Stored text values, longest first; ``in`` asks for a whole value (a set lookup)."""

    def __init__(self, values):
        super().__init__(sorted(values, key=len, reverse=True))
        self.exact = frozenset(values)

    def __contains__(self, text):
        return text in self.exact


def _stored_text() -> _Stored:
    """Every text value stored in the database, longest first (names, titles, bodies...)."""
    values: set[str] = set()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)):
            for value in row:
                if isinstance(value, str) and len(value) >= 3:
                    values.add(" ".join(value.split()))
                    values.update(" ".join(line.split()) for line in value.splitlines() if line)
    return _Stored({v for v in values if len(v) >= 3})


def _pages(app) -> list[tuple[str, str, str]]:
    """(endpoint, url, actor) for every GET route without parameters, every allowed actor."""
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        kinds = {type(c).__name__ for c in rule._converters.values()}  # noqa: SLF001
        if kinds - {"IntegerConverter"}:
            continue
        # a page of one record: the demo's first row (id 1) of whatever the route shows
        url = rule.build(dict.fromkeys(rule.arguments, 1), append_unknown=False)[1]
        if url.startswith(SKIP_PATHS) or url == "/bahasa":
            continue
        try:
            allowed = allowed_actors(EXPECTED, rule.endpoint, "GET")
        except KeyError:
            continue
        out.extend((rule.endpoint, url, a) for a in ACTORS if a in allowed)
    return sorted(out)


def test_the_checks_bite():
    page = (
        "<p>Saldo Anda</p><td>jasa_modal</td><td>pengguna</td><p>Rp 1,500,000</p>"
        "<script>var member_id = 1;</script><code>proposal_closed</code>"
    )
    found = problems_in(visible_text(page), "en", _Stored([]), {"pengguna"})
    assert any("Indonesian 'Saldo'" in f for f in found)
    assert any("'jasa_modal'" in f for f in found)
    assert any("bare code 'pengguna'" in f for f in found)
    assert not any("1,500,000" in f for f in found)  # English grouping in English is right
    assert not any("member_id" in f or "proposal_closed" in f for f in found)
    found = problems_in(visible_text("<p>Balance: Rp 1,500,000</p>"), "id", _Stored([]), set())
    assert any("English 'Balance'" in f for f in found)
    assert any("'1,500,000'" in f for f in found)
    found = problems_in(visible_text("<p>Saldo Rp 1.500.000</p>"), "en", _Stored(["Saldo"]), set())
    assert found == ["number '1.500.000' in the other locale's format: Saldo Rp 1.500.000"]


@pytest.fixture
def demo(app):
    from kmp.demo import DEMO_USERS, seed_demo

    seed_demo()
    db.session.commit()
    emails = {key: email for key, email, _, _ in DEMO_USERS}
    return {k: db.session.scalar(select(User).where(User.email == e)) for k, e in emails.items()}


def test_every_page_in_both_languages(app, client, demo):
    from kmp.labels import LABELS
    from members.ad.services import current_ad

    data = _stored_text()
    codes = {c for c in LABELS if "_" not in c and c not in {"payment", "receipt", "remittance"}}
    codes |= {g.code for g in current_ad().groups}  # member group codes (pengguna, kurir...)
    pages = _pages(app)
    problems: dict[str, list[str]] = {}
    opened = 0
    started = time.perf_counter()
    for lang in ("id", "en"):
        for user in demo.values():
            user.locale = lang
        db.session.commit()
        for endpoint, url, actor in pages:
            user = demo.get(DEMO_OF.get(actor, actor))
            with client.session_transaction() as session:
                session.clear()
                session["lang"] = lang
                if actor != "anon":
                    session["_user_id"] = user.get_id()
                    session["_fresh"] = True
            client.set_cookie("kmp_lang", lang)
            response = client.get(url)
            body = response.get_data()  # a streamed export is read to its end
            response.close()
            assert response.status_code < 500, f"{url} as {actor}: {response.status_code}"
            if response.status_code != 200 or "html" not in response.content_type:
                continue
            html = body.decode()
            assert f'lang="{lang}"' in html, f"{url} as {actor} is not in {lang}"
            opened += 1
            found = problems_in(visible_text(html), lang, data, codes)
            if found:
                problems[f"{lang} {url} as {actor} ({endpoint})"] = sorted(set(found))[:8]
    elapsed = time.perf_counter() - started
    routes = len({endpoint for endpoint, _, _ in pages})
    print(f"{opened} pages opened ({routes} routes, {len(pages)} route x user, 2 languages)")
    print(f"in {elapsed:.1f} s")
    assert opened >= 600, opened
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())
