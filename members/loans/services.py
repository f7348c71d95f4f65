"""Loan products, applications and the maker-checker decision. Services flush, never commit.

* Products: ``create_product`` drafts a version, ``approve_product`` (another pengurus)
  offers it; the newest approved version of a code replaces the older one.
* Applications: ``quote_loan`` (the schedule, total cost and effective annual rate a member
  sees before submitting), ``apply_for_loan`` (eligibility checks), ``withdraw_loan``.
* Decisions: ``decide_loan`` — up to the product's single-approval limit one pengurus
  approves; above it two, and the pengawas is informed. The applicant and the guarantors
  can never decide; a rejection carries a reason the member reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import func, select

from kmp.auth import Role, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.money import format_rupiah
from kmp.timeutil import business_date, now_utc
from members.loans import policy
from members.loans.models import Loan, LoanDecision, LoanGuarantor, LoanProduct
from members.loans.schedule import Method, Schedule, build_schedule, effective_annual_rate
from members.loans.states import LoanStatus, ProductStatus, move
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.models import Obligation

OPEN_STATUSES = (LoanStatus.APPLIED, LoanStatus.APPROVED, LoanStatus.ACTIVE)

PRODUCT_FIELDS = (
    "name min_principal_idr max_principal_idr min_months max_months annual_rate_bp method "
    "admin_fee_idr provisi_bp penalty_day_bp penalty_cap_bp savings_multiple min_active_months "
    "max_arrears_idr guarantors rebate_pct single_approval_max_idr interest_is_patronage note"
).split()


def _refuse(message: str, field: str | None = None, code: str = "invalid") -> DomainError:
    return DomainError(message, code=code, field=field)


# --------------------------------------------------------------------------- products


def create_product(code: str, values: dict, *, by_user) -> LoanProduct:
    """A new draft version of product ``code`` (the next version number)."""
    code = (code or "").strip().lower()
    if not code or len(code) > 30 or not code.replace("-", "").isalnum():
        raise _refuse(_("Kode produk: huruf, angka atau tanda hubung (maks. 30)."), "code")
    if not (values.get("name") or "").strip():
        raise _refuse(_("Nama produk wajib diisi."), "name")
    if values.get("method") not in {m.value for m in Method}:
        raise _refuse(_("Metode bunga tidak dikenal."), "method")
    if (
        int(values.get("max_principal_idr", 0)) < int(values.get("min_principal_idr", 0))
        or int(values.get("min_principal_idr", 0)) <= 0
    ):
        raise _refuse(_("Rentang pokok pinjaman tidak masuk akal."), "max_principal_idr")
    if (
        int(values.get("max_months", 0)) < int(values.get("min_months", 0))
        or int(values.get("min_months", 0)) <= 0
    ):
        raise _refuse(_("Rentang jangka waktu tidak masuk akal."), "max_months")
    if not 0 <= int(values.get("annual_rate_bp", -1)) <= 10000:
        raise _refuse(_("Bunga per tahun harus antara 0 dan 100 %."), "annual_rate_bp")
    latest = db.session.scalar(
        select(func.max(LoanProduct.version)).where(LoanProduct.code == code)
    )
    product = LoanProduct(
        code=code,
        version=(latest or 0) + 1,
        status=ProductStatus.DRAFT,
        created_by_id=user_id_of(by_user),
        **{k: values[k] for k in PRODUCT_FIELDS if k in values},
    )
    db.session.add(product)
    db.session.flush()
    return product


def approve_product(product: LoanProduct, *, by_user) -> LoanProduct:
    """A pengurus other than the maker approves the draft; older approved versions retire."""
    if product.status is not ProductStatus.DRAFT:
        raise Conflict(_("Versi produk ini sudah diputuskan."), code="product_decided")
    if product.created_by_id == user_id_of(by_user):
        raise Forbidden(
            _("Versi produk harus disetujui pengurus lain, bukan pembuatnya."),
            code="self_approval",
        )
    for older in db.session.scalars(
        select(LoanProduct).where(
            LoanProduct.code == product.code, LoanProduct.status == ProductStatus.APPROVED
        )
    ):
        older.status = ProductStatus.RETIRED
    product.status = ProductStatus.APPROVED
    product.approved_by_id = user_id_of(by_user)
    product.approved_at = now_utc()
    db.session.flush()
    return product


def offered_products() -> list[LoanProduct]:
    return list(
        db.session.scalars(
            select(LoanProduct)
            .where(LoanProduct.status == ProductStatus.APPROVED)
            .order_by(LoanProduct.name)
        )
    )


def get_product(product_id: int) -> LoanProduct:
    product = db.session.get(LoanProduct, product_id) if 0 < product_id < 2**31 else None
    if product is None:
        raise NotFound(_("Produk pinjaman tidak ditemukan."))
    return product


# --------------------------------------------------------------------------- quotes


@dataclass(frozen=True)
class Quote:
    product: LoanProduct
    schedule: Schedule
    admin_fee_idr: int
    provisi_idr: int
    effective_rate: Fraction

    @property
    def fees_idr(self) -> int:
        return self.admin_fee_idr + self.provisi_idr

    @property
    def received_idr(self) -> int:
        return self.schedule.principal_idr - self.fees_idr

    @property
    def total_cost_idr(self) -> int:
        """What the loan costs the member beyond the principal: interest and fees."""
        return self.schedule.interest_idr + self.fees_idr


def provisi_of(product: LoanProduct, principal_idr: int) -> int:
    return principal_idr * product.provisi_bp // 10_000


def quote_loan(
    product: LoanProduct, principal_idr: int, months: int, start: dt.date | None = None
) -> Quote:
    """The schedule and its cost, as the member sees it before applying (refuses amounts
    or tenors outside the product)."""
    if isinstance(principal_idr, bool) or not isinstance(principal_idr, int):
        raise _refuse(_("Jumlah pinjaman harus Rupiah bulat."), "principal")
    if not product.min_principal_idr <= principal_idr <= product.max_principal_idr:
        raise _refuse(
            _(
                "Jumlah pinjaman produk ini antara %(low)s dan %(high)s.",
                low=format_rupiah(product.min_principal_idr),
                high=format_rupiah(product.max_principal_idr),
            ),
            "principal",
            "outside_product",
        )
    if not product.min_months <= months <= product.max_months:
        raise _refuse(
            _(
                "Jangka waktu produk ini %(low)s sampai %(high)s bulan.",
                low=product.min_months,
                high=product.max_months,
            ),
            "months",
            "outside_product",
        )
    schedule = build_schedule(
        principal_idr, product.annual_rate_bp, months, product.method, start or business_date()
    )
    provisi = provisi_of(product, principal_idr)
    fees = product.admin_fee_idr + provisi
    if fees >= principal_idr:
        raise _refuse(_("Biaya melebihi pokok pinjaman."), "principal")
    rate = effective_annual_rate(principal_idr - fees, [r.total_idr for r in schedule.rows])
    return Quote(product, schedule, product.admin_fee_idr, provisi, rate)


# --------------------------------------------------------------------------- eligibility


def own_savings_idr(member: Member) -> int:
    from members.savings.queries import savings_balances

    balances = savings_balances(member)
    return balances["pokok"] + balances["wajib"] + balances["sukarela"]


def overdue_idr(member_id: int, on_date: dt.date, kinds: tuple[str, ...] | None = None) -> int:
    """Open obligations of the member due before ``on_date`` (all kinds, or ``kinds``)."""
    query = select(func.coalesce(func.sum(Obligation.amount_idr - Obligation.paid_idr), 0)).where(
        Obligation.member_id == member_id,
        Obligation.is_open.is_(True),
        Obligation.due_date < on_date,
    )
    if kinds:
        query = query.where(Obligation.kind.in_(kinds))
    return int(db.session.scalar(query) or 0)


def member_loans(member: Member, statuses=None) -> list[Loan]:
    query = select(Loan).where(Loan.member_id == member.id).order_by(Loan.id.desc())
    if statuses:
        query = query.where(Loan.status.in_(list(statuses)))
    return list(db.session.scalars(query))


def _months_between(start: dt.date, end: dt.date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


def check_eligibility(member: Member, product: LoanProduct, principal_idr: int) -> None:
    """Refuse an application the product's (AD) rules do not allow, with the reason."""
    today = business_date()
    if MemberStatus(member.status) is not MemberStatus.ACTIVE or not member.member_no:
        raise _refuse(_("Pinjaman hanya untuk anggota aktif."), code="member_not_active")
    joined = member.joined_date or today
    if _months_between(joined, today) < product.min_active_months:
        raise _refuse(
            _(
                "Produk ini untuk anggota yang sudah aktif minimal %(n)s bulan.",
                n=product.min_active_months,
            ),
            code="too_new",
        )
    late_loan = overdue_idr(member.id, today, policy.KINDS)
    if late_loan > 0:
        raise _refuse(
            _(
                "Masih ada angsuran pinjaman yang menunggak (%(amount)s): lunasi dulu.",
                amount=format_rupiah(late_loan),
            ),
            code="loan_in_arrears",
        )
    arrears = overdue_idr(member.id, today)
    if arrears > product.max_arrears_idr:
        raise _refuse(
            _(
                "Tunggakan Anda %(amount)s melebihi batas %(limit)s untuk mengajukan pinjaman.",
                amount=format_rupiah(arrears),
                limit=format_rupiah(product.max_arrears_idr),
            ),
            code="member_in_arrears",
        )
    if product.savings_multiple:
        savings = own_savings_idr(member)
        limit = savings * product.savings_multiple
        if principal_idr > limit:
            raise _refuse(
                _(
                    "Pinjaman maksimal %(n)s kali simpanan Anda (%(savings)s), yaitu %(limit)s.",
                    n=product.savings_multiple,
                    savings=format_rupiah(savings),
                    limit=format_rupiah(limit),
                ),
                "principal",
                "savings_multiple",
            )
    if member_loans(member, (LoanStatus.APPLIED, LoanStatus.APPROVED)):
        raise Conflict(
            _("Masih ada pengajuan pinjaman yang menunggu keputusan."), code="application_open"
        )


