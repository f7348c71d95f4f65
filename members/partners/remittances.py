"""Check-off remittances from platform companies and patronage batches: validated,
idempotent, one ledger entry per remittance."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import PARTNER_PAYABLE
from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account, post_entry
from kmp.money import format_rupiah
from kmp.timeutil import business_date
from members.ad.services import current_ad
from members.partners.links import worker_map
from members.partners.models import (
    LineStatus,
    PatronageBatch,
    Remittance,
    RemittanceLine,
    WorkerLink,
)
from members.partners.webhooks import queue_webhook
from members.register import admission as register_admission
from members.register.models import Member, SavingsPurpose
from members.register.states import MemberStatus
from members.savings import deposits as savings_deposits
from members.savings.allocator import allocate, remittance_purposes

REMITTANCE_CLEARING = "asset:partner-remittance-clearing"


MAX_REMITTANCE_LINES = 10_000  # members.partners.validation has the same bound


def install_partner_accounts() -> None:
    open_account(REMITTANCE_CLEARING, "Kliring remitansi mitra platform", AccountType.ASSET)


@dataclass(frozen=True)
class RemittanceLineIn:
    platform_worker_id: str
    purpose: str
    amount_idr: int


def _fingerprint(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def find_remittance(company_id: int, remittance_ref: str) -> Remittance | None:
    return db.session.scalar(
        select(Remittance).where(
            Remittance.company_id == company_id, Remittance.remittance_ref == remittance_ref
        )
    )


def get_remittance(company_id: int | None, remittance_id: int) -> Remittance:
    if not 0 < remittance_id < 2**31:  # an id column is a 32-bit integer
        raise NotFound(gettext("Remitansi tidak ditemukan."))
    remittance = db.session.get(Remittance, remittance_id)
    if remittance is None or (company_id is not None and remittance.company_id != company_id):
        raise NotFound(gettext("Remitansi tidak ditemukan."))
    return remittance


def _reject_reason(company_id: int, worker_id: str) -> tuple[str, str]:
    ever = db.session.scalar(
        select(WorkerLink.id).where(
            WorkerLink.company_id == company_id, WorkerLink.platform_worker_id == worker_id
        )
    )
    if ever is not None:
        return "no_consent", gettext(
            "Pengemudi ini sudah mencabut persetujuan tautan dengan perusahaan."
        )
    return (
        "unknown_worker",
        gettext(
            "ID mitra tidak dikenal: pengemudi belum menautkan keanggotaannya ke perusahaan Anda."
        ),
    )


def submit_remittance(
    company: Member,
    *,
    remittance_ref: str,
    total_idr: int,
    lines: list[RemittanceLineIn],
    paid_on: dt.date | None = None,
    source: str = "api",
    api_key_id: int | None = None,
    by_user=None,
) -> tuple[Remittance, bool]:
    """Check-off remittance: accepted lines credit each worker's savings, rejected lines become
    a payable to the partner, all in ONE ledger entry. Returns ``(remittance, replayed)``: the
    same ``remittance_ref`` with the same content returns the stored result."""
    remittance_ref = (remittance_ref or "").strip()
    if not remittance_ref or len(remittance_ref) > 80:
        raise DomainError(
            gettext("ID remitansi wajib diisi (maks. 80 karakter)."),
            code="invalid",
            field="remittance_id",
        )
    paid_on = paid_on or business_date()
    fingerprint = _fingerprint(
        {
            "total": total_idr,
            "paid_on": paid_on.isoformat(),
            "lines": [(ln.platform_worker_id, ln.purpose, ln.amount_idr) for ln in lines],
        }
    )
    existing = find_remittance(company.id, remittance_ref)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise Conflict(
                gettext("ID remitansi ini sudah dipakai untuk remitansi dengan isi berbeda."),
                code="remittance_id_reused",
                field="remittance_id",
            )
        return existing, True
    if company.status != MemberStatus.ACTIVE:
        raise Forbidden(
            gettext("Perusahaan belum menjadi anggota aktif."), code="company_not_active"
        )
    if not lines:
        raise DomainError(
            gettext("Remitansi harus punya minimal satu baris."), code="invalid", field="lines"
        )
    if len(lines) > MAX_REMITTANCE_LINES:
        raise DomainError(
            gettext("Terlalu banyak baris (maks. 10.000)."), code="invalid", field="lines"
        )
    for line in lines:
        if isinstance(line.amount_idr, bool) or not isinstance(line.amount_idr, int):
            raise DomainError(
                gettext("Jumlah harus bilangan bulat."), code="invalid", field="lines"
            )
        if line.amount_idr <= 0:
            raise DomainError(
                gettext("Setiap jumlah harus lebih dari Rp 0."), code="invalid", field="lines"
            )
        if line.purpose not in remittance_purposes():
            raise DomainError(
                gettext("Jenis simpanan tidak dikenal."), code="invalid", field="lines"
            )
    line_sum = sum(ln.amount_idr for ln in lines)
    if line_sum != total_idr:
        raise DomainError(
            _(
                "Total (%(total)s) tidak sama dengan jumlah baris (%(lines)s).",
                total=format_rupiah(total_idr),
                lines=format_rupiah(line_sum),
            ),
            code="total_mismatch",
            field="total_idr",
        )
    if paid_on > business_date():
        raise DomainError(
            gettext("Tanggal bayar tidak boleh di masa depan."), code="future_date", field="paid_on"
        )
    ad = current_ad()
    if paid_on < business_date() - dt.timedelta(days=ad.backdate_days):
        raise DomainError(
            gettext(
                "Tanggal bayar paling lama %(d)s hari ke belakang (aturan AD).", d=ad.backdate_days
            ),
            code="too_old",
            field="paid_on",
        )
    install_partner_accounts()
    links = worker_map(company.id, [ln.platform_worker_id for ln in lines])
    members = {
        m.id: m
        for m in db.session.scalars(select(Member).where(Member.id.in_(set(links.values()))))
    }
    month_limit = ad.max_remittance_per_worker_month_idr
    month_so_far = _credited_this_month(set(links.values()), paid_on)
    seen: set[tuple[str, str]] = set()
    decided: list[tuple[RemittanceLineIn, str, int | None, str | None, str | None]] = []
    credits: list[tuple[str, int]] = []
    ref_key = hashlib.sha256(remittance_ref.encode()).hexdigest()[:20]
    for number, line in enumerate(lines, start=1):
        worker_id = line.platform_worker_id.strip().upper()
        member_id = links.get(worker_id)
        code = reason = None
        if member_id is None:
            code, reason = _reject_reason(company.id, worker_id)
        elif (worker_id, line.purpose) in seen:
            code, reason = (
                "duplicate_line",
                gettext("Baris ganda untuk pengemudi dan jenis simpanan ini."),
            )
        elif month_so_far.get(member_id, 0) + line.amount_idr > month_limit:
            code = "implausible_amount"
            reason = gettext(
                "Melebihi batas wajar %(limit)s per pengemudi per bulan (aturan AD).",
                limit=format_rupiah(month_limit),
            )
        else:
            try:
                with db.session.begin_nested():
                    credits.extend(
                        _allocate_line(
                            members[member_id],
                            line,
                            paid_on,
                            f"remittance:{company.id}:{ref_key}:{number}",
                        )
                    )
            except DomainError as error:
                code, reason = error.code, error.message
            else:
                month_so_far[member_id] = month_so_far.get(member_id, 0) + line.amount_idr
        seen.add((worker_id, line.purpose))
        status = LineStatus.REJECTED if code else LineStatus.ACCEPTED
        decided.append((line, status, member_id, code, reason))
    accepted = sum(a for _, a in credits)
    rejected = total_idr - accepted
    ledger_lines: list[tuple[str, int]] = [(REMITTANCE_CLEARING, total_idr)]
    ledger_lines += [(acct, -amount) for acct, amount in credits]
    if rejected:
        ledger_lines.append((PARTNER_PAYABLE, -rejected))
    entry = post_entry(
        idempotency_key=f"remittance:{company.id}:{remittance_ref}",
        description=f"Remitansi {remittance_ref} dari {company.display_name}: diterima "
        f"{format_rupiah(accepted)}, ditolak {format_rupiah(rejected)}",
        lines=ledger_lines,
        source_kind="remittance",
        source_id=f"{company.id}:{remittance_ref}",
        entry_date=paid_on,
        posted_by=by_user,
    )
    remittance = Remittance(
        company_id=company.id,
        remittance_ref=remittance_ref,
        fingerprint=fingerprint,
        source=source,
        paid_on=paid_on,
        total_idr=total_idr,
        accepted_idr=accepted,
        rejected_idr=rejected,
        entry_id=entry.id,
        api_key_id=api_key_id,
        created_by_id=user_id_of(by_user),
    )
    db.session.add(remittance)
    db.session.flush()
    for number, (line, status, member_id, code, reason) in enumerate(decided, start=1):
        db.session.add(
            RemittanceLine(
                remittance_id=remittance.id,
                line_no=number,
                platform_worker_id=line.platform_worker_id.strip().upper(),
                purpose=line.purpose,
                amount_idr=line.amount_idr,
                member_id=member_id if status == LineStatus.ACCEPTED else None,
                status=status,
                reason_code=code,
                reason=reason,
            )
        )
    db.session.flush()
    for line, status, member_id, _code, _reason in decided:
        if status == LineStatus.ACCEPTED and line.purpose == SavingsPurpose.POKOK:
            register_admission.activate_if_ready(members[member_id], by_user)
    queue_webhook(
        company.id,
        "remittance.processed",
        {
            "id": remittance.id,
            "remittance_id": remittance_ref,
            "paid_on": paid_on.isoformat(),
            "total_idr": total_idr,
            "accepted_idr": accepted,
            "rejected_idr": rejected,
        },
    )
    db.session.flush()
    return remittance, False


def _credited_this_month(member_ids: set[int], paid_on: dt.date) -> dict[int, int]:
    """``{member_id: accepted check-off Rupiah}`` in ``paid_on``'s calendar month."""
    if not member_ids:
        return {}
    first = paid_on.replace(day=1)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    rows = db.session.execute(
        select(RemittanceLine.member_id, func.sum(RemittanceLine.amount_idr))
        .join(Remittance, Remittance.id == RemittanceLine.remittance_id)
        .where(
            RemittanceLine.member_id.in_(member_ids),
            RemittanceLine.status == LineStatus.ACCEPTED,
            Remittance.paid_on >= first,
            Remittance.paid_on < after,
        )
        .group_by(RemittanceLine.member_id)
    )
    return {member_id: int(total or 0) for member_id, total in rows}


