"""Worker links: a member links their platform account to a company by consent."""

from __future__ import annotations

from sqlalchemy import select

from kmp.errors import Conflict, DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import now_utc
from members.partners.models import WorkerLink
from members.register import services as register_services
from members.register.models import Member, MemberKind
from members.register.states import MemberStatus
from members.savings import billing as savings_billing

LINKABLE = (MemberStatus.APPLIED, MemberStatus.APPROVED, MemberStatus.ACTIVE)


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
        raise DomainError(
            gettext("Hanya anggota perorangan yang bisa ditautkan."), code="not_individual"
        )
    if MemberStatus(member.status) not in LINKABLE:
        raise DomainError(
            gettext("Keanggotaan Anda tidak aktif, jadi belum bisa ditautkan."),
            code="member_not_active",
        )
    if company.kind != MemberKind.COMPANY or company.status != MemberStatus.ACTIVE:
        raise NotFound(gettext("Perusahaan mitra tidak ditemukan."), field="company_id")
    worker_id = (platform_worker_id or member.platform_worker_id or "").strip().upper()
    if not worker_id:
        raise DomainError(
            gettext("ID mitra (ID pengemudi/kurir) wajib diisi."),
            code="required",
            field="platform_worker_id",
        )
    if len(worker_id) > 60:
        raise DomainError(
            gettext("ID mitra terlalu panjang."), code="invalid", field="platform_worker_id"
        )
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
                gettext("Anda sudah tertaut dengan perusahaan ini."),
                code="already_linked",
                field="company_id",
            )
        raise Conflict(
            gettext("ID mitra ini sudah ditautkan oleh anggota lain. Hubungi pengurus."),
            code="worker_id_taken",
            field="platform_worker_id",
        )
    link = WorkerLink(member_id=member.id, company_id=company.id, platform_worker_id=worker_id)
    db.session.add(link)
    register_services.record_event(
        member, "partner_linked", member.user_id, f"Tertaut ke {company.display_name}"
    )
    db.session.flush()
    return link


def withdraw_link(link: WorkerLink) -> WorkerLink:
    if link.withdrawn_at is None:
        link.withdrawn_at = now_utc()
        register_services.record_event(
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
        raise NotFound(
            gettext("Mitra pengemudi ini tidak tertaut ke perusahaan Anda."), code="not_found"
        )
    return worker_view(link)


def worker_view(link: WorkerLink, arrears_idr: int | None = None) -> dict:
    """One consenting worker as the partner sees them (``arrears_idr``: known already, e.g.
    from ``savings_billing.arrears_idr_of`` for a whole list)."""
    member = link.member
    return {
        "id": link.id,
        "platform_worker_id": link.platform_worker_id,
        "member_no": member.member_no,
        "status": MemberStatus(member.status).value,
        "arrears_idr": savings_billing.arrears_idr(member.id)
        if arrears_idr is None
        else arrears_idr,
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
