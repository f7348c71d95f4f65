"""Platform partner services: API keys, worker links (consent), check-off remittances,
patronage batch bookkeeping and the contributions summaries of the partner portal.

Services flush, never commit: the API view, portal view or CLI command commits once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from kmp import signals
from kmp.api import SCOPES, ApiPrincipal, constant_time_equal, generate_key
from kmp.auth import Role, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, NotFound
from kmp.extensions import db
from kmp.ledger.chart import PARTNER_PAYABLE
from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account, post_entry
from kmp.replica import read_execute
from kmp.timeutil import business_date, now_utc
from members import services
from members.billing import settle_obligations
from members.models import Member, MemberKind, MemberStaff, SavingsPurpose, WajibObligation
from members.partner_models import (
    ApiKey,
    DeliveryStatus,
    LineStatus,
    PartnerWebhook,
    PatronageBatch,
    Remittance,
    RemittanceLine,
    WebhookDelivery,
    WorkerLink,
)
from members.states import MemberStatus

REMITTANCE_CLEARING = "asset:partner-remittance-clearing"
LAST_USED_GRANULARITY = dt.timedelta(seconds=60)
LINKABLE = (MemberStatus.APPLIED, MemberStatus.APPROVED, MemberStatus.ACTIVE)
MAX_REMITTANCE_LINES = 10_000


def install_partner_accounts() -> None:
    open_account(REMITTANCE_CLEARING, "Kliring remitansi mitra platform", AccountType.ASSET)


# =========================================================================== API keys


def resolve_api_key(prefix: str, key_hash: str) -> ApiPrincipal | None:
    """The principal of a presented key (None when unknown, wrong or revoked). Records the
    last-used time (at most once a minute, so busy clients do not write on every call)."""
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not constant_time_equal(key.key_hash, key_hash):
        return None
    now = now_utc()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_GRANULARITY:
        key.last_used_at = now
        db.session.flush()
    return ApiPrincipal(
        key_id=key.id, company_id=key.company_id, scopes=frozenset(key.scope_list), name=key.name
    )


def can_manage_keys(user, company: Member) -> bool:
    """The company's representative (its admin login) or a pengurus."""
    if user.has_role(Role.PENGURUS, Role.BENDAHARA):
        return True
    staff = db.session.scalar(
        select(MemberStaff).where(
            MemberStaff.user_id == user.id, MemberStaff.member_id == company.id
        )
    )
    return bool(staff and (staff.is_representative or company.user_id == user.id))


def create_api_key(company: Member, *, name: str, scopes: list[str], by_user) -> tuple[ApiKey, str]:
    """A new key for ``company``: returns the row and the full key (shown once)."""
    if company.kind != MemberKind.COMPANY:
        raise DomainError("Kunci API hanya untuk anggota perusahaan.", code="not_company")
    if company.status != MemberStatus.ACTIVE:
        raise DomainError(
            "Kunci API baru bisa dibuat setelah perusahaan menjadi anggota aktif.",
            code="company_not_active",
        )
    name = (name or "").strip()
    if not name:
        raise DomainError("Nama kunci wajib diisi.", code="required", field="name")
    if len(name) > 80:
        raise DomainError("Nama kunci terlalu panjang (maks. 80).", code="invalid", field="name")
    chosen = sorted(set(scopes or []))
    if not chosen:
        raise DomainError("Pilih minimal satu izin.", code="required", field="scopes")
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise DomainError("Izin tidak dikenal.", code="invalid", field="scopes")
    full, prefix, key_hash = generate_key()
    key = ApiKey(
        company_id=company.id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        scopes=" ".join(chosen),
        created_by_id=user_id_of(by_user),
    )
    db.session.add(key)
    services.record_event(company, "api_key_created", by_user, f"Kunci API {prefix}: {name}")
    db.session.flush()
    return key, full


def revoke_api_key(key: ApiKey, by_user) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = now_utc()
        key.revoked_by_id = user_id_of(by_user)
        services.record_event(key.company, "api_key_revoked", by_user, f"Kunci API {key.prefix}")
        db.session.flush()
    return key


