"""The monthly contributions, set-based, and the social-fund subsidy.

``bill_month(month)`` is the combined monthly bill: ``members.savings.billing.bill_wajib``
(simpanan wajib) and ``bill_contributions`` — each programme's contributions of every
enrolled member, two statements per programme, whatever the number of members:

1. ``INSERT INTO protection_contributions ... SELECT`` from the confirmed enrolments and the
   terms in force that month (the latest ``EnrolmentTerms`` on or before it), computing the
   full contribution with the rates in force (``members.protection.rates``, embedded as
   literals like ``bill_wajib`` embeds the AD amounts) and the subsidy of the member's group;
2. ``INSERT INTO obligations ... SELECT`` from this run's contribution rows: kind
   ``bpjs_<programme>`` / ``jkn``, amount = full - subsidy, ``account_code`` = the programme's
   trust liability.

Both use ``ON CONFLICT DO NOTHING`` on their unique keys: a second run creates nothing.
Billing writes no ledger entry (contributions are booked when the money arrives, by the
allocator, straight into the trust liability).

**Subsidy (dana sosial).** Design choice: the member's obligation is *reduced* by the
subsidised part (the bill shows "subsidi dana sosial"), and the fund's money moves into the
programme's trust only once the member's own part is paid: ``sync_subsidies()`` posts one
entry ``Dr liability:shu-fund:sosial / Cr liability:bpjs-deposits:<p>`` for every settled,
subsidised contribution not yet posted (and gives back a posted subsidy whose obligation was
reopened by a reversed payment, before it is remitted). So the trust of a month always holds
exactly full contributions of the members who paid, the remittance file (full amounts of
those members) equals it, and a subsidy is never spent for a member who did not pay. A month
is billed with the subsidy only if the fund (less subsidies still pending) can carry it;
otherwise it is billed without (``BillingResult.notes``). The sync runs before every
remittance and daily.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from kmp.db import Rupiah, UTCDateTime
from kmp.extensions import db
from kmp.ledger.chart import SHU_FUNDS
from kmp.ledger.services import get_account, post_entry
from kmp.money import format_rupiah
from kmp.timeutil import month_key, now_utc
from members.protection.models import Contribution, EnrolmentTerms, ProtectionEnrolment, SubsidyRule
from members.protection.rates import (
    BP,
    JKN_CLASSES,
    KINDS,
    PRIORITIES,
    PROGRAMMES,
    SHORT,
    TRUST_ACCOUNTS,
    RateError,
    RateSpec,
    month_start,
    rates_in_force,
)
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.models import Obligation

SOCIAL_FUND = SHU_FUNDS["dana_sosial"]
BILLED_ENROLMENT_STATES = ("confirmed", "stopped")


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _insert(table):
    return (postgresql if _is_pg() else sqlite).insert(table)


@dataclass
class BillingResult:
    period: dt.date
    created: dict[str, int] = field(default_factory=dict)
    amount_idr: dict[str, int] = field(default_factory=dict)
    subsidy_idr: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total_created(self) -> int:
        return sum(self.created.values())

    @property
    def total_idr(self) -> int:
        return sum(self.amount_idr.values())


# --------------------------------------------------------------------------- subsidy rules


def subsidy_rules_in_force(month: dt.date) -> dict[str, dict[str, tuple[int, int | None]]]:
    """``{programme: {group_code or '': (share_bp, cap_idr)}}`` in force in ``month``
    (rules with share 0 are left out)."""
    period = month_start(month)
    rows = db.session.scalars(
        select(SubsidyRule)
        .where(SubsidyRule.effective_from <= period)
        .order_by(
            SubsidyRule.programme,
            SubsidyRule.group_code,
            SubsidyRule.effective_from.desc(),
            SubsidyRule.id.desc(),
        )
    )
    latest: dict[tuple[str, str], SubsidyRule] = {}
    for row in rows:
        latest.setdefault((row.programme, row.group_code), row)
    result: dict[str, dict[str, tuple[int, int | None]]] = {}
    for (programme, group), row in latest.items():
        result.setdefault(programme, {})[group] = (row.share_bp, row.cap_idr)
    return result


def subsidy_for(full_idr: int, rule: tuple[int, int | None] | None) -> int:
    """The fund's part of one contribution: the share rounded down, at most the cap."""
    if not rule or rule[0] <= 0:
        return 0
    share, cap = rule
    part = full_idr * share // BP
    return min(part, cap) if cap else part