def _allocate_line(
    member: Member, line: RemittanceLineIn, paid_on: dt.date, source: str
) -> list[tuple[str, int]]:
    """A check-off line goes through the allocator like any payment (oldest bills first, an
    excess as advance credit or sukarela); returns its credit lines. Refusals reject the line."""
    if line.purpose in {p.value for p in SavingsPurpose} and line.purpose != SavingsPurpose.POKOK:
        savings_deposits.savings_account_code(member, line.purpose)  # member may deposit?
    allocation = allocate(
        member, line.amount_idr, purpose=line.purpose, source=source, paid_on=paid_on
    )
    return allocation.lines


def remittance_result(remittance: Remittance) -> dict:
    return {
        "id": remittance.id,
        "remittance_id": remittance.remittance_ref,
        "paid_on": remittance.paid_on,
        "total_idr": remittance.total_idr,
        "accepted_idr": remittance.accepted_idr,
        "rejected_idr": remittance.rejected_idr,
        "entry_id": remittance.entry_id,
        "created_at": remittance.created_at,
        "lines": [
            {
                "line_no": ln.line_no,
                "platform_worker_id": ln.platform_worker_id,
                "purpose": ln.purpose,
                "amount_idr": ln.amount_idr,
                "status": LineStatus(ln.status).value,
                "reason_code": ln.reason_code,
                "reason": ln.reason,
            }
            for ln in remittance.lines
        ],
    }


