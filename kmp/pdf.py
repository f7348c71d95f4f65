"""The one PDF layer: every PDF KMP prints (receipts, slips, statements, reports, minutes).

fpdf2 with embedded Unicode fonts, so every member's name prints as typed: DejaVu Sans
(bundled under ``kmp/fonts``, Latin incl. Vietnamese, Arabic, Cyrillic, Greek) with
text shaping by HarfBuzz (``uharfbuzz``: Arabic joins and runs right to left), and a CJK
fallback (Droid Sans Fallback from Debian's ``fonts-droid-fallback``, installed by
``.ci/ensure-system``; without it Chinese or Japanese names print as empty boxes, nothing
fails). Every document carries the same header (the cooperative's name, the document's
title, the member or period it is about) and footer (print date, page n of m).

Usage::

    doc = Document(title=_("Kwitansi"), subject=member.display_name, period="2026")
    doc.heading(...); doc.text(...); doc.table(headers, rows, numeric={2, 3})
    doc.signatures([_("Ketua"), _("Bendahara")])
    return doc.output()  # bytes
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app, has_app_context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FONT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fonts")
REGULAR = os.path.join(FONT_DIR, "DejaVuSans.ttf")
BOLD = os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf")
#: CJK fallback fonts, first found wins (Debian package paths).
CJK_CANDIDATES = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
FAMILY = "DejaVu"
INK = (33, 37, 41)  # near-black text on white: readable printed and on screen
RULE = (120, 120, 120)
HEAD_FILL = (233, 236, 239)  # light grey table headings with dark text


def cjk_font() -> str | None:
    return next((path for path in CJK_CANDIDATES if os.path.exists(path)), None)


def _shaping_available() -> bool:
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency, but PDFs must not fail without it
        return False
    return True


def plain(value: Any) -> str:
    """A cell or line as text: integers with the locale's grouping, dates ISO, None empty."""
    from kmp.money import format_number

    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "–"
    if isinstance(value, int):
        return format_number(value)
    if isinstance(value, dt.datetime):
        from kmp.timeutil import JAKARTA

        return value.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class Document:
    """An A4 document with KMP's header and footer. Methods add content in reading order."""

    def __init__(
        self,
        *,
        title: str,
        subject: str = "",
        period: str = "",
        coop_name: str | None = None,
        landscape: bool = False,
    ):
        from fpdf import FPDF

        self.title = title
        self.subject = subject
        self.period = period
        if coop_name is None and has_app_context():
            coop_name = current_app.config.get("KMP_COOP_NAME", "")
        self.coop_name = coop_name or ""
        doc = self

        class _PDF(FPDF):
            def header(self):  # noqa: D401 - fpdf2 hook
                doc._header()

            def footer(self):  # noqa: D401 - fpdf2 hook
                doc._footer()

        self.pdf = _PDF(
            orientation="landscape" if landscape else "portrait", unit="mm", format="A4"
        )
        self.pdf.add_font(FAMILY, "", REGULAR)
        self.pdf.add_font(FAMILY, "B", BOLD)
        fallbacks = []
        cjk = cjk_font()
        if cjk:
            self.pdf.add_font("CJK", "", cjk)
            self.pdf.add_font("CJK", "B", cjk)
            fallbacks.append("CJK")
        if fallbacks:
            self.pdf.set_fallback_fonts(fallbacks, exact_match=False)
        if _shaping_available():
            self.pdf.set_text_shaping(True)
        self.pdf.set_title(title)
        self.pdf.set_author(self.coop_name)
        self.pdf.set_creator("KMP")
        self.pdf.set_text_color(*INK)
        self.pdf.set_draw_color(*RULE)
        self.pdf.alias_nb_pages()
        self.pdf.set_auto_page_break(auto=True, margin=16)
        self.pdf.add_page()

    # --- page furniture -------------------------------------------------------------------
    def _header(self) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "B", 10)
        pdf.cell(0, 5, self.coop_name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "B", 13)
        pdf.multi_cell(0, 6, self.title, new_x="LMARGIN", new_y="NEXT")
        details = " · ".join(part for part in (self.subject, self.period) if part)
        if details:
            pdf.set_font(FAMILY, "", 9)
            pdf.multi_cell(0, 5, details, new_x="LMARGIN", new_y="NEXT")
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
        pdf.ln(4)

    def _footer(self) -> None:
        from flask_babel import format_datetime, gettext

        pdf = self.pdf
        pdf.set_y(-12)
        pdf.set_font(FAMILY, "", 7)
        printed = dt.datetime.now(dt.UTC)
        try:
            stamp = format_datetime(printed, "d MMM y HH.mm")
            label = gettext(
                "Dicetak %(when)s · halaman %(page)s dari %(pages)s",
                when=stamp,
                page=pdf.page_no(),
                pages="{nb}",
            )
        except (RuntimeError, KeyError):  # no app context (a script)
            label = f"{printed:%Y-%m-%d %H:%M} UTC · {pdf.page_no()}/{{nb}}"
        pdf.cell(0, 5, label, align="R")

    # --- content --------------------------------------------------------------------------
    def heading(self, text: str, size: float = 11) -> None:
        self.pdf.ln(1)
        self.pdf.set_font(FAMILY, "B", size)
        self.pdf.multi_cell(0, size * 0.5, plain(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def text(self, text: str, size: float = 9, bold: bool = False) -> None:
        self.pdf.set_font(FAMILY, "B" if bold else "", size)
        self.pdf.multi_cell(0, size * 0.5, plain(text), new_x="LMARGIN", new_y="NEXT")

    def pairs(self, items: Iterable[tuple[str, Any]], size: float = 9) -> None:
        """Label: value lines (a receipt's fields, a slip's summary)."""
        for label, value in items:
            self.pdf.set_font(FAMILY, "", size)
            self.pdf.cell(55, size * 0.55, plain(label))
            self.pdf.set_font(FAMILY, "B", size)
            self.pdf.multi_cell(0, size * 0.55, plain(value), new_x="LMARGIN", new_y="NEXT")

    def table(
        self,
        headers: Sequence[Any],
        rows: Iterable[Sequence[Any]],
        *,
        numeric: Iterable[int] | None = None,
        size: float = 8,
        widths: Sequence[int] | None = None,
    ) -> None:
        """A table; ``numeric`` columns are right-aligned (default: columns of integers)."""
        from fpdf.fonts import FontFace

        materialised = [list(r) for r in rows]
        if numeric is None:
            numeric = {
                i
                for i in range(len(headers))
                if materialised
                and all(
                    isinstance(r[i], int) and not isinstance(r[i], bool)
                    for r in materialised
                    if i < len(r) and r[i] not in (None, "")
                )
            }
        numeric = set(numeric)
        align = tuple("RIGHT" if i in numeric else "LEFT" for i in range(len(headers)))
        self.pdf.set_font(FAMILY, "", size)
        with self.pdf.table(
            headings_style=FontFace(emphasis="BOLD", color=INK, fill_color=HEAD_FILL),
            text_align=align,
            line_height=size * 0.55,
            col_widths=widths,
        ) as table:
            head = table.row()
            for h in headers:
                head.cell(plain(h))
            for r in materialised:
                line = table.row()
                for value in r:
                    line.cell(plain(value))
        self.pdf.ln(2)

    def image(self, data: bytes, width: float = 30) -> None:
        import io

        self.pdf.image(io.BytesIO(data), w=width)

    def signatures(self, roles: Sequence[str], place_date: str = "") -> None:
        """Signature lines side by side (Ketua, Bendahara, Pengawas ...)."""
        pdf = self.pdf
        pdf.ln(6)
        if place_date:
            self.text(place_date)
            pdf.ln(2)
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / max(len(roles), 1)
        y = pdf.get_y() + 18
        if y > pdf.h - 30:
            pdf.add_page()
            y = pdf.get_y() + 18
        for i, role in enumerate(roles):
            x = pdf.l_margin + i * width
            pdf.line(x + 4, y, x + width - 4, y)
            pdf.set_xy(x, y + 1)
            pdf.set_font(FAMILY, "", 8)
            pdf.cell(width, 4, plain(role), align="C")
        pdf.set_y(y + 8)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def table_pdf(
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    title: str,
    subtitle: str = "",
) -> bytes:
    """A whole PDF that is one table (the exports of every list page)."""
    doc = Document(title=title, subject=subtitle, landscape=len(headers) > 6)
    doc.table(headers, rows)
    return doc.output()