def company_keys(company: Member) -> list[ApiKey]:
    return list(
        db.session.scalars(
            select(ApiKey).where(ApiKey.company_id == company.id).order_by(ApiKey.id.desc())
        )
    )


# =========================================================================== worker links


def partner_companies(*, active_only: bool = True) -> list[Member]:
    stmt = select(Member).where(Member.kind == MemberKind.COMPANY)
    if active_only:
        stmt = stmt.where(Member.status == MemberStatus.ACTIVE)
    return list(db.session.scalars(stmt.order_by(Member.company_name)))


def links_of_member(member: Member) -> list[WorkerLink]:
    return list(
        db.session.scalars(
            select(WorkerLink)
            .where(WorkerLink.member_id == member.id)
            .order_by(WorkerLink.withdrawn_at.is_not(None), WorkerLink.id.desc())
        )
    )


def link_worker(member: Member, company: Member, platform_worker_id: str | None) -> WorkerLink:
    """The worker consents: the company may see their member number, status and arrears, and
    remit check-off deductions for them. One active link per company."""
    if member.kind != MemberKind.INDIVIDUAL:
        raise DomainError("Hanya anggota perorangan yang bisa ditautkan.", code="not_individual")
    if MemberStatus(member.status) not in LINKABLE:
        raise DomainError(
            "Keanggotaan Anda tidak aktif, jadi belum bisa ditautkan.", code="member_not_active"
        )
    if company.kind != MemberKind.COMPANY or company.status != MemberStatus.ACTIVE:
        raise NotFound("Perusahaan mitra tidak ditemukan.", field="company_id")
    worker_id = (platform_worker_id or member.platform_worker_id or "").strip().upper()
    if not worker_id:
        raise DomainError(
            "ID mitra (ID pengemudi/kurir) wajib diisi.",
            code="required",
            field="platform_worker_id",
        )
    if len(worker_id) > 60:
        raise DomainError("ID mitra terlalu panjang.", code="invalid", field="platform_worker_id")
    active = db.session.scalar(
        select(WorkerLink).where(
            WorkerLink.company_id == company.id,
            WorkerLink.withdrawn_at.is_(None),
            (WorkerLink.member_id == member.id) | (WorkerLink.platform_worker_id == worker_id),
        )
    )
    if active is not None:
        if active.member_id == member.id:
            raise Conflict(
                "Anda sudah tertaut dengan perusahaan ini.",
                code="already_linked",
                field="company_id",
            )
        raise Conflict(
            "ID mitra ini sudah ditautkan oleh anggota lain. Hubungi pengurus.",
            code="worker_id_taken",
            field="platform_worker_id",
        )
    link = WorkerLink(member_id=member.id, company_id=company.id, platform_worker_id=worker_id)
    db.session.add(link)
    services.record_event(
        member, "partner_linked", member.user_id, f"Tertaut ke {company.display_name}"
    )
    db.session.flush()
    return link


def withdraw_link(link: WorkerLink) -> WorkerLink:
    if link.withdrawn_at is None:
        link.withdrawn_at = now_utc()
        services.record_event(
            link.member,
            "partner_unlinked",
            link.member.user_id,
            f"Persetujuan untuk {link.company.display_name} dicabut",
        )
        db.session.flush()
    return link


def active_link(company_id: int, platform_worker_id: str) -> WorkerLink | None:
    return db.session.scalar(
        select(WorkerLink).where(
            WorkerLink.company_id == company_id,
            WorkerLink.platform_worker_id == (platform_worker_id or "").strip().upper(),
            WorkerLink.withdrawn_at.is_(None),
        )
    )


def linked_worker(company_id: int, platform_worker_id: str) -> dict:
    """What a company may see of one linked worker (404 for unknown or other companies')."""
    link = active_link(company_id, platform_worker_id)
    if link is None:
        raise NotFound("Mitra pengemudi ini tidak tertaut ke perusahaan Anda.", code="not_found")
    return worker_view(link)


def worker_view(link: WorkerLink) -> dict:
    member = link.member
    return {
        "id": link.id,
        "platform_worker_id": link.platform_worker_id,
        "member_no": member.member_no,
        "status": MemberStatus(member.status).value,
        "arrears_idr": max(int(services.member_arrears_idr(member)), 0),
        "linked_at": link.consented_at,
    }


