"""Reports for the board and for data exchange with the ministries: per month, programme and
member group — participants (persons for JKN), billed, collected (members' money + social
fund subsidies posted), subsidised, remitted, in arrears. One grouped query per programme."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select

from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import month_key
from members.protection.models import Contribution
from members.protection.rates import KINDS, PROGRAMMES, SHORT, month_start
from members.savings.models import Obligation


@dataclass(frozen=True)
class ReportRow:
    period: dt.date
    programme: str
    group_code: str
    participants: int
    persons: int
    billed_idr: int
    collected_idr: int
    subsidy_idr: int
    remitted_idr: int
    arrears_count: int
    arrears_idr: int


def month_report(month: dt.date) -> list[ReportRow]:
    period = month_start(month)
    c, o = Contribution, Obligation
    rows: list[ReportRow] = []
    for programme in PROGRAMMES:
        query = (
            select(
                c.group_code,
                func.count(),
                func.sum(c.persons),
                func.sum(c.full_idr),
                func.sum(o.paid_idr),
                func.sum(case((c.subsidy_state == "posted", c.subsidy_idr), else_=0)),
                func.sum(c.subsidy_idr),
                func.sum(case((c.remittance_id.is_not(None), c.full_idr), else_=0)),
                func.sum(case((o.is_open.is_(True), 1), else_=0)),
                func.sum(case((o.is_open.is_(True), o.amount_idr - o.paid_idr), else_=0)),
            )
            .join(
                o,
                and_(
                    o.member_id == c.member_id,
                    o.kind == KINDS[programme],
                    o.period == c.period,
                    o.ref == "",
                ),
            )
            .where(c.programme == programme, c.period == period)
            .group_by(c.group_code)
            .order_by(c.group_code)
        )
        for (
            group,
            count,
            persons,
            billed,
            paid,
            posted,
            subsidy,
            remitted,
            n_open,
            owed,
        ) in db.session.execute(query):
            rows.append(
                ReportRow(
                    period,
                    programme,
                    group,
                    int(count),
                    int(persons or 0),
                    int(billed or 0),
                    int(paid or 0) + int(posted or 0),
                    int(subsidy or 0),
                    int(remitted or 0),
                    int(n_open or 0),
                    int(owed or 0),
                )
            )
    return rows


def report_headers() -> list[str]:
    return [
        _("Bulan"),
        _("Program"),
        _("Kelompok"),
        _("Peserta"),
        _("Jiwa"),
        _("Ditagih"),
        _("Terkumpul"),
        _("Subsidi dana sosial"),
        _("Disetor ke BPJS"),
        _("Menunggak (peserta)"),
        _("Menunggak (Rp)"),
    ]


def report_cells(rows: list[ReportRow]):
    for r in rows:
        yield (
            month_key(r.period),
            SHORT[r.programme],
            r.group_code,
            r.participants,
            r.persons,
            r.billed_idr,
            r.collected_idr,
            r.subsidy_idr,
            r.remitted_idr,
            r.arrears_count,
            r.arrears_idr,
        )


def totals(rows: list[ReportRow]) -> dict[str, int]:
    keys = (
        "participants",
        "persons",
        "billed_idr",
        "collected_idr",
        "subsidy_idr",
        "remitted_idr",
        "arrears_count",
        "arrears_idr",
    )
    return {k: sum(getattr(r, k) for r in rows) for k in keys}
