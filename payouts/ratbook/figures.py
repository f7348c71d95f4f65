"""Figures for the notes of the RAT book and the ministry export: members per group (joined,
exited, active at the year end, by gender, capital from the ledger), officers, the RAT date,
social protection and the education fund. Set-based queries: one per figure, never per member.

Gender is not asked on the application form: it is read from the NIK (digits 7-8 are the day
of birth, plus 40 for women — Permendagri on the NIK). A company (platform group) has none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select

from kmp.extensions import db
from kmp.ledger.chart import MEMBER_ACCOUNTS
from kmp.ledger.models import Account, Posting
from kmp.ledger.queries import natural_balance
from members.ad.services import current_ad
from members.register.models import Member, MemberKind
from members.register.states import MemberStatus


@dataclass(frozen=True)
class GroupStats:
    code: str
    name: str
    joined: int  # admitted in the year
    exited: int  # left in the year (exit or death)
    active: int  # members at 31 December
    male: int
    female: int
    entities: int  # companies (legal entities)
    pokok_idr: int  # simpanan pokok of the group's members at 31 December (ledger)
    wajib_idr: int

    @property
    def capital_idr(self) -> int:
        return self.pokok_idr + self.wajib_idr


def _day_of_birth():
    return func.substr(Member.nik, 7, 2)


def member_stats(year: int) -> list[GroupStats]:
    """Per AD group (every group with a member or in the AD), at 31 December of ``year``."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    admitted = Member.member_no.is_not(None)
    member_at_end = and_(
        admitted,
        Member.joined_date.is_not(None),
        Member.joined_date <= end,
        or_(Member.exited_date.is_(None), Member.exited_date > end),
        Member.status.not_in([MemberStatus.REJECTED.value, MemberStatus.WITHDRAWN.value]),
    )
    day = _day_of_birth()
    person = Member.kind == MemberKind.INDIVIDUAL.value
    male = and_(member_at_end, person, day >= "01", day <= "31")
    female = and_(member_at_end, person, day >= "41", day <= "71")

    def count(cond):
        return func.sum(case((cond, 1), else_=0))

    rows = db.session.execute(
        select(
            Member.group_code,
            count(and_(admitted, Member.joined_date >= start, Member.joined_date <= end)),
            count(and_(admitted, Member.exited_date >= start, Member.exited_date <= end)),
            count(member_at_end),
            count(male),
            count(female),
            count(and_(member_at_end, Member.kind != MemberKind.INDIVIDUAL.value)),
        ).group_by(Member.group_code)
    ).all()
    by_group = {r[0]: [int(v or 0) for v in r[1:]] for r in rows}
    capital = _capital_per_group(end)
    ad = current_ad()
    names = {g.code: g.name_id for g in ad.groups}
    codes = [g.code for g in ad.groups] + sorted(set(by_group) - set(names))
    out = []
    for code in codes:
        counts = by_group.get(code, [0] * 6)
        pokok, wajib = capital.get(code, (0, 0))
        if (
            code not in by_group
            and not (pokok or wajib)
            and code not in {g.code for g in ad.active_groups}
        ):
            continue
        out.append(GroupStats(code, names.get(code, code), *counts, pokok, wajib))
    return out


def _capital_per_group(as_of: dt.date) -> dict[str, tuple[int, int]]:
    """Simpanan pokok and wajib per group from the members' ledger accounts at ``as_of``."""
    pokok, wajib = MEMBER_ACCOUNTS["pokok"][0] + ":", MEMBER_ACCOUNTS["wajib"][0] + ":"
    signed = -Posting.amount_idr  # equity: credit-normal
    rows = db.session.execute(
        select(
            Member.group_code,
            func.sum(case((Account.code.startswith(pokok), signed), else_=0)),
            func.sum(case((Account.code.startswith(wajib), signed), else_=0)),
        )
        .join(Account, Account.owner_id == Member.id)
        .join(Posting, Posting.account_id == Account.id)
        .where(
            or_(Account.code.startswith(pokok), Account.code.startswith(wajib)),
            Posting.entry_date <= as_of,
        )
        .group_by(Member.group_code)
    ).all()
    return {code: (int(p or 0), int(w or 0)) for code, p, w in rows}


# --------------------------------------------------------------------------- officers, RAT


@dataclass(frozen=True)
class OfficerRow:
    body: str
    function: str
    name: str
    term_start: dt.date
    term_end: dt.date