def links_query(company_id: int):
    return select(WorkerLink).where(
        WorkerLink.company_id == company_id, WorkerLink.withdrawn_at.is_(None)
    )


def worker_map(company_id: int, worker_ids) -> dict[str, int]:
    """``{platform_worker_id: member_id}`` of the company's consenting workers among ids."""
    wanted = {str(w).strip().upper() for w in worker_ids}
    result: dict[str, int] = {}
    chunk = list(wanted)
    for start in range(0, len(chunk), 900):
        part = chunk[start : start + 900]
        rows = db.session.execute(
            select(WorkerLink.platform_worker_id, WorkerLink.member_id).where(
                WorkerLink.company_id == company_id,
                WorkerLink.withdrawn_at.is_(None),
                WorkerLink.platform_worker_id.in_(part),
            )
        )
        result.update({w: m for w, m in rows})
    return result


# =========================================================================== remittances


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
        raise NotFound("Remitansi tidak ditemukan.")
    remittance = db.session.get(Remittance, remittance_id)
    if remittance is None or (company_id is not None and remittance.company_id != company_id):
        raise NotFound("Remitansi tidak ditemukan.")
    return remittance


def _reject_reason(company_id: int, worker_id: str) -> tuple[str, str]:
    ever = db.session.scalar(
        select(WorkerLink.id).where(
            WorkerLink.company_id == company_id, WorkerLink.platform_worker_id == worker_id
        )
    )
    if ever is not None:
        return "no_consent", "Pengemudi ini sudah mencabut persetujuan tautan dengan perusahaan."
    return (
        "unknown_worker",
        "ID mitra tidak dikenal: pengemudi belum menautkan keanggotaannya ke perusahaan Anda.",
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
            "ID remitansi wajib diisi (maks. 80 karakter).", code="invalid", field="remittance_id"
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
                "ID remitansi ini sudah dipakai untuk remitansi dengan isi berbeda.",
                code="remittance_id_reused",
                field="remittance_id",
            )
        return existing, True
    if company.status != MemberStatus.ACTIVE:
        raise Forbidden("Perusahaan belum menjadi anggota aktif.", code="company_not_active")
    if not lines:
        raise DomainError(
            "Remitansi harus punya minimal satu baris.", code="invalid", field="lines"
        )
    if len(lines) > MAX_REMITTANCE_LINES:
        raise DomainError("Terlalu banyak baris (maks. 10.000).", code="invalid", field="lines")
    for line in lines:
        if isinstance(line.amount_idr, bool) or not isinstance(line.amount_idr, int):
            raise DomainError("Jumlah harus bilangan bulat.", code="invalid", field="lines")
        if line.amount_idr <= 0:
            raise DomainError("Setiap jumlah harus lebih dari Rp 0.", code="invalid", field="lines")
        if line.purpose not in {p.value for p in SavingsPurpose}:
            raise DomainError("Jenis simpanan tidak dikenal.", code="invalid", field="lines")
    line_sum = sum(ln.amount_idr for ln in lines)
    if line_sum != total_idr:
        raise DomainError(
            f"Total (Rp {total_idr:,}) tidak sama dengan jumlah baris (Rp {line_sum:,}).".replace(
                ",", "."
            ),
            code="total_mismatch",
            field="total_idr",
        )
    if paid_on > business_date():
        raise DomainError(
            "Tanggal bayar tidak boleh di masa depan.", code="future_date", field="paid_on"
        )
    install_partner_accounts()
    links = worker_map(company.id, [ln.platform_worker_id for ln in lines])
    members = {
        m.id: m
        for m in db.session.scalars(select(Member).where(Member.id.in_(set(links.values()))))
    }
    seen: set[tuple[str, str]] = set()
    decided: list[tuple[RemittanceLineIn, str, int | None, str | None, str | None]] = []
    credits: list[tuple[str, int]] = []
    for line in lines:
        worker_id = line.platform_worker_id.strip().upper()
        member_id = links.get(worker_id)
        code = reason = None
        if member_id is None:
            code, reason = _reject_reason(company.id, worker_id)
        elif (worker_id, line.purpose) in seen:
            code, reason = "duplicate_line", "Baris ganda untuk pengemudi dan jenis simpanan ini."
        else:
            try:
                credits.extend(
                    services.savings_credit_lines(member_id, line.purpose, line.amount_idr)
                )
            except DomainError as error:
                code, reason = error.code, error.message
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
        description=f"Remitansi {remittance_ref} dari {company.display_name}: diterima Rp "
        f"{accepted:,}, ditolak Rp {rejected:,}".replace(",", "."),
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
        if status != LineStatus.ACCEPTED:
            continue
        if line.purpose == SavingsPurpose.WAJIB:
            _settle_wajib(member_id, line.amount_idr, paid_on, remittance)
        elif line.purpose == SavingsPurpose.POKOK:
            services.activate_if_ready(members[member_id], by_user)
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