def remittances_query(company_id: int | None):
    stmt = select(Remittance)
    if company_id is not None:
        stmt = stmt.where(Remittance.company_id == company_id)
    return stmt


def recent_remittances(company_id: int | None, limit: int = 100) -> list[Remittance]:
    return list(
        db.session.scalars(
            remittances_query(company_id).order_by(Remittance.id.desc()).limit(limit)
        )
    )


def patronage_batch_key(batch_id: str | None, external_ids: list[str]) -> str:
    if batch_id:
        return f"id:{batch_id}"[:80]
    digest = hashlib.sha256("\n".join(sorted(external_ids)).encode()).hexdigest()
    return f"ext:{digest}"


def find_patronage_batch(company_id: int, batch_key: str) -> PatronageBatch | None:
    return db.session.scalar(
        select(PatronageBatch).where(
            PatronageBatch.company_id == company_id, PatronageBatch.batch_key == batch_key
        )
    )


def record_patronage_batch(
    company_id: int,
    batch_key: str,
    fingerprint: str,
    result: dict,
    *,
    api_key_id: int | None,
) -> PatronageBatch:
    batch = PatronageBatch(
        company_id=company_id,
        batch_key=batch_key,
        fingerprint=fingerprint,
        record_count=int(result.get("received", 0)),
        inserted=int(result.get("inserted", 0)),
        result=result,
        api_key_id=api_key_id,
    )
    db.session.add(batch)
    db.session.flush()
    return batch