def _subsidy_expr(full, group_col, rules: dict[str, tuple[int, int | None]] | None):
    """SQL for ``subsidy_for(full, rule of the member's group)``."""
    if not rules:
        return literal(0, BigInteger)

    def one(rule):
        share, cap = rule
        if share <= 0:
            return literal(0, BigInteger)
        part = (full * literal(share, BigInteger)) // literal(BP, BigInteger)
        if cap:
            return case((part > literal(cap, BigInteger), literal(cap, BigInteger)), else_=part)
        return part

    default = rules.get("")
    specific = [(code, rule) for code, rule in rules.items() if code]
    otherwise = one(default) if default else literal(0, BigInteger)
    if not specific:
        return otherwise
    return case(*((group_col == code, one(rule)) for code, rule in specific), else_=otherwise)


# --------------------------------------------------------------------------- billing


def _full_expr(programme: str, t, rates: dict[tuple[str, str], RateSpec]):
    """SQL for the full contribution of ``programme`` from the terms row ``t``."""
    if programme == "jkn":
        per_person = {k: rates.get(("jkn", k)) for k in JKN_CLASSES}
        missing = [k for k, rate in per_person.items() if rate is None]
        if missing:
            raise RateError(f"JKN rate missing for class {missing}", code="no_rate")
        amount = case(
            *(
                (t.c.jkn_class == k, literal(int(rate.participant_idr or 0), BigInteger))
                for k, rate in per_person.items()
            ),
            else_=literal(0, BigInteger),
        )
        return amount * (literal(1, BigInteger) + t.c.family_count)
    rate = rates.get((programme, ""))
    if rate is None:
        raise RateError(f"rate missing for {programme}", code="no_rate")
    if rate.method == "percent":
        return (t.c.income_idr * literal(int(rate.rate_bp or 0), BigInteger) + BP // 2) // literal(
            BP, BigInteger
        )
    return literal(int(rate.participant_idr or 0), BigInteger)


def _enrolled_source(programme: str, period: dt.date, enrolment_ids):
    """The (enrolment, member, terms) rows billed for ``programme`` in ``period``."""
    e, m = ProtectionEnrolment.__table__, Member.__table__
    t = EnrolmentTerms.__table__
    t2 = aliased(EnrolmentTerms)
    latest = (
        select(func.max(t2.effective_from))
        .where(t2.enrolment_id == e.c.id, t2.effective_from <= period)
        .scalar_subquery()
    )
    flag = {
        "jkk": t.c.jkk.is_(True),
        "jkm": t.c.jkm.is_(True),
        "jht": t.c.jht.is_(True),
        "jkn": t.c.jkn_class.is_not(None),
    }[programme]
    joined = e.join(m, m.c.id == e.c.member_id).join(
        t, and_(t.c.enrolment_id == e.c.id, t.c.effective_from == latest)
    )
    conditions = [
        e.c.status.in_(BILLED_ENROLMENT_STATES),
        e.c.start_period <= period,
        (e.c.stop_period.is_(None)) | (e.c.stop_period > period),
        m.c.status == MemberStatus.ACTIVE.value,
        flag,
    ]
    if enrolment_ids is not None:
        conditions.append(e.c.id.in_(list(enrolment_ids)))
    return joined, conditions, e, m, t


def _insert_contributions(programme, period, rates, rules, stamp, enrolment_ids) -> None:
    joined, conditions, e, m, t = _enrolled_source(programme, period, enrolment_ids)
    full = _full_expr(programme, t, rates)
    subsidy = _subsidy_expr(full, m.c.group_code, rules.get(programme))
    columns = {
        "member_id": e.c.member_id,
        "enrolment_id": e.c.id,
        "programme": literal(programme, String()),
        "period": literal(period, Date()),
        "group_code": m.c.group_code,
        "base_idr": literal(0, BigInteger) if programme == "jkn" else t.c.income_idr,
        "persons": (literal(1, Integer) + t.c.family_count)
        if programme == "jkn"
        else literal(1, Integer),
        "full_idr": full,
        "subsidy_idr": subsidy,
        "subsidy_state": case((subsidy > 0, literal("pending")), else_=literal("none"))
        if rules.get(programme)
        else literal("none", String()),
        "created_at": literal(stamp, UTCDateTime()),
    }
    source = select(*columns.values()).select_from(joined).where(*conditions)
    stmt = (
        _insert(Contribution.__table__)
        .from_select(list(columns), source)
        .on_conflict_do_nothing(index_elements=["member_id", "programme", "period"])
    )
    db.session.execute(stmt)