def _settle_wajib(member_id: int, amount_idr: int, paid_on: dt.date, remittance) -> None:
    """Settle the member's oldest open wajib obligations with the remitted amount."""
    settle_obligations(member_id, amount_idr, paid_on=paid_on, source=f"remittance:{remittance.id}")


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


# =========================================================================== patronage batches


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


# =========================================================================== summaries


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def company_summary(company: Member) -> dict:
    """Aggregates a partner may always see (no personal data), set-based: a handful of grouped
    queries whatever the number of linked workers or remittance lines. Read through
    ``read_execute``, so a dashboard inside ``replica_reads()`` uses the read replica."""
    linked_ids = select(WorkerLink.member_id).where(
        WorkerLink.company_id == company.id, WorkerLink.withdrawn_at.is_(None)
    )
    linked, active = read_execute(
        select(
            func.count(Member.id),
            func.count(Member.id).filter(Member.status == MemberStatus.ACTIVE),
        ).where(Member.id.in_(linked_ids))
    ).one()
    arrears = read_execute(  # active linked workers with an unpaid month billed
        select(func.count(func.distinct(WajibObligation.member_id)))
        .join(Member, Member.id == WajibObligation.member_id)
        .where(
            WajibObligation.member_id.in_(linked_ids),
            WajibObligation.is_open.is_(True),
            WajibObligation.period <= business_date(),
            Member.status == MemberStatus.ACTIVE,
        )
    ).scalar_one()
    rows = read_execute(
        select(Remittance.paid_on, RemittanceLine.purpose, func.sum(RemittanceLine.amount_idr))
        .join(RemittanceLine, RemittanceLine.remittance_id == Remittance.id)
        .where(
            Remittance.company_id == company.id,
            RemittanceLine.status == LineStatus.ACCEPTED,
        )
        .group_by(Remittance.paid_on, RemittanceLine.purpose)
    )
    by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for paid_on, purpose, amount in rows:
        by_month[_month(paid_on)][str(purpose)] += int(amount)
    totals = read_execute(
        select(
            func.count(Remittance.id),
            func.coalesce(func.sum(Remittance.accepted_idr), 0),
            func.coalesce(func.sum(Remittance.rejected_idr), 0),
        ).where(Remittance.company_id == company.id)
    ).one()
    patronage = signals.ask(
        signals.partner_patronage_requested,
        current_app._get_current_object(),
        company_id=company.id,
    )
    months = sorted(by_month)[-12:]
    return {
        "linked": int(linked),
        "active": int(active),
        "arrears_count": int(arrears),
        "remittance_count": int(totals[0]),
        "accepted_idr": int(totals[1]),
        "rejected_idr": int(totals[2]),
        "wajib_by_month": [(m, int(by_month[m].get("wajib", 0))) for m in months],
        "savings_by_month": [(m, dict(by_month[m])) for m in months],
        "patronage_by_month": patronage,
    }


def consenting_workers(company: Member) -> list[dict]:
    links = db.session.scalars(links_query(company.id).order_by(WorkerLink.id))
    return [worker_view(link) for link in links]


# =========================================================================== webhooks

