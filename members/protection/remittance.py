"""Remitting to BPJS: the month's trust per programme, the collective file, recording the
transfer, the BPJS due date and the reminders to the bendahara.

* **Trust of a month** (``trust_summary``): for a programme and month, *collected* = the money
  the allocator applied to that month's contribution obligations (every channel, reversed
  payments excluded) + the social fund's subsidies posted for them; *remitted* = the recorded
  remittances; the balance is what the cooperative still holds for BPJS. Summed over the
  months it equals the programme's trust account in the ledger.
* **The file** (``remittance_rows``): one row per participant whose contribution of that
  month was collected in full and is not yet remitted (JKN: one row per person — the member
  and each family member covered that month), columns ``NIK, NOMOR_PESERTA, NAMA, PERIODE,
  PENGHASILAN, IURAN`` (CSV or XLSX). Its total equals the month's trust balance (a payment
  still partial stays in the trust until completed, and goes in a later batch).
* **Recording** (``record_remittance``): the transfer reference and date; one entry
  ``Dr liability:bpjs-deposits:<p> / Cr asset:bank``; the contributions are marked with the
  remittance (a later batch of the same month takes only what was collected since).
* **Due date**: the ``KMP_BPJS_REMITTANCE_DAY`` (default 15) of the month after; reminders to
  every bendahara ``KMP_BPJS_REMINDER_DAYS`` (default 7,3,1) days before it and when overdue.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import and_, func, select, update

from kmp.errors import Conflict, DomainError
from kmp.exports import write_csv, write_xlsx
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.chart import BANK
from kmp.ledger.services import post_entry
from kmp.money import allocate_list, format_rupiah
from kmp.timeutil import add_months, business_date, month_key
from members.protection.billing import sync_subsidies
from members.protection.models import (
    BpjsRemittance,
    Contribution,
    FamilyMember,
    ProtectionEnrolment,
)
from members.protection.rates import KINDS, PROGRAMMES, SHORT, TRUST_ACCOUNTS, month_start
from members.register.models import Member
from members.savings.models import Obligation, ObligationPayment

HEADERS = ("NIK", "NOMOR_PESERTA", "NAMA", "PERIODE", "PENGHASILAN", "IURAN")
DEFAULT_DUE_DAY = 15
DEFAULT_REMINDER_DAYS = (7, 3, 1)


def _setting(name: str, default):
    return current_app.config.get(name, default) if has_app_context() else default


def due_day() -> int:
    return max(1, min(28, int(_setting("KMP_BPJS_REMITTANCE_DAY", DEFAULT_DUE_DAY))))


def due_date(period: dt.date) -> dt.date:
    """When BPJS must have the month's contributions: the due day of the next month."""
    return add_months(month_start(period), 1).replace(day=due_day())


def reminder_days() -> tuple[int, ...]:
    raw = _setting("KMP_BPJS_REMINDER_DAYS", DEFAULT_REMINDER_DAYS)
    if isinstance(raw, str):
        raw = [p for p in raw.replace(" ", "").split(",") if p]
    return tuple(sorted({int(d) for d in raw if 0 <= int(d) <= 31}, reverse=True))


# --------------------------------------------------------------------------- trust


@dataclass(frozen=True)
class TrustLine:
    programme: str
    period: dt.date
    collected_idr: int
    subsidy_idr: int
    remitted_idr: int
    remittable_idr: int
    remittable_count: int
    partial_idr: int

    @property
    def balance_idr(self) -> int:
        return self.collected_idr - self.remitted_idr

    @property
    def due_date(self) -> dt.date:
        return due_date(self.period)


def collected_idr(programme: str, period: dt.date) -> tuple[int, int]:
    """(money applied to the month's obligations of ``programme``, subsidies posted)."""
    o, p = Obligation, ObligationPayment
    paid = db.session.scalar(
        select(func.coalesce(func.sum(p.amount_idr), 0))
        .join(o, o.id == p.obligation_id)
        .where(o.kind == KINDS[programme], o.period == period, p.reversed_at.is_(None))
    )
    subsidy = db.session.scalar(
        select(func.coalesce(func.sum(Contribution.subsidy_idr), 0)).where(
            Contribution.programme == programme,
            Contribution.period == period,
            Contribution.subsidy_state == "posted",
        )
    )
    return int(paid or 0), int(subsidy or 0)


def remitted_idr(programme: str, period: dt.date) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(BpjsRemittance.total_idr), 0)).where(
                BpjsRemittance.programme == programme, BpjsRemittance.period == period
            )
        )
        or 0
    )


def _remittable(programme: str, period: dt.date):
    """Contributions of the month collected in full (subsidy posted) and not yet remitted."""
    c, o = Contribution, Obligation
    return (
        select(c)
        .join(
            o,
            and_(
                o.member_id == c.member_id,
                o.kind == KINDS[programme],
                o.period == c.period,
                o.ref == "",
            ),
        )
        .where(
            c.programme == programme,
            c.period == period,
            c.remittance_id.is_(None),
            o.is_open.is_(False),
            o.closed_reason.is_(None),
            c.subsidy_state.in_(("none", "posted")),
        )
    )