def officers(on: dt.date) -> list[OfficerRow]:
    from members.officers.queries import current_officers

    return [
        OfficerRow(o.body.value, o.function.value, o.holder_name, o.term_start, o.term_end)
        for o in current_officers(on)
    ]


def rat_date(year: int) -> dt.date | None:
    """The date of the RAT that takes the accounts of ``year`` (a governance meeting of kind
    ``rat`` for that fiscal year, not cancelled), in Jakarta time."""
    from governance.models import Meeting, MeetingKind, MeetingStatus
    from kmp.timeutil import JAKARTA

    starts = db.session.scalar(
        select(Meeting.starts_at)
        .where(
            Meeting.kind == MeetingKind.RAT,
            Meeting.fiscal_year == year,
            Meeting.status != MeetingStatus.CANCELLED,
        )
        .order_by(Meeting.starts_at.desc())
        .limit(1)
    )
    return starts.astimezone(JAKARTA).date() if starts else None


# --------------------------------------------------------------------------- protection


@dataclass(frozen=True)
class ProtectionRow:
    programme: str
    label: str
    participants_december: int
    billed_idr: int
    collected_idr: int
    subsidy_idr: int
    remitted_idr: int
    trust_balance_idr: int  # the programme's trust liability at 31 December (ledger)


def protection_figures(year: int) -> list[ProtectionRow]:
    """Per BPJS programme over the year's twelve monthly reports; empty when nobody was
    enrolled and no trust money is held."""
    from kmp.ledger.services import get_account
    from members.protection.rates import LABELS, PROGRAMMES, TRUST_ACCOUNTS
    from members.protection.reports import month_report

    sums: dict[str, list[int]] = {p: [0, 0, 0, 0, 0] for p in PROGRAMMES}
    for month in range(1, 13):
        for row in month_report(dt.date(year, month, 1)):
            s = sums[row.programme]
            if month == 12:
                s[0] += row.participants
            s[1] += row.billed_idr
            s[2] += row.collected_idr
            s[3] += row.subsidy_idr
            s[4] += row.remitted_idr
    out = []
    for programme in PROGRAMMES:
        try:
            trust = natural_balance(get_account(TRUST_ACCOUNTS[programme]), dt.date(year, 12, 31))
        except Exception:  # noqa: BLE001 - the programme's account is not installed
            trust = 0
        s = sums[programme]
        if any(s) or trust:
            out.append(ProtectionRow(programme, LABELS[programme], *s, trust))
    return out


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingFigures:
    fund: object  # members.training.fund.FundSummary
    programmes: list  # members.training.reports.ProgrammeRow
    groups: list  # members.training.reports.GroupRow (trained / certified per group)
    officers: list  # members.training.reports.OfficeRow

    @property
    def empty(self) -> bool:
        f = self.fund
        return not (
            self.programmes
            or f.opening_idr
            or f.received_idr
            or f.spent_idr
            or f.closing_idr
            or any(g.certified or g.completed for g in self.groups)
        )

    @property
    def participants(self) -> int:
        return sum(p.seated for p in self.programmes)

    @property
    def completed(self) -> int:
        return sum(p.completed for p in self.programmes)

    @property
    def certified_members(self) -> int:
        return sum(g.certified for g in self.groups)

    @property
    def certified_officers(self) -> int:
        return sum(o.competent for o in self.officers)

    @property
    def officers_total(self) -> int:
        return sum(o.holders for o in self.officers)


def training_figures(year: int) -> TrainingFigures:
    from members.training.fund import education_fund_summary
    from members.training.reports import members_per_group, officers_per_role, programmes_run

    end = dt.date(year, 12, 31)
    return TrainingFigures(
        education_fund_summary(year),
        programmes_run(year),
        members_per_group(end),
        officers_per_role(end),
    )


# --------------------------------------------------------------------------- loans (gap)


def loan_tables_present() -> bool:
    """Whether a loans feature has registered its tables (loans are built elsewhere; this
    package never imports it). Until then the book has no loan section."""
    return "loans" in db.metadata.tables


def loan_figures(year: int) -> tuple[int, int]:
    """(loans on record, loan receivables in the ledger at 31 December)."""
    table = db.metadata.tables["loans"]
    count = db.session.scalar(select(func.count()).select_from(table)) or 0
    total = db.session.scalar(
        select(func.coalesce(func.sum(Posting.amount_idr), 0))
        .join(Account, Account.id == Posting.account_id)
        .where(Account.code.like("asset:%loan%"), Posting.entry_date <= dt.date(year, 12, 31))
    )
    return int(count), int(total or 0)