WEBHOOK_BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=12),
)
WEBHOOK_MAX_ATTEMPTS = len(WEBHOOK_BACKOFF) + 1
WEBHOOK_TIMEOUT_SECONDS = 10


def webhook_of(company_id: int) -> PartnerWebhook | None:
    return db.session.scalar(select(PartnerWebhook).where(PartnerWebhook.company_id == company_id))


def set_webhook(company: Member, url: str, by_user) -> tuple[PartnerWebhook, str]:
    """Point the company's notifications at ``url`` (https only) with a NEW signing secret;
    returns the webhook and the secret (shown once)."""
    url = (url or "").strip()
    if not url.startswith("https://") or len(url) > 500 or any(c.isspace() for c in url):
        raise DomainError(
            "Alamat webhook harus diawali https:// (maks. 500 karakter).",
            code="invalid_url",
            field="url",
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = webhook_of(company.id)
    if hook is None:
        hook = PartnerWebhook(company_id=company.id, url=url, secret=secret)
        db.session.add(hook)
    hook.url, hook.secret, hook.is_active = url, secret, True
    hook.created_by_id = user_id_of(by_user)
    services.record_event(company, "webhook_set", by_user, f"Webhook: {url}")
    db.session.flush()
    return hook, secret


def disable_webhook(company: Member, by_user) -> None:
    hook = webhook_of(company.id)
    if hook is not None and hook.is_active:
        hook.is_active = False
        services.record_event(company, "webhook_disabled", by_user, "Webhook dimatikan")
        db.session.flush()


def queue_webhook(company_id: int, event: str, data: dict) -> WebhookDelivery | None:
    hook = webhook_of(company_id)
    if hook is None or not hook.is_active:
        return None
    delivery = WebhookDelivery(
        webhook_id=hook.id,
        event=event,
        payload=data,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now_utc(),
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def on_member_status_changed(sender, member=None, old=None, new=None, **_extra) -> None:  # noqa: ARG001
    """``kmp.signals.member_status_changed``: tell each company the worker consented to."""
    if member is None:
        return
    for link in db.session.scalars(
        select(WorkerLink).where(
            WorkerLink.member_id == member.id, WorkerLink.withdrawn_at.is_(None)
        )
    ):
        queue_webhook(
            link.company_id,
            "worker.status_changed",
            {
                "platform_worker_id": link.platform_worker_id,
                "member_no": member.member_no,
                "old_status": getattr(old, "value", old),
                "new_status": getattr(new, "value", new),
            },
        )


def sign_webhook(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(
        {
            "id": delivery.id,
            "event": delivery.event,
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def deliver_webhooks(limit: int = 100, *, http=None) -> tuple[int, int]:
    """Send due notifications; returns ``(delivered, failed_attempts)``. A failed attempt is
    retried with backoff (1 min, 5 min, 30 min, 2 h, 12 h), then marked failed."""
    import requests

    http = http or requests
    now = now_utc()
    due = list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
    )
    delivered = failed = 0
    for delivery in due:
        hook = db.session.get(PartnerWebhook, delivery.webhook_id)
        body = webhook_body(delivery)
        delivery.attempts += 1
        error = None
        try:
            response = http.post(
                hook.url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-KMP-Event": delivery.event,
                    "X-KMP-Delivery": str(delivery.id),
                    "X-KMP-Signature": sign_webhook(hook.secret, body),
                },
                timeout=WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
            delivery.last_status_code = response.status_code
            if 200 <= response.status_code < 300:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now_utc()
                delivery.next_attempt_at = None
                delivery.last_error = None
                delivered += 1
                continue
            error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        failed += 1
        delivery.last_error = error
        if delivery.attempts >= WEBHOOK_MAX_ATTEMPTS or not hook.is_active:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now_utc() + WEBHOOK_BACKOFF[delivery.attempts - 1]
    db.session.flush()
    return delivered, failed


def webhook_log(company_id: int, limit: int = 50) -> list[WebhookDelivery]:
    hook = webhook_of(company_id)
    if hook is None:
        return []
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def deliver_webhooks_job() -> None:
    """Scheduled every minute: send due partner notifications."""
    deliver_webhooks()
