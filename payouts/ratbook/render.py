"""The RAT book as one PDF (through the one PDF layer, ``kmp.pdf``) and one XLSX (through
``kmp.exports.write_workbook``: a sheet per section). Both render the same sections."""

from __future__ import annotations

import io

from kmp.exports import write_workbook
from kmp.i18n import gettext as _
from kmp.pdf import Document
from payouts.ratbook.sections import Section, Table, build_sections, coop_name


def _blank(value):
    return "" if value is None else value


def book_pdf(year: int, sections: list[Section] | None = None) -> bytes:
    sections = sections if sections is not None else build_sections(year)
    doc = Document(
        title=_("Laporan Pertanggungjawaban Pengurus"),
        period=_("Tahun buku %(year)s", year=year),
        coop_name=coop_name(),
    )
    for number, section in enumerate(sections):
        if number:
            doc.pdf.add_page()
        doc.heading(section.title, size=11 if number else 13)
        for block in section.blocks:
            if isinstance(block, str):
                doc.text(block)
                doc.pdf.ln(2)
            elif isinstance(block, Table):
                if block.title:
                    doc.text(block.title, bold=True)
                wide = len(block.headers) > 4
                doc.table(
                    block.headers,
                    [[_blank(v) for v in row] for row in block.rows],
                    numeric=block.numeric,
                    size=6.5 if wide else 8,
                    widths=block.widths,
                )
            else:
                doc.pairs(block)
                doc.pdf.ln(2)
    doc.signatures([_("Ketua pengurus"), _("Sekretaris"), _("Bendahara")])
    return doc.output()


def _sheet_rows(section: Section):
    yield [section.title]
    for block in section.blocks:
        yield []
        if isinstance(block, str):
            yield [block]
        elif isinstance(block, Table):
            if block.title:
                yield [block.title]
            yield list(block.headers)
            yield from ([_blank(v) for v in row] for row in block.rows)
        else:
            yield from ([label, value] for label, value in block)


def book_xlsx(year: int, sections: list[Section] | None = None) -> bytes:
    sections = sections if sections is not None else build_sections(year)
    buffer = io.BytesIO()
    write_workbook(
        ((f"{i + 1}. {s.title}", None, _sheet_rows(s)) for i, s in enumerate(sections)),
        buffer,
    )
    return buffer.getvalue()
