"""The sections of the RAT accountability book, in order: a list of builders, each taking the
fiscal year and returning a :class:`Section` or None when it has nothing to show (no
protection enrolments, no loans feature, no budget for next year...).

A section is data (paragraphs, label/value pairs and tables of plain values); the PDF and the
XLSX are two renderings of the same sections (``payouts.ratbook.render``), and ``figures``
holds the named totals the tests compare with the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.money import format_rupiah
from members.ad.services import current_ad
from payouts.ratbook import figures, statements
from payouts.ratbook.models import CoopProfile, RatText, TextKind


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    title: str = ""
    numeric: set[int] | None = None
    widths: tuple[int, ...] | None = None  # relative column widths in the PDF


@dataclass
class Section:
    key: str
    title: str
    blocks: list = field(default_factory=list)  # str (a paragraph) | Table | list of pairs
    figures: dict[str, int] = field(default_factory=dict)


Builder = Callable[[int], Section | None]


def coop_profile() -> CoopProfile | None:
    return db.session.get(CoopProfile, 1)


def coop_name() -> str:
    profile = coop_profile()
    if profile is not None and profile.name:
        return profile.name
    return current_app.config.get("KMP_COOP_NAME") or "Koperasi Multi Pihak"


def rat_text(year: int, kind: TextKind) -> RatText | None:
    return db.session.scalar(
        select(RatText).where(RatText.fiscal_year == year, RatText.kind == kind)
    )


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in (text or "").replace("\r\n", "\n").split("\n\n") if p.strip()]


# --------------------------------------------------------------------------- builders


def cover(year: int) -> Section:
    profile = coop_profile()
    rat = figures.rat_date(year)
    pairs = [
        (_("Koperasi"), coop_name()),
        (_("Tahun buku"), _("1 Januari - 31 Desember %(year)s", year=year)),
    ]
    if profile is not None:
        for label, value in (
            (_("Nomor badan hukum"), profile.legal_number),
            (_("Tanggal badan hukum"), profile.legal_date),
            (_("Nomor Induk Koperasi (NIK)"), profile.nik_koperasi),
            (_("Alamat"), profile.address),
            (_("Kabupaten/kota"), profile.regency),
            (_("Provinsi"), profile.province),
        ):
            if value:
                pairs.append((label, value))
    pairs.append((_("Rapat Anggota Tahunan"), rat if rat else _("tanggal belum ditetapkan")))
    return Section(
        "cover",
        _("Laporan Pertanggungjawaban Pengurus Tahun Buku %(year)s", year=year),
        [
            pairs,
            _(
                "Disampaikan pengurus kepada Rapat Anggota Tahunan. Semua angka dalam buku ini "
                "diambil dari buku besar koperasi."
            ),
        ],
    )


def _text_section(key: str, kind: TextKind, title) -> Builder:
    def build(year: int) -> Section | None:
        text = rat_text(year, kind)
        if text is None or not text.body.strip():
            return None
        return Section(key, str(title), _paragraphs(text.body))

    build.__name__ = key
    return build


board_report = _text_section("board_report", TextKind.BOARD, _l("Laporan pengurus"))
supervisory_report = _text_section(
    "supervisory_report", TextKind.SUPERVISORY, _l("Laporan pengawas")
)


def balance_sheet(year: int) -> Section:
    sheet = statements.balance_sheet(year)
    headers = [_("Pos"), str(year), str(year - 1)]
    rows: list[list] = []
    for _key, label, lines, total, prev in sheet.groups:
        rows.append([label, None, None])
        rows.extend([f"  {name}", cur, old] for _code, name, cur, old in lines)
        rows.append([_("Jumlah %(group)s", group=label.lower()), total, prev])
    t = sheet.totals
    if t["unclosed_result"] or t["prev_unclosed_result"]:
        rows.append(
            [_("Hasil usaha belum ditutup"), t["unclosed_result"], t["prev_unclosed_result"]]
        )
    rows += [
        [_("JUMLAH ASET"), t["assets"], t["prev_assets"]],
        [_("JUMLAH KEWAJIBAN"), t["liabilities"], t["prev_liabilities"]],
        [
            _("JUMLAH EKUITAS"),
            t["equity"] + t["unclosed_result"],
            t["prev_equity"] + t["prev_unclosed_result"],
        ],
        [
            _("JUMLAH KEWAJIBAN DAN EKUITAS"),
            t["liabilities_and_equity"],
            t["prev_liabilities_and_equity"],
        ],
    ]
    return Section(
        "balance_sheet",
        _("Neraca per 31 Desember %(year)s dan %(prev)s", year=year, prev=year - 1),
        [Table(headers, rows, numeric={1, 2}, widths=(3, 1, 1))],
        dict(t),
    )


def result_statement(year: int) -> Section:
    statement = statements.result_statement(year)
    headers = [_("Pos"), str(year), str(year - 1)]
    rows: list[list] = []
    for _key, label, _type, lines, total, prev in statement.groups:
        rows.append([label, None, None])
        rows.extend([f"  {name}", cur, old] for _code, name, cur, old in lines)
        rows.append([_("Jumlah %(group)s", group=label.lower()), total, prev])
    t = statement.totals
    rows += [
        [_("JUMLAH PENDAPATAN"), t["income"], t["prev_income"]],
        [_("JUMLAH BEBAN"), t["expense"], t["prev_expense"]],
        [_("SISA HASIL USAHA"), t["shu"], t["prev_shu"]],
    ]
    return Section(
        "result_statement",
        _("Perhitungan hasil usaha tahun %(year)s", year=year),
        [Table(headers, rows, numeric={1, 2}, widths=(3, 1, 1))],
        dict(t),
    )


def cash_flow(year: int) -> Section:
    flow = statements.cash_flow(year)
    t = flow.totals
    rows: list[list] = []
    for title, lines, total in (
        (_("Arus kas dari kegiatan operasi"), flow.operating, t["operating"]),
        (_("Arus kas dari kegiatan investasi"), flow.investing, t["investing"]),
        (_("Arus kas dari kegiatan pendanaan"), flow.financing, t["financing"]),
    ):
        rows.append([title, None])
        shown = [(label, a) for i, (label, a) in enumerate(lines) if a or (i == 0 and total)]
        rows.extend([f"  {label}", amount] for label, amount in shown)
        rows.append([_("Kas bersih %(part)s", part=title.lower()), total])
    rows += [
        [_("Kenaikan (penurunan) kas dan bank"), t["net"]],
        [_("Kas dan bank awal tahun"), t["opening_cash"]],
        [_("Kas dan bank akhir tahun"), t["closing_cash"]],
    ]
    return Section(
        "cash_flow",
        _("Laporan arus kas tahun %(year)s (metode tidak langsung)", year=year),
        [Table([_("Pos"), _("Jumlah (Rp)")], rows, numeric={1}, widths=(3, 1))],
        dict(t),
    )


def equity_changes(year: int) -> Section:
    changes = statements.equity_changes(year)
    headers = [
        _("Ekuitas"),
        _("31 Des %(year)s", year=year - 1),
        _("Penambahan"),
        _("Pengurangan"),
        _("31 Des %(year)s", year=year),
    ]
    rows = [
        [name, opening, up, down, closing] for _c, name, opening, up, down, closing in changes.rows
    ]
    t = changes.totals
    rows.append([_("Jumlah"), t["opening"], t["increases"], t["decreases"], t["closing"]])
    return Section(
        "equity_changes",
        _("Laporan perubahan ekuitas tahun %(year)s", year=year),
        [Table(headers, rows, numeric={1, 2, 3, 4}, widths=(3, 1, 1, 1, 1))],
        dict(t),
    )


def notes(year: int) -> Section:
    stats = figures.member_stats(year)
    headers = [
        _("Kelompok"),
        _("Masuk"),
        _("Keluar"),
        _("Anggota 31 Des"),
        _("Laki-laki"),
        _("Perempuan"),
        _("Badan hukum"),
        _("Simpanan pokok"),
        _("Simpanan wajib"),
        _("Modal anggota"),
    ]
    rows = [
        [
            s.name,
            s.joined,
            s.exited,
            s.active,
            s.male,
            s.female,
            s.entities,
            s.pokok_idr,
            s.wajib_idr,
            s.capital_idr,
        ]
        for s in stats
    ]
    totals = {
        "joined": sum(s.joined for s in stats),
        "exited": sum(s.exited for s in stats),
        "active": sum(s.active for s in stats),
        "pokok": sum(s.pokok_idr for s in stats),
        "wajib": sum(s.wajib_idr for s in stats),
    }
    rows.append(
        [
            _("Jumlah"),
            totals["joined"],
            totals["exited"],
            totals["active"],
            sum(s.male for s in stats),
            sum(s.female for s in stats),
            sum(s.entities for s in stats),
            totals["pokok"],
            totals["wajib"],
            totals["pokok"] + totals["wajib"],
        ]
    )
    officer_rows = [
        [o.body, o.function.replace("_", " "), o.name, o.term_start, o.term_end]
        for o in figures.officers(dt.date(year, 12, 31))
    ]
    blocks: list = [
        _(
            "Kebijakan akuntansi: laporan disusun berdasarkan SAK EP untuk koperasi "
            "(Permenkop 2/2024). Simpanan pokok dan wajib dicatat sebagai ekuitas anggota, "
            "simpanan sukarela dan SHU yang belum dibayar sebagai kewajiban."
        ),
        Table(headers, rows, title=_("Anggota per kelompok"), numeric=set(range(1, 10))),
    ]
    if officer_rows:
        blocks.append(
            Table(
                [_("Badan"), _("Jabatan"), _("Nama"), _("Mulai"), _("Sampai")],
                officer_rows,
                title=_("Pengurus dan pengawas"),
            )
        )
    return Section("notes", _("Catatan atas laporan keuangan"), blocks, totals)


def shu_allocation(year: int) -> Section | None:
    from kmp.ledger.closing.services import closed_year_shu
    from payouts import reports
    from payouts.models import DistributionRun, RunStatus

    run = db.session.scalar(
        select(DistributionRun)
        .where(
            DistributionRun.fiscal_year == year,
            DistributionRun.status != RunStatus.CANCELLED,
            DistributionRun.summary.is_not(None),
        )
        .limit(1)
    )
    closed = closed_year_shu(year)
    if run is None:
        if closed is None or closed <= 0:
            return None
        pairs = current_ad().allocation_pairs()
        amounts = [closed * bp // 10_000 for _k, bp in pairs]
        reserve = next((i for i, (k, _bp) in enumerate(pairs) if k == "cadangan"), 0)
        amounts[reserve] += closed - sum(amounts)  # the rounding remainder to the reserve
        rows = [
            [reports.fund_label(k), f"{bp / 100:.2f}%", a]
            for (k, bp), a in zip(pairs, amounts, strict=True)
        ]
        return Section(
            "shu_allocation",
            _("Usulan pembagian SHU tahun %(year)s", year=year),
            [
                _(
                    "SHU hasil tutup buku %(value)s dibagi menurut tabel AD; pembagian "
                    "diputuskan Rapat Anggota Tahunan.",
                    value=format_rupiah(closed),
                ),
                Table([_("Pos"), _("Bagian"), _("Jumlah")], rows, numeric={1, 2}),
            ],
            {"shu": closed, "allocated": sum(amounts)},
        )
    if run.shu_source == "entered":
        source = _(
            "SHU yang dibagi %(value)s diisi pengurus, berbeda dari SHU menurut buku "
            "%(book)s. Alasan: %(reason)s",
            value=format_rupiah(run.shu_idr or 0),
            book=format_rupiah(run.shu_book_idr if run.shu_book_idr is not None else (closed or 0)),
            reason=run.shu_reason or "",
        )
    else:
        source = _(
            "SHU yang dibagi %(value)s sama dengan SHU menurut buku.",
            value=format_rupiah(run.shu_idr or 0),
        )
    funds = reports.fund_rows(run)
    names = {g.code: g.name_id for g in current_ad().groups}
    return Section(
        "shu_allocation",
        _("Pembagian SHU tahun %(year)s", year=year),
        [
            source,
            [(_("Status"), run.status.label), (_("Anggota penerima"), run.member_count)],
            Table(
                [_("Pos"), _("Bagian"), _("Jumlah")],
                [[label, f"{bp / 100:.2f}%", amount] for label, bp, amount in funds],
                numeric={1, 2},
            ),
            Table(
                [
                    _("Kelompok"),
                    _("Anggota"),
                    _("Bagian kelompok"),
                    _("Jasa modal"),
                    _("Jasa usaha"),
                ],
                [[names.get(g[0], g[0]), *g[1:5]] for g in reports.group_rows(run)],
                title=_("Jasa anggota per kelompok"),
            ),
        ],
        {"shu": int(run.shu_idr or 0), "allocated": sum(a for _l, _b, a in funds)},
    )


def loans(year: int) -> Section | None:
    """The loan portfolio: only once a loans feature has registered its tables (this package
    never imports it): the loans on record and the loan receivables in the ledger."""
    if not figures.loan_tables_present():
        return None
    count, receivable = figures.loan_figures(year)
    if not count and not receivable:
        return None
    return Section(
        "loans",
        _("Pinjaman anggota tahun %(year)s", year=year),
        [
            [
                (_("Pinjaman tercatat"), count),
                (_("Piutang pinjaman 31 Des"), format_rupiah(receivable)),
            ]
        ],
        {"receivable": receivable},
    )


def protection(year: int) -> Section | None:
    rows = figures.protection_figures(year)
    if not rows:
        return None
    headers = [
        _("Program"),
        _("Peserta Desember"),
        _("Ditagih"),
        _("Terkumpul"),
        _("Subsidi dana sosial"),
        _("Disetor ke BPJS"),
        _("Dana titipan 31 Des"),
    ]
    table = [
        [
            r.label,
            r.participants_december,
            r.billed_idr,
            r.collected_idr,
            r.subsidy_idr,
            r.remitted_idr,
            r.trust_balance_idr,
        ]
        for r in rows
    ]
    return Section(
        "protection",
        _("Perlindungan sosial (BPJS) tahun %(year)s", year=year),
        [Table(headers, table, numeric=set(range(1, 7)))],
        {
            "trust": sum(r.trust_balance_idr for r in rows),
            "billed": sum(r.billed_idr for r in rows),
        },
    )


def training(year: int) -> Section | None:
    data = figures.training_figures(year)
    if data.empty:
        return None
    f = data.fund
    blocks: list = [
        [
            (_("Dana pendidikan awal tahun"), format_rupiah(f.opening_idr)),
            (_("Diterima (pembagian SHU)"), format_rupiah(f.received_idr)),
            (_("Dipakai untuk pelatihan"), format_rupiah(f.spent_idr)),
            (_("Dana pendidikan akhir tahun"), format_rupiah(f.closing_idr)),
        ]
    ]
    if data.programmes:
        blocks.append(
            Table(
                [_("Program"), _("Peserta"), _("Selesai"), _("Bersertifikat")],
                [[p.programme.title, p.seated, p.completed, p.certified] for p in data.programmes],
                title=_("Program pelatihan"),
            )
        )
    blocks.append(
        Table(
            [_("Kelompok"), _("Anggota"), _("Pernah ikut"), _("Selesai"), _("Bersertifikat")],
            [[g.group_name, g.members, g.enrolled, g.completed, g.certified] for g in data.groups],
            title=_("Pelatihan dan sertifikasi per kelompok"),
        )
    )
    return Section(
        "training",
        _("Pendidikan dan pelatihan tahun %(year)s", year=year),
        blocks,
        {"fund_closing": f.closing_idr, "fund_spent": f.spent_idr},
    )


def next_budget(year: int) -> Section | None:
    from kmp.ledger.closing.queries import budget_plan, year_result
    from kmp.ledger.models import Account, AccountType

    plan = budget_plan(year + 1)
    if not plan:
        return None
    actual = {r.account_id: r.natural_idr for r in year_result(year).rows}
    accounts = {
        a.id: a for a in db.session.scalars(select(Account).where(Account.id.in_(plan.keys())))
    }
    rows = []
    totals = {"income": 0, "expense": 0}
    for account_id in sorted(
        plan, key=lambda i: (accounts[i].type != AccountType.INCOME, accounts[i].code)
    ):
        account = accounts[account_id]
        amount = plan[account_id].amount_idr
        key = "income" if account.type == AccountType.INCOME else "expense"
        totals[key] += amount
        rows.append([account.name, actual.get(account_id, 0), amount])
    rows.append([_("Jumlah rencana pendapatan"), None, totals["income"]])
    rows.append([_("Jumlah rencana beban"), None, totals["expense"]])
    rows.append([_("Rencana SHU"), None, totals["income"] - totals["expense"]])
    return Section(
        "next_budget",
        _("Rencana anggaran pendapatan dan belanja tahun %(year)s", year=year + 1),
        [
            Table(
                [
                    _("Akun"),
                    _("Realisasi %(year)s", year=year),
                    _("Rencana %(year)s", year=year + 1),
                ],
                rows,
                numeric={1, 2},
            )
        ],
        totals,
    )


#: The book, in reading order.
BUILDERS: list[Builder] = [
    cover,
    board_report,
    balance_sheet,
    result_statement,
    cash_flow,
    equity_changes,
    notes,
    shu_allocation,
    loans,
    protection,
    training,
    supervisory_report,
    next_budget,
]


def build_sections(year: int) -> list[Section]:
    return [s for s in (build(year) for build in BUILDERS) if s is not None]