def trust_line(programme: str, period: dt.date) -> TrustLine:
    period = month_start(period)
    paid, subsidy = collected_idr(programme, period)
    sub = _remittable(programme, period).subquery()
    count, total = db.session.execute(
        select(func.count(), func.coalesce(func.sum(sub.c.full_idr), 0))
    ).one()
    remitted = remitted_idr(programme, period)
    balance = paid + subsidy - remitted
    return TrustLine(
        programme,
        period,
        paid + subsidy,
        subsidy,
        remitted,
        int(total or 0),
        int(count),
        balance - int(total or 0),
    )


def trust_summary(period: dt.date) -> list[TrustLine]:
    return [trust_line(p, period) for p in PROGRAMMES]


# --------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class FileRow:
    nik: str
    participant_no: str
    name: str
    period: str
    income_idr: int | str
    amount_idr: int
    contribution_id: int


def remittance_rows(programme: str, period: dt.date) -> Iterator[FileRow]:
    """The file's rows (see the module doc), member by member, chunked reads."""
    period = month_start(period)
    key = month_key(period)
    base = _remittable(programme, period).order_by(Contribution.member_id)
    offset_id = 0
    while True:
        chunk = list(db.session.scalars(base.where(Contribution.id > offset_id).limit(2000)))
        if not chunk:
            return
        offset_id = max(row.id for row in chunk)
        chunk.sort(key=lambda r: r.member_id)
        members = {
            m.id: m
            for m in db.session.scalars(
                select(Member).where(Member.id.in_([r.member_id for r in chunk]))
            )
        }
        enrolments = {
            e.id: e
            for e in db.session.scalars(
                select(ProtectionEnrolment).where(
                    ProtectionEnrolment.id.in_([r.enrolment_id for r in chunk])
                )
            )
        }
        family: dict[int, list[FamilyMember]] = {}
        if programme == "jkn":
            for person in db.session.scalars(
                select(FamilyMember)
                .where(
                    FamilyMember.enrolment_id.in_([r.enrolment_id for r in chunk]),
                    FamilyMember.from_period <= period,
                    (FamilyMember.until_period.is_(None)) | (FamilyMember.until_period > period),
                )
                .order_by(FamilyMember.id)
            ):
                family.setdefault(person.enrolment_id, []).append(person)
        for row in chunk:
            member, enrolment = members[row.member_id], enrolments[row.enrolment_id]
            if programme != "jkn":
                yield FileRow(
                    member.nik or "",
                    enrolment.kpj_number or "",
                    member.full_name,
                    key,
                    row.base_idr,
                    row.full_idr,
                    row.id,
                )
                continue
            people = [(member.nik or "", enrolment.jkn_number or "", member.full_name)]
            people += [
                (p.nik, p.jkn_number or "", p.full_name) for p in family.get(row.enrolment_id, [])
            ]
            if len(people) != row.persons:  # family changed oddly: the member's row carries it
                people = people[:1]
            shares = allocate_list(row.full_idr, [1] * len(people))
            for (nik, number, name), share in zip(people, shares, strict=True):
                yield FileRow(nik, number, name, key, "", share, row.id)


def file_cells(rows: Iterator[FileRow]):
    for row in rows:
        yield (row.nik, row.participant_no, row.name, row.period, row.income_idr, row.amount_idr)


def write_remittance_file(programme: str, period: dt.date, fileobj, fmt: str = "csv") -> int:
    """Write the file (``csv`` or ``xlsx``) to ``fileobj``; returns its total in Rupiah."""
    totals = {"idr": 0}

    def counted():
        for row in remittance_rows(programme, period):
            totals["idr"] += row.amount_idr
            yield row

    if fmt == "xlsx":
        write_xlsx(
            HEADERS,
            file_cells(counted()),
            fileobj,
            sheet_title=f"{SHORT[programme]} {month_key(period)}",
        )
    elif fmt == "csv":
        write_csv(HEADERS, file_cells(counted()), fileobj)
    else:
        raise DomainError(_("Format berkas harus csv atau xlsx."), field="format")
    return totals["idr"]


def remittance_file(programme: str, period: dt.date, fmt: str = "csv") -> tuple[bytes, int]:
    buffer = io.BytesIO()
    total = write_remittance_file(programme, period, buffer, fmt)
    return buffer.getvalue(), total


# --------------------------------------------------------------------------- recording


def check_programme_period(programme: str, period: dt.date) -> dt.date:
    if programme not in PROGRAMMES:
        raise DomainError(_("Program tidak dikenal."), field="program")
    period = month_start(period)
    if period > month_start(business_date()):
        raise DomainError(_("Bulan yang belum dimulai tidak bisa disetor."), field="month")
    return period