def _insert_obligations(programme: str, period: dt.date, stamp: dt.datetime) -> None:
    c = Contribution.__table__
    description = f"Iuran {SHORT[programme]} {month_key(period)}"
    columns = {
        "member_id": c.c.member_id,
        "kind": literal(KINDS[programme], String()),
        "period": literal(period, Date()),
        "due_date": literal(period, Date()),
        "ref": literal("", String()),
        "priority": literal(PRIORITIES[programme], Integer()),
        "account_code": literal(TRUST_ACCOUNTS[programme], String()),
        "description": literal(description, String()),
        "group_code": c.c.group_code,
        "amount_idr": c.c.full_idr - c.c.subsidy_idr,
        "paid_idr": literal(0, Rupiah()),
        "is_open": literal(True, Boolean()),
        "created_at": literal(stamp, UTCDateTime()),
    }
    source = select(*columns.values()).where(
        c.c.programme == programme, c.c.period == period, c.c.created_at == stamp
    )
    stmt = (
        _insert(Obligation.__table__)
        .from_select(list(columns), source)
        .on_conflict_do_nothing(index_elements=["member_id", "kind", "period", "ref"])
    )
    db.session.execute(stmt)


def pending_subsidy_idr() -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Contribution.subsidy_idr), 0)).where(
                Contribution.subsidy_state == "pending"
            )
        )
        or 0
    )


def _check_fund(period: dt.date, stamp: dt.datetime, result: BillingResult) -> None:
    """Bill without subsidy if the social fund cannot carry this run's subsidies."""
    c = Contribution.__table__
    this_run = (c.c.period == period) & (c.c.created_at == stamp)
    wanted = int(
        db.session.scalar(select(func.coalesce(func.sum(c.c.subsidy_idr), 0)).where(this_run)) or 0
    )
    if wanted <= 0:
        return
    fund = get_account(SOCIAL_FUND).natural_balance_idr
    available = fund - (pending_subsidy_idr() - wanted)
    if wanted <= available:
        result.subsidy_idr = wanted
        return
    db.session.execute(
        update(Contribution)
        .where(this_run)
        .values(subsidy_idr=0, subsidy_state="none")
        .execution_options(synchronize_session=False)
    )
    result.notes.append(
        f"Dana sosial ({format_rupiah(max(available, 0))}) tidak cukup untuk subsidi "
        f"{format_rupiah(wanted)}: {month_key(period)} ditagih tanpa subsidi."
    )


def bill_contributions(month: dt.date, *, enrolment_ids=None) -> BillingResult:
    """Every enrolled member's contributions for ``month`` (any day of it): two set-based
    statements per programme (see the module doc); idempotent. ``enrolment_ids`` limits the
    run to some enrolments (a participant confirmed in the middle of the month)."""
    period = month_start(month)
    rates = rates_in_force(period)
    rules = subsidy_rules_in_force(period)
    stamp = now_utc()
    result = BillingResult(period)
    for programme in PROGRAMMES:
        _insert_contributions(programme, period, rates, rules, stamp, enrolment_ids)
    if rules:
        _check_fund(period, stamp, result)
    for programme in PROGRAMMES:
        _insert_obligations(programme, period, stamp)
    c = Contribution.__table__
    rows = db.session.execute(
        select(c.c.programme, func.count(), func.sum(c.c.full_idr - c.c.subsidy_idr))
        .where(c.c.period == period, c.c.created_at == stamp)
        .group_by(c.c.programme)
    )
    for programme, count, amount in rows:
        result.created[programme] = int(count)
        result.amount_idr[programme] = int(amount or 0)
    return result


@dataclass
class MonthBill:
    period: dt.date
    wajib_created: int
    wajib_idr: int
    contributions: BillingResult


def bill_month(month: dt.date) -> MonthBill:
    """The combined monthly bill: simpanan wajib, then every contribution (idempotent)."""
    from members.savings.billing import bill_wajib

    wajib = bill_wajib(month)
    contributions = bill_contributions(month)
    return MonthBill(wajib.period, wajib.created, wajib.amount_idr, contributions)


# --------------------------------------------------------------------------- subsidy sync


@dataclass
class SyncResult:
    posted_idr: int = 0
    returned_idr: int = 0
    entry_ids: list[int] = field(default_factory=list)


