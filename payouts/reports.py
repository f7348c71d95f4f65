"""The board's SHU allocation report (PDF / XLSX with a chart, an SVG chart for the page)
and the member's SHU slip PDF. Numbers come from the stored run; nothing is recomputed."""

from __future__ import annotations

import io
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from sqlalchemy import case, func, select

from kmp.extensions import db
from kmp.i18n import gettext
from kmp.money import format_rupiah
from kmp.pdf import FAMILY, Document
from payouts.models import DistributionLine, DistributionRun

FUND_LABELS = {
    "cadangan": "Cadangan",
    "jasa_anggota": "Jasa anggota",
    "dana_pengurus": "Dana pengurus",
    "dana_karyawan": "Dana karyawan",
    "dana_pendidikan": "Dana pendidikan",
    "dana_sosial": "Dana sosial",
}

#: Brackets of member amounts for the "distribution of member amounts" table.
BRACKETS = (0, 1, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000)


def rp(value: int) -> str:
    return format_rupiah(int(value))


def fund_label(key: str) -> str:
    return gettext(FUND_LABELS.get(key, key.replace("_", " ").capitalize()))


@dataclass
class Bracket:
    label: str
    members: int
    total_idr: int


def bracket_index(total_idr: int) -> int:
    """The bracket (index into ``BRACKETS``) of one member amount."""
    return bisect_right(BRACKETS, total_idr) - 1 if total_idr >= 0 else 0


def tally_brackets(totals) -> list[list[int]]:
    """``[[members, total_idr], ...]`` per bracket of ``totals``: what ``compute_run`` stores
    in the run's summary (``summary["brackets"]``), so the run page reads no lines for it."""
    out = [[0, 0] for _ in BRACKETS]
    for total in totals:
        cell = out[bracket_index(total)]
        cell[0] += 1
        cell[1] += total
    return out


def amount_distribution(run: DistributionRun) -> list[Bracket]:
    """How many members fall in each amount bracket: stored with the run when it was
    computed (a run computed before that is aggregated in one grouped query)."""
    edges = list(BRACKETS)
    stored = (run.summary or {}).get("brackets")
    if stored and len(stored) == len(edges):
        found = {i: (int(c), int(t)) for i, (c, t) in enumerate(stored)}
    else:
        whens = [(DistributionLine.total_idr < edges[i + 1], i) for i in range(len(edges) - 1)]
        bucket = case(*whens, else_=len(edges) - 1)
        rows = db.session.execute(
            select(bucket, func.count(), func.coalesce(func.sum(DistributionLine.total_idr), 0))
            .where(DistributionLine.run_id == run.id)
            .group_by(bucket)
        ).all()
        found = {int(b): (int(c), int(t)) for b, c, t in rows}
    out = []
    for i, low in enumerate(edges):
        if i + 1 < len(edges):
            high = edges[i + 1] - 1
            label = "Rp 0" if low == high == 0 else f"{rp(low)} - {rp(high)}"
        else:
            label = f"{rp(low)} ke atas"
        count, total = found.get(i, (0, 0))
        out.append(Bracket(label, count, total))
    return out


def fund_rows(run: DistributionRun) -> list[tuple[str, int, int]]:
    """(label, bp, amount) per allocation line, final amounts (redirects in the reserve)."""
    summary = run.summary or {}
    funds = summary.get("funds", {})
    return [(fund_label(k), int(bp), int(funds.get(k, 0))) for k, bp in summary.get("table", [])]


def group_rows(run: DistributionRun) -> list[tuple]:
    return [
        (
            g["code"],
            g["member_count"],
            g["pool_idr"],
            g["modal_pool_idr"],
            g["usaha_pool_idr"],
            g["modal_paid_idr"] + g["usaha_paid_idr"],
        )
        for g in (run.summary or {}).get("groups", [])
    ]


# --------------------------------------------------------------------------- SVG


def bar_chart_svg(items: Sequence[tuple[str, int]], *, title: str) -> str:
    """A horizontal bar chart as an SVG string (no script, no style attributes)."""
    width, bar_h, gap, label_w = 340, 22, 8, 120
    height = len(items) * (bar_h + gap) + 30
    peak = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="shu-chart">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = 10 + i * (bar_h + gap)
        w = (width - label_w - 10) * value // peak
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="11" fill="#333">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar_h}" fill="#1f7a4d"/>'
            f'<text x="{label_w + 4}" y="{y + bar_h + 6 + 4}" font-size="9" fill="#555">'
            f"{escape(rp(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def fund_chart_svg(run: DistributionRun) -> str:
    return bar_chart_svg(
        [(label, amount) for label, _, amount in fund_rows(run)],
        title=gettext("Pembagian SHU %(year)s", year=run.fiscal_year),
    )