def apply_for_loan(
    member: Member,
    product: LoanProduct,
    *,
    principal_idr: int,
    months: int,
    purpose: str,
    by_user,
    guarantor_nos: tuple[str, ...] = (),
) -> Loan:
    """The member applies: the quote must hold and the product's rules allow it."""
    from members.register.queries import member_by_no

    if product.status is not ProductStatus.APPROVED:
        raise _refuse(_("Produk ini tidak ditawarkan lagi."), "product", "product_not_offered")
    purpose = (purpose or "").strip()
    if not purpose or len(purpose) > 300:
        raise _refuse(_("Tuliskan keperluan pinjaman (maks. 300 karakter)."), "purpose")
    quote = quote_loan(product, principal_idr, months)
    check_eligibility(member, product, principal_idr)
    guarantors: list[Member] = []
    for no in dict.fromkeys(n.strip() for n in guarantor_nos if n and n.strip()):
        guarantor = member_by_no(no)
        if guarantor is None or MemberStatus(guarantor.status) is not MemberStatus.ACTIVE:
            raise _refuse(_("Penjamin %(no)s bukan anggota aktif.", no=no), "guarantors")
        if guarantor.id == member.id:
            raise _refuse(_("Anda tidak bisa menjadi penjamin sendiri."), "guarantors")
        guarantors.append(guarantor)
    if len(guarantors) < product.guarantors:
        raise _refuse(
            _("Produk ini memerlukan %(n)s penjamin anggota.", n=product.guarantors),
            "guarantors",
            "guarantors_missing",
        )
    loan = Loan(
        member_id=member.id,
        product_id=product.id,
        status=LoanStatus.APPLIED,
        principal_idr=principal_idr,
        months=months,
        method=product.method,
        annual_rate_bp=product.annual_rate_bp,
        admin_fee_idr=quote.admin_fee_idr,
        provisi_idr=quote.provisi_idr,
        purpose=purpose,
        group_code=member.group_code,
        approvals_needed=1 if principal_idr <= product.single_approval_max_idr else 2,
        days_past_due=0,
        collectibility="lancar",
    )
    db.session.add(loan)
    db.session.flush()
    for guarantor in guarantors:
        db.session.add(LoanGuarantor(loan_id=loan.id, member_id=guarantor.id))
    _event(member, by_user, f"Mengajukan pinjaman #{loan.id} {format_rupiah(principal_idr)}")
    db.session.flush()
    return loan


