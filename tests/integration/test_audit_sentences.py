"""Issue 22: the audit trail reads as sentences (who, what, when, before → after), with the
raw record one click away (a <details> holding the stored JSON)."""

from __future__ import annotations

import html as htmllib
import re

from kmp.audit import acting_as
from kmp.extensions import db
from tests.integration.members_support import apply_member


def test_a_change_reads_as_a_sentence_with_before_and_after(client, login_as):
    member = apply_member(1)
    db.session.commit()
    with acting_as("ketua@uji.kmp.id", "pengurus"):
        member.phone = "081299990000"
        db.session.commit()
    login_as("pengawas")
    page = htmllib.unescape(client.get("/jejak-audit/?jenis=update").get_data(as_text=True))
    sentence = f"ketua@uji.kmp.id mengubah data anggota #{member.id}."
    assert sentence in page
    assert re.search(r"<strong>nomor HP</strong>: \S+ → 081299990000", page), page[-3000:]
    raw = re.search(
        r'<details class="small"><summary[^>]*>Catatan asli</summary>\s*'
        r'<pre class="audit-raw"[^>]*>(.*?)</pre>',
        page,
        re.S,
    )
    assert raw and '"table": "members"' in raw.group(1) and '"phone": [' in raw.group(1)
    assert "{&#34;" not in page and '{"phone"' not in page.split("Catatan asli")[0]


def test_the_english_page_translates_the_sentence(client, login_as):
    member = apply_member(2)
    db.session.commit()
    with acting_as("ketua@uji.kmp.id", "pengurus"):
        member.phone = "081299990001"
        db.session.commit()
    user = login_as("pengawas")
    user.locale = "en"
    db.session.commit()
    page = htmllib.unescape(client.get("/jejak-audit/?jenis=update").get_data(as_text=True))
    assert f"ketua@uji.kmp.id changed member record #{member.id}." in page
    assert "<strong>mobile number</strong>" in page