def record_remittance(
    programme: str,
    period: dt.date,
    *,
    transfer_reference: str,
    transferred_on: dt.date,
    expected_total_idr: int | None = None,
    by_user=None,
) -> BpjsRemittance:
    """The bendahara transferred the month's contributions of ``programme`` to BPJS: record
    it (one entry emptying the month's trust into the bank) and mark the contributions.
    ``expected_total_idr``: the total of the file the bendahara sent; if payments arrived
    since, the totals differ and nothing is recorded (download the file again)."""
    period = check_programme_period(programme, period)
    reference = " ".join((transfer_reference or "").split())
    if not reference or len(reference) > 80:
        raise DomainError(
            _("Nomor referensi transfer wajib diisi (maks. 80 karakter)."), field="reference"
        )
    if transferred_on > business_date():
        raise DomainError(_("Tanggal transfer tidak boleh di masa depan."), field="transferred_on")
    sync_subsidies()
    c = Contribution.__table__
    ids_query = _remittable(programme, period).with_only_columns(
        Contribution.id, Contribution.full_idr, Contribution.subsidy_idr
    )
    rows = db.session.execute(ids_query).all()
    total = sum(int(r.full_idr) for r in rows)
    if total <= 0:
        raise Conflict(
            _("Belum ada iuran terkumpul yang bisa disetor untuk bulan ini."), code="nothing"
        )
    if expected_total_idr is not None and expected_total_idr != total:
        raise Conflict(
            _(
                "Total berkas (%(a)s) tidak sama dengan iuran terkumpul sekarang (%(b)s): ada "
                "pembayaran baru. Unduh berkas lagi.",
                a=format_rupiah(expected_total_idr),
                b=format_rupiah(total),
            ),
            code="total_changed",
        )
    batch_no = 1 + int(
        db.session.scalar(
            select(func.coalesce(func.max(BpjsRemittance.batch_no), 0)).where(
                BpjsRemittance.programme == programme, BpjsRemittance.period == period
            )
        )
        or 0
    )
    entry = post_entry(
        idempotency_key=f"bpjs-remittance:{programme}:{month_key(period)}:{batch_no}",
        description=(
            f"Setoran iuran {SHORT[programme]} {month_key(period)} ke BPJS "
            f"(batch {batch_no}, ref. {reference})"
        ),
        lines=[(TRUST_ACCOUNTS[programme], total), (BANK, -total)],
        source_kind="bpjs_remittance",
        source_id=f"{programme}:{month_key(period)}:{batch_no}",
        entry_date=transferred_on,
        posted_by=by_user,
    )
    remittance = BpjsRemittance(
        programme=programme,
        period=period,
        batch_no=batch_no,
        total_idr=total,
        subsidy_idr=sum(int(r.subsidy_idr) for r in rows),
        participants=len(rows),
        transfer_reference=reference,
        transferred_on=transferred_on,
        entry_id=entry.id,
        recorded_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(remittance)
    db.session.flush()
    ids = [int(r.id) for r in rows]
    marked = 0
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        marked += db.session.execute(
            update(c)
            .where(c.c.id.in_(chunk), c.c.remittance_id.is_(None))
            .values(remittance_id=remittance.id)
        ).rowcount
    if marked != len(ids):
        raise Conflict(_("Remitansi lain sedang dicatat untuk bulan ini; coba lagi."), code="race")
    db.session.flush()
    return remittance


def remittances(limit: int = 100) -> list[BpjsRemittance]:
    return list(
        db.session.scalars(
            select(BpjsRemittance)
            .order_by(BpjsRemittance.period.desc(), BpjsRemittance.id.desc())
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- reminders


def queue_remittance_reminders(on_date: dt.date | None = None) -> int:
    """Tell every bendahara which months still hold contributions for BPJS, on the reminder
    days before the due date and every day once it has passed (deduplicated per day)."""
    from kmp.auth import Role, User, UserRole
    from kmp.notify import queue_notification

    on_date = on_date or business_date()
    days = reminder_days()
    due_lines = []
    this_month = month_start(on_date)
    for back in range(0, 4):
        period = add_months(this_month, -back)
        left = (due_date(period) - on_date).days
        if left not in days and left >= 0:
            continue
        for line in trust_summary(period):
            if line.balance_idr > 0:
                due_lines.append((line, left))
    if not due_lines:
        return 0
    treasurers = list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.BENDAHARA, User.is_active_flag.is_(True))
        )
    )
    queued = 0
    for line, left in due_lines:
        when = (
            _("jatuh tempo %(d)s (%(n)s hari lagi)", d=line.due_date.isoformat(), n=left)
            if left >= 0
            else _("LEWAT jatuh tempo %(d)s", d=line.due_date.isoformat())
        )
        body = _(
            "Setoran iuran %(p)s %(m)s ke BPJS: %(a)s masih di dana titipan, %(w)s.",
            p=SHORT[line.programme],
            m=month_key(line.period),
            a=format_rupiah(line.balance_idr),
            w=when,
        )
        for user in treasurers:
            address = user.email or user.phone
            if not address:
                continue
            notification = queue_notification(
                kind="bpjs_remittance_due",
                address=address,
                subject=_("Setoran BPJS"),
                body=body,
                user_id=user.id,
                dedupe_key=(
                    f"bpjs-remit:{line.programme}:{month_key(line.period)}:"
                    f"{on_date.isoformat()}:{user.id}"
                ),
            )
            queued += notification is not None
    return queued