def withdraw_loan(loan: Loan, *, by_user) -> Loan:
    """The member withdraws an application not yet disbursed."""
    if LoanStatus(loan.status) not in (LoanStatus.APPLIED, LoanStatus.APPROVED):
        raise Conflict(_("Pengajuan ini tidak bisa dibatalkan lagi."), code="not_withdrawable")
    move(loan, LoanStatus.WITHDRAWN)
    loan.decided_at = now_utc()
    _event(loan.member, by_user, f"Membatalkan pengajuan pinjaman #{loan.id}")
    db.session.flush()
    return loan


# --------------------------------------------------------------------------- decisions


def related_user_ids(loan: Loan) -> set[int]:
    """Users who may not decide ``loan``: the borrower and every guarantor."""
    member_ids = [loan.member_id] + list(
        db.session.scalars(select(LoanGuarantor.member_id).where(LoanGuarantor.loan_id == loan.id))
    )
    users = db.session.scalars(select(Member.user_id).where(Member.id.in_(member_ids)))
    return {u for u in users if u is not None}


def check_decider(loan: Loan, by_user) -> None:
    if not by_user.has_role(Role.PENGURUS, Role.BENDAHARA):
        raise Forbidden(_("Hanya pengurus yang memutuskan pinjaman."), code="not_board")
    user_id = user_id_of(by_user)
    if user_id == loan.member.user_id:
        raise Forbidden(
            _("Anda tidak bisa memutuskan pinjaman Anda sendiri."), code="self_approval"
        )
    if user_id in related_user_ids(loan):
        raise Forbidden(
            _("Penjamin pinjaman ini tidak bisa ikut memutuskannya."), code="guarantor_approval"
        )