# --------------------------------------------------------------------------- PDF


#: Readable colours: dark text everywhere, a pale green heading row, green only for bars.
TEXT_RGB = (17, 17, 17)
HEAD_RGB = (226, 239, 231)
BAR_RGB = (31, 122, 77)
WHITE_RGB = (255, 255, 255)


class Count(int):
    """A number of members (shown ``1.234``, never as Rupiah)."""

    def __str__(self) -> str:
        return f"{int(self):,}".replace(",", ".")


class Percent(int):
    """Basis points shown as a percentage: ``4000 -> '40 %'``, ``3750 -> '37,5 %'``."""

    def __str__(self) -> str:
        whole, rest = divmod(int(self), 100)
        return f"{whole} %" if not rest else f"{whole},{rest:02d}".rstrip("0") + " %"


def _cell(value: object) -> str:
    if isinstance(value, Count | Percent):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return rp(value)  # a plain int in a report table is an amount of Rupiah
    return str(value)


def _table(doc: Document, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A table on the one PDF layer; amounts, counts and percentages right-aligned."""
    rows = [list(r) for r in rows]
    numeric = {
        i
        for i in range(len(headers))
        if rows and all(isinstance(r[i], int) and not isinstance(r[i], bool) for r in rows)
    }
    doc.table(headers, [[_cell(v) for v in r] for r in rows], numeric=numeric, size=8)


def _heading(doc: Document, text: str, size: int = 11) -> None:
    doc.heading(text, size)


def _chart(doc: Document, items: Sequence[tuple[str, int]]) -> None:
    pdf = doc.pdf
    peak = max((v for _, v in items), default=0) or 1
    pdf.set_font(FAMILY, size=8)
    pdf.set_text_color(*TEXT_RGB)
    x0, label_w, full = pdf.l_margin, 40, 110
    for label, value in items:
        y = pdf.get_y()
        pdf.set_xy(x0, y)
        pdf.cell(label_w, 5, str(label))
        pdf.set_fill_color(*BAR_RGB)
        pdf.rect(x0 + label_w, y + 0.75, max(full * value / peak, 0.3), 3.5, style="F")
        pdf.set_xy(x0 + label_w + full + 2, y)
        pdf.cell(0, 5, rp(value), new_x="LMARGIN", new_y="NEXT")
    pdf.set_fill_color(*WHITE_RGB)  # the bars' green must not leak into what follows
    pdf.ln(3)


POOL_LABELS = {"jasa_modal": "Jasa modal", "jasa_usaha": "Jasa usaha"}
SIGNATORIES = (("ketua", "Ketua"), ("bendahara", "Bendahara"), ("pengawas", "Pengawas"))


def _group_names() -> dict[str, str]:
    from members.ad.services import current_ad

    try:
        return {g.code: g.name_id for g in current_ad().groups}
    except Exception:  # noqa: BLE001 - a report without the AD still prints the codes
        return {}


def _signatory_names() -> dict[str, str]:
    """The sitting ketua, bendahara and (first) pengawas, for the signature lines."""
    from members.officers.queries import current_officers

    names: dict[str, str] = {}
    for officer in current_officers():
        names.setdefault(officer.function.value, officer.holder_name)
    return names


def _signatures(doc: Document, place_date: str) -> None:
    pdf = doc.pdf
    pdf.ln(2)
    pdf.set_font(FAMILY, size=9)
    pdf.set_text_color(*TEXT_RGB)
    pdf.cell(0, 5, place_date, new_x="LMARGIN", new_y="NEXT")
    names = _signatory_names()
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(SIGNATORIES)
    if pdf.get_y() + 32 > pdf.h - pdf.b_margin:
        pdf.add_page()  # the three signature lines stay together
    y = pdf.get_y() + 2
    for i, (key, label) in enumerate(SIGNATORIES):
        x = pdf.l_margin + i * width
        pdf.set_xy(x, y)
        pdf.cell(width, 5, label, align="C")
        pdf.line(x + 6, y + 24, x + width - 6, y + 24)
        pdf.set_xy(x, y + 25)
        pdf.cell(width, 5, f"({names.get(key, '.' * 30)})", align="C")
    pdf.set_xy(pdf.l_margin, y + 32)


def shu_source_text(run: DistributionRun) -> str:
    """Where the run's SHU comes from; an entered amount with the books' figure and reason."""
    if run.shu_source == "entered":
        book = "" if run.shu_book_idr is None else f", menurut buku {rp(run.shu_book_idr)}"
        return f"diisi pengurus{book}; alasan: {run.shu_reason}"
    if run.shu_source == "closed":
        return f"tutup buku {run.fiscal_year}"
    return "buku besar"


def board_report_pdf(run: DistributionRun, coop_name: str | None = None) -> bytes:
    """The board's SHU report: the cooperative, the fiscal year, the AD table (percentages),
    the groups (member counts), the distribution of member amounts, and signature lines for
    the ketua, the bendahara and the pengawas."""
    from flask import current_app

    summary = run.summary or {}
    coop = coop_name or current_app.config.get("KMP_COOP_NAME") or "Koperasi Multi Pihak"
    names = _group_names()
    doc = Document(title=f"Laporan Pembagian SHU Tahun Buku {run.fiscal_year}", coop_name=coop)
    source = shu_source_text(run)
    doc.text(f"Tahun buku {run.fiscal_year}: 1 Januari - 31 Desember {run.fiscal_year}.")
    doc.text(f"SHU yang dibagi: {rp(run.shu_idr or 0)} (sumber: {source}).")
    doc.text(f"Anggota penerima: {Count(run.member_count or 0)}. Status: {run.status.label}.")
    doc.pdf.ln(2)
    _heading(doc, "1. Tabel pembagian SHU (AD)")
    funds = fund_rows(run)
    _table(doc, ["Pos", "Bagian", "Jumlah"], [(k, Percent(bp), v) for k, bp, v in funds])
    _chart(doc, [(label, amount) for label, _, amount in funds])
    _heading(doc, "2. Jasa anggota per kelompok")
    _table(
        doc,
        ["Kelompok", "Anggota", "Bagian kelompok", "Jasa modal", "Jasa usaha", "Dibagikan"],
        [(names.get(g[0], g[0]), Count(g[1]), *g[2:]) for g in group_rows(run)],
    )
    redirected = summary.get("redirected", [])
    if redirected:
        _heading(doc, "Pos tanpa dasar pembagian (masuk cadangan)")
        _table(
            doc,
            ["Kelompok", "Pos", "Jumlah"],
            [(names.get(g, g), POOL_LABELS.get(p, p), int(a)) for g, p, a in redirected],
        )
    _heading(doc, "3. Sebaran SHU anggota")
    _table(
        doc,
        ["Rentang", "Anggota", "Jumlah"],
        [(b.label, Count(b.members), b.total_idr) for b in amount_distribution(run)],
    )
    total = sum(int(v) for v in summary.get("funds", {}).values())
    _heading(doc, f"Total dialokasikan: {rp(total)} = SHU {rp(run.shu_idr or 0)}", 10)
    _signatures(doc, "Disahkan di ...................., tanggal ....................")
    return doc.output()


def board_report_xlsx(run: DistributionRun) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.title = "Pembagian SHU"
    ws.append([f"Laporan Pembagian SHU Tahun Buku {run.fiscal_year}"])
    ws.append(["SHU", run.shu_idr or 0])
    ws.append(["Sumber SHU", shu_source_text(run)])
    ws.append([])
    ws.append(["Pos", "Bagian (bp)", "Jumlah (Rp)"])
    first = ws.max_row + 1
    for row in fund_rows(run):
        ws.append(list(row))
    last = ws.max_row
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Pembagian SHU"
    chart.add_data(Reference(ws, min_col=3, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    ws.add_chart(chart, "E2")
    groups = wb.create_sheet("Kelompok")
    groups.append(
        ["Kelompok", "Anggota", "Bagian kelompok", "Jasa modal", "Jasa usaha", "Dibagikan"]
    )
    for row in group_rows(run):
        groups.append(list(row))
    dist = wb.create_sheet("Sebaran")
    dist.append(["Rentang", "Anggota", "Jumlah (Rp)"])
    for b in amount_distribution(run):
        dist.append([b.label, b.members, b.total_idr])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def slip_pdf(run: DistributionRun, line: DistributionLine, member_name: str, paragraphs) -> bytes:
    doc = Document(
        title=f"Slip SHU Tahun Buku {run.fiscal_year}",
        subject=f"{member_name} · {line.member_no}",
        period=str(run.fiscal_year),
    )
    _table(
        doc,
        ["Bagian", "Jumlah"],
        [
            ("Jasa modal (dari simpanan)", line.jasa_modal_idr),
            ("Jasa usaha (dari kerja Anda)", line.jasa_usaha_idr),
            ("Total SHU Anda", line.total_idr),
        ],
    )
    for text in paragraphs:
        doc.text(text)
        doc.pdf.ln(1)
    return doc.output()