def _settled(programme: str, c):
    """Correlated EXISTS: the contribution's obligation is paid in full."""
    o = Obligation.__table__
    return exists().where(
        o.c.member_id == c.c.member_id,
        o.c.kind == KINDS[programme],
        o.c.period == c.c.period,
        o.c.ref == "",
        o.c.is_open.is_(False),
        o.c.closed_reason.is_(None),
    )


def _move(token: str, *, posting: bool) -> tuple[int, int | None]:
    """Post (or give back) the subsidies claimed with ``token``; returns (total, entry id)."""
    c = Contribution.__table__
    sums = dict(
        db.session.execute(
            select(c.c.programme, func.sum(c.c.subsidy_idr))
            .where(c.c.subsidy_state == token)
            .group_by(c.c.programme)
        ).all()
    )
    total = sum(int(v or 0) for v in sums.values())
    if total <= 0:
        return 0, None
    sign = 1 if posting else -1
    lines = [(SOCIAL_FUND, sign * total)]
    lines += [(TRUST_ACCOUNTS[p], -sign * int(v)) for p, v in sorted(sums.items()) if v]
    what = (
        "Subsidi iuran BPJS dari dana sosial" if posting else "Subsidi BPJS kembali ke dana sosial"
    )
    entry = post_entry(
        idempotency_key=f"bpjs-subsidy:{token}",
        description=f"{what} ({format_rupiah(total)})",
        lines=lines,
        source_kind="bpjs_subsidy",
        source_id=token,
    )
    return total, entry.id


def sync_subsidies() -> SyncResult:
    """Move the social fund's part into the trust for every subsidised contribution whose
    member part is now paid, and back for one reopened before its remittance (set-based:
    rows are claimed with a token, summed per programme, posted in one entry)."""
    result = SyncResult()
    c = Contribution.__table__
    token = f"post:{secrets.token_hex(8)}"
    for programme in PROGRAMMES:
        db.session.execute(
            update(c)
            .where(
                c.c.programme == programme,
                c.c.subsidy_state == "pending",
                _settled(programme, c),
            )
            .values(subsidy_state=token)
        )
    result.posted_idr, entry_id = _move(token, posting=True)
    db.session.execute(
        update(c)
        .where(c.c.subsidy_state == token)
        .values(subsidy_state="posted", subsidy_entry_id=entry_id)
    )
    if entry_id:
        result.entry_ids.append(entry_id)
    token = f"back:{secrets.token_hex(8)}"
    for programme in PROGRAMMES:
        db.session.execute(
            update(c)
            .where(
                c.c.programme == programme,
                c.c.subsidy_state == "posted",
                c.c.remittance_id.is_(None),
                ~_settled(programme, c),
            )
            .values(subsidy_state=token)
        )
    result.returned_idr, entry_id = _move(token, posting=False)
    db.session.execute(
        update(c)
        .where(c.c.subsidy_state == token)
        .values(subsidy_state="pending", subsidy_entry_id=None)
    )
    if entry_id:
        result.entry_ids.append(entry_id)
    db.session.flush()
    return result


def add_subsidy_rule(
    programme: str,
    *,
    share_bp: int,
    effective_from: dt.date,
    basis: str,
    group_code: str = "",
    cap_idr: int | None = None,
    by_user=None,
) -> SubsidyRule:
    """A new version of a subsidy rule (the pengurus), naming the AD article or meeting
    decision that allows it; share 0 ends the subsidy from that month."""
    from kmp.i18n import gettext as _
    from members.ad.services import current_ad
    from members.protection.rates import check_effective

    if programme not in PROGRAMMES:
        raise RateError(_("Program tidak dikenal."), field="programme")
    if group_code and current_ad().get_group(group_code) is None:
        raise RateError(_("Kelompok anggota tidak dikenal."), field="group_code")
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 0 <= share_bp < BP:
        raise RateError(_("Bagian subsidi antara 0 dan kurang dari 100 persen."), field="share_bp")
    if cap_idr is not None and cap_idr <= 0:
        raise RateError(_("Batas subsidi harus lebih dari Rp 0."), field="cap_idr")
    basis = " ".join((basis or "").split())
    if not basis:
        raise RateError(
            _("Sebutkan dasarnya (pasal AD atau keputusan rapat anggota)."), field="basis"
        )
    check_effective(effective_from, programme)
    row = SubsidyRule(
        programme=programme,
        group_code=group_code,
        share_bp=share_bp,
        cap_idr=cap_idr,
        effective_from=effective_from,
        basis=basis[:300],
        created_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(row)
    db.session.flush()
    return row