def decide_loan(loan: Loan, *, by_user, approve: bool, note: str | None = None) -> Loan:
    """One officer's decision. A rejection needs a reason and ends the application; an
    approval counts, and the loan is approved when enough officers approved."""
    if LoanStatus(loan.status) is not LoanStatus.APPLIED:
        raise Conflict(_("Pengajuan ini sudah diputuskan."), code="loan_decided")
    check_decider(loan, by_user)
    note = (note or "").strip() or None
    already = db.session.scalar(
        select(LoanDecision.id).where(
            LoanDecision.loan_id == loan.id, LoanDecision.user_id == user_id_of(by_user)
        )
    )
    if already is not None:
        raise Conflict(
            _("Anda sudah menyetujui; menunggu persetujuan pengurus lain."), code="already_decided"
        )
    if not approve and not note:
        raise _refuse(_("Alasan penolakan wajib diisi (dibaca anggota)."), "note")
    db.session.add(
        LoanDecision(
            loan_id=loan.id,
            user_id=user_id_of(by_user),
            decision="approve" if approve else "reject",
            note=note,
        )
    )
    db.session.flush()
    if not approve:
        loan.rejection_reason = note
        move(loan, LoanStatus.REJECTED)
        loan.decided_at = now_utc()
        _notify(loan, _("Pengajuan pinjaman ditolak"), _("Alasan: %(r)s", r=note), "rejected")
    elif approvals_of(loan) >= loan.approvals_needed:
        move(loan, LoanStatus.APPROVED)
        loan.decided_at = now_utc()
        _notify(
            loan,
            _("Pinjaman disetujui"),
            _("Pinjaman %(amount)s disetujui dan segera dicairkan.", amount=_amount(loan)),
            "approved",
        )
        if loan.approvals_needed > 1:
            _inform_pengawas(loan)
    db.session.flush()
    return loan


def approvals_of(loan: Loan) -> int:
    return int(
        db.session.scalar(
            select(func.count()).where(
                LoanDecision.loan_id == loan.id, LoanDecision.decision == "approve"
            )
        )
        or 0
    )


def _amount(loan: Loan) -> str:
    return format_rupiah(loan.principal_idr)


def _event(member: Member, by_user, note: str) -> None:
    from members.register.services import record_event

    record_event(member, "loan", by_user, note[:300])


def _notify(loan: Loan, subject: str, body: str, what: str) -> None:
    from kmp.notify import queue_notification

    member = loan.member
    queue_notification(
        kind="loan",
        address=member.email or member.phone,
        subject=subject,
        body=body,
        user_id=member.user_id,
        member_id=member.id,
        dedupe_key=f"loan:{loan.id}:{what}",
    )


def _inform_pengawas(loan: Loan) -> None:
    from kmp.auth import User
    from kmp.notify import queue_notification

    for user in db.session.scalars(select(User).order_by(User.id)):
        if user.has_role(Role.PENGAWAS):
            queue_notification(
                kind="loan_board",
                address=user.email or getattr(user, "phone", None),
                subject=_("Pinjaman besar disetujui"),
                body=_(
                    "Pinjaman #%(id)s sebesar %(amount)s disetujui dua pengurus.",
                    id=loan.id,
                    amount=_amount(loan),
                ),
                user_id=user.id,
                dedupe_key=f"loan:{loan.id}:pengawas:{user.id}",
            )


def get_loan(loan_id: int) -> Loan:
    loan = db.session.get(Loan, loan_id) if 0 < loan_id < 2**31 else None
    if loan is None:
        raise NotFound(_("Pinjaman tidak ditemukan."))
    return loan


def decisions_of(loan: Loan) -> list[LoanDecision]:
    return list(
        db.session.scalars(
            select(LoanDecision).where(LoanDecision.loan_id == loan.id).order_by(LoanDecision.id)
        )
    )
