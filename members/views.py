"""Membership pages: public application, the member's own pages, the partner company page,
the board's register / review queue / receipts / exits / import / officers, and the AD editor.

Views parse input, call one service, commit, render or redirect. A refused form is shown
again with the message (422) and nothing is written.
"""

from __future__ import annotations

import json
import re

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user
from markupsafe import Markup
from sqlalchemy import select

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db, limiter
from kmp.ledger.chart import member_account_code
from kmp.ledger.queries import balances_of_member
from kmp.money import MoneyError, parse_rupiah
from kmp.timeutil import business_date
from members import queries, services
from members.ad import ADConfig, ADInvalid, diff_payloads, validate_ad
from members.forms import (
    ADForm,
    BoardExitForm,
    CertificateForm,
    CompanyApplicationForm,
    DecisionForm,
    ExitDecisionForm,
    ImportForm,
    IndividualApplicationForm,
    NikCorrectionForm,
    NikDecisionForm,
    OfficerForm,
    ProfileForm,
    ReasonForm,
    ReceiptForm,
    RefundPaymentForm,
    StaffForm,
)
from members.models import (
    ADVersion,
    Certificate,
    ExitCase,
    ExitKind,
    ExitStatus,
    Member,
    NikCorrection,
    Receipt,
    RequestStatus,
)
from members.states import IN_GOOD_STANDING, NUMBERED, PENDING, MemberStatus

bp = Blueprint("members", __name__)

R = Role
BOARD = (R.PENGURUS, R.BENDAHARA, R.PENGAWAS, R.ADMIN)
DECIDERS = (R.PENGURUS, R.BENDAHARA)
MANAGERS = (R.PENGURUS, R.BENDAHARA, R.ADMIN)
PER_PAGE = 50


# --------------------------------------------------------------------------- helpers


def _int_arg(name: str, default: int = 1) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except (TypeError, ValueError):
        return default


def _sees_identity() -> bool:
    """NIK and phone unmasked only for those who need them (domain decision 12)."""
    return current_user.has_role(R.ADMIN, R.PENGURUS, R.BENDAHARA)


def _apply_error(form, error: DomainError) -> None:
    """Put a service refusal on its form field (or flash it) — nothing was written."""
    db.session.rollback()
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*list(field.errors or []), error.message]
    else:
        flash(error.message, "error")


def _member_or_404(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None:
        abort(404)
    return member


def _my_member() -> Member | None:
    return queries.member_for_user(current_user)


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (no script, no style attribute: fits the CSP)."""
    code = segno.make(text, error="m")
    return Markup(code.svg_inline(scale=6, svgclass="qr", title=text))  # noqa: S704


def _groups_for_template(ad: ADConfig):
    return [g for g in ad.groups if g.is_active]


def member_status_label(status) -> str:
    return _(MemberStatus(status).label) if status else "–"


EVENT_LABELS = {
    "applied": "Mendaftar",
    "status": "Status berubah",
    "receipt": "Setoran dicatat",
    "admitted": "Diterima sebagai anggota",
    "imported": "Diimpor dari berkas",
    "staff_added": "Login staf ditambahkan",
    "contact_updated": "Kontak diubah",
    "nik_correction_requested": "Minta koreksi NIK",
    "nik_corrected": "NIK dikoreksi",
    "refund_paid": "Pengembalian simpanan dibayar",
}


def member_event_label(action: str) -> str:
    return _(EVENT_LABELS[action]) if action in EVENT_LABELS else action


# =========================================================================== public: apply


@bp.get("/daftar")
def apply_start():
    ad = services.current_ad()
    return render_template("members/apply_start.html", groups=_groups_for_template(ad))


@bp.get("/privasi")
def privacy():
    return render_template("members/privacy.html", version=services.PRIVACY_VERSION)


def _apply_limit() -> str:
    return current_app.config.get("KMP_APPLY_RATE_LIMIT", "20 per hour")


@bp.route("/daftar/<code>", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"], error_message="too_many_applications")
def apply(code: str):
    ad = services.current_ad()
    group = ad.get_group(code)
    if group is None or not group.is_active:
        abort(404)
    if current_user.is_authenticated and request.method == "GET":
        flash(_("Anda sudah masuk. Keluar dulu bila ingin mendaftarkan orang lain."), "info")
    form = CompanyApplicationForm() if group.is_company else IndividualApplicationForm()
    status = 200
    if form.validate_on_submit():
        locale = str(request.cookies.get("kmp_lang") or "id")
        try:
            if group.is_company:
                member = services.apply_company(
                    services.CompanyApplication(
                        company_name=form.company_name.data,
                        nib=form.nib.data,
                        npwp=form.npwp.data,
                        address=form.address.data,
                        representative_name=form.representative_name.data,
                        representative_nik=form.representative_nik.data,
                        representative_phone=form.representative_phone.data,
                        password=form.password.data,
                        consent=bool(form.consent.data),
                        email=form.email.data,
                        platform=form.platform.data,
                        group_code=group.code,
                        locale=locale if locale in ("id", "en") else "id",
                    )
                )
            else:
                member = services.apply_individual(
                    services.IndividualApplication(
                        group_code=group.code,
                        full_name=form.full_name.data,
                        nik=form.nik.data,
                        phone=form.phone.data,
                        password=form.password.data,
                        consent=bool(form.consent.data),
                        address=form.address.data,
                        email=form.email.data,
                        platform=form.platform.data,
                        platform_worker_id=form.platform_worker_id.data,
                        locale=locale if locale in ("id", "en") else "id",
                    )
                )
        except DomainError as error:
            _apply_error(form, error)
            status = 422
        else:
            user = member.user
            db.session.commit()
            login_user(user)
            flash(_("Pendaftaran terkirim. Selamat datang!"), "success")
            return redirect(url_for("members.next_steps"))
    elif request.method == "POST":
        if "consent" in form and not form.consent.data:
            form.consent.errors = [_("Anda perlu menyetujui pernyataan privasi untuk mendaftar.")]
        status = 422
    return render_template("members/apply.html", form=form, group=group), status


# =========================================================================== the member


def _pokok_status(member: Member, ad: ADConfig, by_code: dict[str, int]):
    """``services.pokok_status`` read from the member's account balances already loaded
    (``balances_of_member``); falls back to it when the pokok account is not among them."""
    if member.member_no and MemberStatus(member.status) in NUMBERED:
        code = member_account_code("pokok", member.member_no)
    else:
        code = services.applicant_account_code(member)
    if code not in by_code:
        return services.pokok_status(member, ad)
    group = ad.get_group(member.group_code)
    return services.PokokStatus(
        group.pokok_idr if group else 0,
        by_code[code],
        group.pokok_instalments_allowed if group else True,
    )


def _steps_context(member: Member, *, by_code: dict[str, int] | None = None, exit_cases=None):
    ad = services.current_ad()
    group = ad.get_group(member.group_code)
    if by_code is None:
        pokok = services.pokok_status(member, ad)
    else:
        pokok = _pokok_status(member, ad, by_code)
    if exit_cases is None:
        exit_cases = queries.member_exit_cases(member)
    return {
        "member": member,
        "group": group,
        "pokok": pokok,
        "receipts": queries.member_receipts(member),
        "refunds": [c for c in exit_cases if c.kind is ExitKind.APPLICATION],
    }


@bp.get("/anggota/langkah")
@role_required(R.ANGGOTA, R.PARTNER)
def next_steps():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    return render_template("members/next_steps.html", **_steps_context(member))


@bp.get("/anggota")
@role_required(R.ANGGOTA)
def dashboard():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    # one read each of the member's balances and exit cases serves every part of the page
    by_code = balances_of_member(member.id)
    exit_cases = queries.member_exit_cases(member)
    context = _steps_context(member, by_code=by_code, exit_cases=exit_cases)
    context["balances"] = queries.savings_balances(member, by_code)
    context["exit_cases"] = exit_cases
    # services.open_exit_case, from the cases just read
    context["open_exit"] = next(
        (
            c
            for c in exit_cases
            if c.kind != ExitKind.APPLICATION and c.status == ExitStatus.REQUESTED
        ),
        None,
    )
    return render_template("members/dashboard.html", **context)


def _active_member_or_notice():
    """The current user's member record when it may use member functions, else a notice."""
    member = _my_member()
    if member is None:
        return None, (render_template("members/not_member.html"), 404)
    if MemberStatus(member.status) not in IN_GOOD_STANDING:
        return None, (render_template("members/not_active.html", member=member), 403)
    return member, None


@bp.get("/anggota/kartu")
@role_required(R.ANGGOTA, R.PARTNER)
def my_card():
    member, refusal = _active_member_or_notice()
    if refusal:
        return refusal
    return render_template(
        "members/card.html",
        member=member,
        qr=qr_svg(member.member_no),
        group=services.current_ad().get_group(member.group_code),
    )


@bp.route("/anggota/profil", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def profile():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    editable = MemberStatus(member.status) not in (
        MemberStatus.EXITED,
        MemberStatus.DECEASED,
        MemberStatus.REJECTED,
        MemberStatus.WITHDRAWN,
    )
    form = ProfileForm(
        data={
            "phone": member.phone,
            "email": member.email,
            "address": member.address,
            "locale": current_user.locale,
        }
    )
    nik_form = NikCorrectionForm(prefix="nik")
    status = 200
    if request.method == "POST":
        if not editable:
            return render_template("members/not_active.html", member=member), 403
        if form.validate_on_submit():
            try:
                services.update_contact(
                    member,
                    phone=form.phone.data,
                    email=form.email.data,
                    address=form.address.data,
                    by_user=current_user,
                )
                current_user.locale = form.locale.data
            except DomainError as error:
                _apply_error(form, error)
                status = 422
            else:
                db.session.commit()
                flash(_("Data kontak sudah disimpan."), "success")
                return redirect(url_for("members.profile"))
        else:
            status = 422
    pending = db.session.scalar(
        select(NikCorrection).where(
            NikCorrection.member_id == member.id, NikCorrection.status == RequestStatus.PENDING
        )
    )
    return render_template(
        "members/profile.html",
        member=member,
        form=form,
        nik_form=nik_form,
        pending_nik=pending,
        editable=editable,
    ), status


@bp.post("/anggota/profil/koreksi-nik")
@role_required(R.ANGGOTA)
def request_nik_correction():
    member = _my_member()
    if member is None:
        abort(404)
    nik_form = NikCorrectionForm(prefix="nik")
    if nik_form.validate_on_submit():
        try:
            services.request_nik_correction(member, nik_form.new_nik.data, nik_form.reason.data)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("members.profile")), 303
        db.session.commit()
        flash(_("Permintaan koreksi NIK dikirim ke pengurus."), "success")
    else:
        flash(_("Isi NIK yang benar dan alasannya."), "error")
    return redirect(url_for("members.profile")), 303


@bp.get("/anggota/profil/data.json")
@role_required(R.ANGGOTA, R.PARTNER)
def my_data():
    member = _my_member()
    if member is None:
        abort(404)
    body = json.dumps(services.export_member_data(member), ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    name = member.member_no or f"pendaftar-{member.id}"
    response.headers["Content-Disposition"] = f'attachment; filename="data-saya-{name}.json"'
    return response


@bp.route("/anggota/keluar", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def request_my_exit():
    member, refusal = _active_member_or_notice()
    if refusal:
        return refusal
    form = ReasonForm()
    if form.validate_on_submit():
        if request.form.get("confirm") != "1":
            flash(_("Centang konfirmasi bila Anda yakin ingin keluar."), "error")
            return render_template(
                "members/exit_request.html",
                member=member,
                form=form,
                quote=services.compute_refund(member),
            ), 422
        try:
            services.request_exit(member, current_user, form.reason.data)
        except DomainError as error:
            _apply_error(form, error)
            return render_template(
                "members/exit_request.html",
                member=member,
                form=form,
                quote=services.compute_refund(member),
            ), 422
        db.session.commit()
        flash(_("Pengajuan keluar terkirim. Pengurus akan memutuskannya."), "success")
        return redirect(url_for("members.dashboard"))
    return render_template(
        "members/exit_request.html", member=member, form=form, quote=services.compute_refund(member)
    )


@bp.post("/anggota/batal")
@role_required(R.ANGGOTA, R.PARTNER)
def withdraw_my_application():
    member = _my_member()
    if member is None or MemberStatus(member.status) not in PENDING:
        abort(404)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.withdraw_application(member, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.next_steps")), 303
    db.session.commit()
    flash(_("Pendaftaran Anda sudah dibatalkan."), "info")
    return redirect(url_for("members.next_steps")), 303


# =========================================================================== partner company


@bp.get("/mitra")
@role_required(R.PARTNER)
def company():
    member = queries.company_for_user(current_user)
    if member is None:
        return render_template("members/not_member.html"), 404
    return redirect(url_for("members.company_page", member_id=member.id))


@bp.get("/mitra/<int:member_id>")
@role_required(R.PARTNER)
def company_page(member_id: int):
    member = _member_or_404(member_id)
    if not member.is_company or not queries.is_staff_of(current_user, member):
        abort(403)
    context = _steps_context(member)
    context.update(
        staff=queries.company_staff(member),
        balances=queries.savings_balances(member),
        platform_members=queries.platform_member_count(member.platform),
        platforms=services.PLATFORMS,
    )
    return render_template("members/company.html", **context)


# =========================================================================== board: register


def _register_filters():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in MemberStatus}:
        status = None
    return {
        "q": (request.args.get("q") or "").strip()[:100] or None,
        "group": request.args.get("kelompok") or None,
        "status": status,
    }


@bp.get("/pengurus/anggota")
@role_required(*BOARD)
def register():
    filters = _register_filters()
    counts = total = None
    if not filters["q"] and not filters["group"]:
        # The whole register: one count by status gives the census line and the page total.
        # A search (e.g. a member number: one index lookup) does not count the register.
        counts = queries.status_counts()
        total = counts.get(filters["status"], 0) if filters["status"] else sum(counts.values())
    page = queries.search_members(
        **filters, page=_int_arg("halaman"), per_page=PER_PAGE, total=total
    )
    return render_template(
        "members/register.html",
        page=page,
        filters=filters,
        ad=services.current_ad(),
        statuses=list(MemberStatus),
        counts=counts,
        unmasked=_sees_identity(),
    )


@bp.get("/pengurus/anggota/ekspor")
@role_required(*BOARD)
def register_export():
    from kmp.exports import send_export
    from kmp.templating import mask_tail

    filters = _register_filters()
    unmasked = _sees_identity()
    stmt = queries.register_query(**filters).execution_options(yield_per=1000)

    def rows():
        for m in db.session.scalars(stmt):
            nik = m.nik if unmasked else (mask_tail(m.nik) if m.nik else "")
            phone = m.phone if unmasked else (mask_tail(m.phone) if m.phone else "")
            yield (
                m.member_no,
                m.display_name,
                m.group_code,
                m.status.value,
                m.kind.value,
                nik,
                phone,
                m.email,
                m.platform,
                m.platform_worker_id,
                m.joined_date,
                m.exited_date,
                m.is_extraordinary,
            )

    headers = (
        "member_no",
        "nama",
        "kelompok",
        "status",
        "jenis",
        "nik",
        "no_hp",
        "email",
        "platform",
        "id_mitra",
        "tanggal_masuk",
        "tanggal_keluar",
        "luar_biasa",
    )
    return send_export(
        rows(),
        headers,
        f"daftar-anggota-{business_date().isoformat()}",
        request.args.get("format", "csv"),
        title=_("Daftar anggota"),
    )


@bp.get("/pengurus/anggota/<int:member_id>")
@role_required(*BOARD)
def member_detail(member_id: int):
    member = _member_or_404(member_id)
    context = _steps_context(member)
    context.update(
        balances=queries.savings_balances(member),
        history=queries.member_history(member),
        exit_cases=queries.member_exit_cases(member),
        staff=queries.company_staff(member) if member.is_company else [],
        unmasked=_sees_identity(),
        decision_form=DecisionForm(),
        exit_form=BoardExitForm(),
        staff_form=StaffForm(prefix="staff"),
        open_exit=services.open_exit_case(member),
        can_decide=current_user.has_role(*DECIDERS),
        can_receive=current_user.has_role(R.BENDAHARA),
    )
    return render_template("members/detail.html", **context)


@bp.get("/pengurus/anggota/<int:member_id>/kartu")
@role_required(*BOARD)
def member_card(member_id: int):
    member = _member_or_404(member_id)
    if not member.member_no:
        abort(404)
    return render_template(
        "members/card.html",
        member=member,
        qr=qr_svg(member.member_no),
        group=services.current_ad().get_group(member.group_code),
    )


@bp.post("/pengurus/anggota/<int:member_id>/staf")
@role_required(*MANAGERS)
def add_staff(member_id: int):
    member = _member_or_404(member_id)
    form = StaffForm(prefix="staff")
    if not form.validate_on_submit():
        flash(_("Lengkapi nama dan kata sandi staf."), "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    try:
        services.add_company_staff(
            member,
            full_name=form.full_name.data,
            password=form.password.data,
            by_user=current_user,
            email=form.email.data,
            phone=form.phone.data,
            title=form.title.data,
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    db.session.commit()
    flash(_("Login staf ditambahkan."), "success")
    return redirect(url_for("members.member_detail", member_id=member.id)), 303


# =========================================================================== board: admission


def _bool_arg(name: str) -> bool | None:
    value = request.args.get(name)
    return {"ya": True, "tidak": False}.get(value or "")


@bp.get("/pengurus/pendaftaran")
@role_required(*DECIDERS)
def queue():
    ad = services.current_ad()
    status = request.args.get("status")
    if status not in (MemberStatus.APPLIED.value, MemberStatus.APPROVED.value):
        status = None
    filters = {
        "group": request.args.get("kelompok") or None,
        "status": status,
        "pokok_paid": _bool_arg("pokok_lunas"),
    }
    page = queries.review_queue(ad, **filters, page=_int_arg("halaman"), per_page=PER_PAGE)
    return render_template(
        "members/queue.html",
        page=page,
        ad=ad,
        form=DecisionForm(),
        filters=filters,
        pokok_arg=request.args.get("pokok_lunas") or "",
    )


def _decide(members: list[Member], action: str, reason: str | None) -> int:
    done = 0
    for member in members:
        if action == "approve":
            services.approve_member(member, current_user)
        else:
            services.reject_member(member, current_user, reason or "")
        done += 1
    return done


@bp.post("/pengurus/pendaftaran")
@role_required(*DECIDERS)
def queue_decide():
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        ids = sorted({int(v) for v in request.form.getlist("member_id")})
    except ValueError:
        abort(400)
    if not ids:
        flash(_("Pilih paling sedikit satu pendaftar."), "error")
        return redirect(url_for("members.queue")), 303
    members = list(db.session.scalars(select(Member).where(Member.id.in_(ids))))
    try:
        done = _decide(members, form.action.data, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        flash(_("Tidak ada yang disimpan: %(msg)s", msg=error.message), "error")
        return redirect(url_for("members.queue")), 303
    db.session.commit()
    if form.action.data == "approve":
        flash(_("%(n)s pendaftar disetujui.", n=done), "success")
    else:
        flash(_("%(n)s pendaftar ditolak.", n=done), "success")
    return redirect(url_for("members.queue")), 303


@bp.post("/pengurus/anggota/<int:member_id>/keputusan")
@role_required(*DECIDERS)
def decide(member_id: int):
    member = _member_or_404(member_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        _decide([member], form.action.data, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    db.session.commit()
    flash(_("Keputusan disimpan."), "success")
    return redirect(url_for("members.member_detail", member_id=member.id)), 303


# =========================================================================== board: receipts


@bp.route("/pengurus/anggota/<int:member_id>/setoran", methods=["GET", "POST"])
@role_required(R.BENDAHARA)
def receipt_new(member_id: int):
    member = _member_or_404(member_id)
    pokok = services.pokok_status(member)
    form = ReceiptForm()
    if request.method == "GET":
        form.token.data = services.new_request_token()
        form.received_on.data = business_date()
        if pokok.remaining_idr:
            form.amount.data = str(pokok.remaining_idr)
        else:
            form.purpose.data = "wajib"
    status = 200
    if form.validate_on_submit():
        try:
            amount = parse_rupiah(form.amount.data)
        except MoneyError:
            form.amount.errors = [_("Tulis jumlah dalam Rupiah, mis. 100000 atau 100.000.")]
            status = 422
        else:
            try:
                receipt = services.record_receipt(
                    member,
                    purpose=form.purpose.data,
                    amount_idr=amount,
                    method=form.method.data,
                    by_user=current_user,
                    request_token=form.token.data,
                    reference=form.reference.data,
                    received_on=form.received_on.data,
                )
            except DomainError as error:
                if error.field == "amount_idr":
                    error.field = "amount"
                _apply_error(form, error)
                status = 422
            else:
                db.session.commit()
                flash(_("Kwitansi %(no)s dicatat.", no=receipt.number), "success")
                return redirect(url_for("members.receipt_view", number=receipt.number)), 303
    elif request.method == "POST":
        status = 422
    return render_template(
        "members/receipt_new.html", member=member, form=form, pokok=pokok
    ), status


@bp.get("/kwitansi/<number>")
@role_required(*BOARD, R.ANGGOTA, R.PARTNER)
def receipt_view(number: str):
    receipt = db.session.scalar(select(Receipt).where(Receipt.number == number))
    if receipt is None:
        abort(404)
    if not current_user.has_role(*BOARD):
        mine = _my_member()
        if mine is None or mine.id != receipt.member_id:
            abort(404)
    return render_template("members/receipt.html", receipt=receipt, member=receipt.member)


# =========================================================================== board: exit


@bp.route("/pengurus/anggota/<int:member_id>/keluar", methods=["POST"])
@role_required(*DECIDERS)
def board_exit(member_id: int):
    member = _member_or_404(member_id)
    form = BoardExitForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        case = services.request_exit(
            member,
            current_user,
            form.reason.data,
            kind=form.kind.data,
            heir_name=form.heir_name.data,
            heir_relationship=form.heir_relationship.data,
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.member_detail", member_id=member.id)), 303
    db.session.commit()
    return redirect(url_for("members.exit_case", case_id=case.id)), 303


@bp.get("/pengurus/keluar")
@role_required(R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def exits():
    status = request.args.get("status")
    if status not in {s.value for s in ExitStatus}:
        status = None
    page = queries.exit_cases(status, _int_arg("halaman"), PER_PAGE)
    return render_template(
        "members/exits.html", page=page, status=status, statuses=list(ExitStatus)
    )


def _exit_context(case: ExitCase) -> dict:
    member = case.member
    quote = services.compute_refund(member) if case.status is ExitStatus.REQUESTED else None
    return {
        "case": case,
        "member": member,
        "quote": quote,
        "form": ExitDecisionForm(),
        "pay_form": RefundPaymentForm(),
        "can_decide": current_user.has_role(*DECIDERS),
        "can_pay": current_user.has_role(R.BENDAHARA),
    }


@bp.get("/pengurus/keluar/<int:case_id>")
@role_required(R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def exit_case(case_id: int):
    case = db.session.get(ExitCase, case_id) or abort(404)
    return render_template("members/exit_case.html", **_exit_context(case))


@bp.post("/pengurus/keluar/<int:case_id>")
@role_required(*DECIDERS)
def exit_decide(case_id: int):
    case = db.session.get(ExitCase, case_id) or abort(404)
    form = ExitDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if form.action.data == "approve":
            services.approve_exit(case, current_user)
        else:
            services.cancel_exit(case, current_user, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.exit_case", case_id=case_id)), 303
    db.session.commit()
    flash(_("Keputusan disimpan."), "success")
    return redirect(url_for("members.exit_case", case_id=case_id)), 303


@bp.post("/pengurus/keluar/<int:case_id>/bayar")
@role_required(R.BENDAHARA)
def exit_pay(case_id: int):
    case = db.session.get(ExitCase, case_id) or abort(404)
    form = RefundPaymentForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.pay_exit_refund(case, current_user, form.method.data, form.reference.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.exit_case", case_id=case_id)), 303
    db.session.commit()
    flash(_("Pembayaran pengembalian dicatat."), "success")
    return redirect(url_for("members.exit_case", case_id=case_id)), 303


# =========================================================================== board: import


@bp.route("/pengurus/impor", methods=["GET", "POST"])
@role_required(*MANAGERS)
def import_page():
    from members.importer import import_members

    form = ImportForm()
    result = None
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read()
        try:
            result = import_members(data, by_user=current_user, dry_run=bool(form.dry_run.data))
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            status = 422
        else:
            if result.ok and not result.dry_run:
                db.session.commit()
                flash(_("%(n)s anggota diimpor.", n=result.imported), "success")
            else:
                db.session.rollback()
                status = 422 if not result.ok else 200
    elif request.method == "POST":
        status = 422
    return render_template("members/import.html", form=form, result=result), status


@bp.get("/pengurus/impor/contoh.csv")
@role_required(*MANAGERS)
def import_template():
    from members.importer import COLUMNS

    sample = (
        ",".join(COLUMNS)
        + "\n"
        + (
            ",Siti Aminah,3201014507900001,081234567801,siti@contoh.id,pengemudi,2024-03-01,"
            "gojek,GJ-1001,100000,300000,50000,\n"
        )
    )
    response = Response(sample, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="contoh-impor-anggota.csv"'
    return response


# =========================================================================== NIK corrections


@bp.get("/pengurus/koreksi-nik")
@role_required(*DECIDERS)
def nik_corrections():
    rows = list(
        db.session.scalars(
            select(NikCorrection).order_by(NikCorrection.status, NikCorrection.id.desc()).limit(200)
        )
    )
    return render_template("members/nik_corrections.html", rows=rows, form=NikDecisionForm())


@bp.post("/pengurus/koreksi-nik/<int:request_id>")
@role_required(*DECIDERS)
def nik_correction_decide(request_id: int):
    item = db.session.get(NikCorrection, request_id) or abort(404)
    form = NikDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.decide_nik_correction(
            item, current_user, form.action.data == "approve", form.note.data
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("members.nik_corrections")), 303
    db.session.commit()
    flash(_("Keputusan disimpan."), "success")
    return redirect(url_for("members.nik_corrections")), 303


# =========================================================================== officers


def _find_holder(text: str):
    from kmp.auth import User

    text = (text or "").strip()
    if "@" in text:
        user = db.session.scalar(select(User).where(User.email == text.lower()))
        if user is not None:
            member = db.session.scalar(select(Member).where(Member.user_id == user.id))
            return member or user
    else:
        member = queries.member_by_no(text)
        if member is not None:
            return member
    raise DomainError(
        _("Tidak ada anggota dengan nomor itu atau login dengan email itu."), field="holder"
    )


def _officer_page(officer_form=None, certificate_form=None, status=200):
    ad = services.current_ad()
    return render_template(
        "members/officers.html",
        officers=queries.all_officers(),
        current_ids={o.id for o in queries.current_officers()},
        watch=queries.certification_watchlist(days=ad.certificate_warning_days),
        officer_form=officer_form or OfficerForm(prefix="officer"),
        certificate_form=certificate_form or CertificateForm(prefix="cert"),
        can_manage=current_user.has_role(*MANAGERS),
        ad=ad,
    ), status


@bp.get("/pengurus/jabatan")
@role_required(*BOARD)
def officers():
    return _officer_page()


@bp.post("/pengurus/jabatan")
@role_required(*MANAGERS)
def officer_add():
    form = OfficerForm(prefix="officer")
    if not form.validate_on_submit():
        return _officer_page(officer_form=form, status=422)
    try:
        services.appoint_officer(
            _find_holder(form.holder.data),
            body=form.body.data,
            function=form.function.data,
            term_start=form.term_start.data,
            term_end=form.term_end.data,
            by_user=current_user,
        )
    except DomainError as error:
        _apply_error(form, error)
        return _officer_page(officer_form=form, status=422)
    db.session.commit()
    flash(_("Jabatan dicatat."), "success")
    return redirect(url_for("members.officers")), 303


@bp.post("/pengurus/jabatan/sertifikat")
@role_required(*MANAGERS)
def certificate_add():
    form = CertificateForm(prefix="cert")
    if not form.validate_on_submit():
        return _officer_page(certificate_form=form, status=422)
    upload = form.file.data
    data = upload.read() if upload and getattr(upload, "filename", "") else None
    try:
        services.add_certificate(
            _find_holder(form.holder.data),
            scheme=form.scheme.data,
            lsp_bnsp_number=form.lsp_bnsp_number.data,
            issued_on=form.issued_on.data,
            expires_on=form.expires_on.data,
            by_user=current_user,
            file_name=re.sub(r"[^A-Za-z0-9._-]+", "_", upload.filename)[:200] if data else None,
            file_type=upload.mimetype if data else None,
            file_data=data,
        )
    except DomainError as error:
        _apply_error(form, error)
        return _officer_page(certificate_form=form, status=422)
    db.session.commit()
    flash(_("Sertifikat dicatat."), "success")
    return redirect(url_for("members.officers")), 303


@bp.get("/pengurus/sertifikasi")
@role_required(*BOARD)
def certification():
    ad = services.current_ad()
    return render_template(
        "members/certification.html",
        watch=queries.certification_watchlist(days=ad.certificate_warning_days),
        ad=ad,
    )


@bp.get("/pengurus/sertifikat/<int:certificate_id>/berkas")
@role_required(*BOARD)
def certificate_file(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id) or abort(404)
    if not certificate.file_data:
        abort(404)
    response = Response(certificate.file_data, mimetype=certificate.file_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{certificate.file_name}"'
    return response


# =========================================================================== AD configuration


def form_data_from_ad(config: ADConfig) -> dict:
    payload = config.to_payload()
    payload["groups"] = [*payload["groups"], {}]  # one empty row to add a group
    payload["shu_allocation"] = [*payload["shu_allocation"], {}]
    payload["base_version"] = config.version
    return payload


def payload_from_form(form: ADForm) -> dict:
    groups = []
    for entry in form.groups:
        data = dict(entry.data)
        if not (data.get("code") or "").strip() and not (data.get("name_id") or "").strip():
            continue
        for key in ("code", "name_id", "name_en", "member_no_prefix"):
            data[key] = (data.get(key) or "").strip()
        groups.append(data)
    allocation = [
        {"key": (e.data.get("key") or "").strip(), "bp": e.data.get("bp")}
        for e in form.shu_allocation
        if (e.data.get("key") or "").strip()
    ]
    payload = {"groups": groups, "shu_allocation": allocation}
    for name in (
        "jasa_modal_bp",
        "jasa_usaha_bp",
        "capital_basis",
        "exited_members",
        "quorum_per_group",
        "max_wajib_arrears_months",
        "notice_period_days",
        "rat_deadline_months",
        "rat_warning_months",
        "distribution_date",
        "require_certified_officers",
        "certificate_warning_days",
        "officer_term_max_years",
    ):
        payload[name] = getattr(form, name).data
    for name in ("quorum", "ordinary_threshold", "special_threshold"):
        payload[name] = dict(getattr(form, name).data)
    return payload


_INDEXED = re.compile(r"^(groups|shu_allocation)\[(\d+)\]\.(\w+)\Z")


def _attach_problems(form: ADForm, problems: list[tuple[str, str]]) -> None:
    codes = [e.form.code.data for e in form.groups]
    keys = [e.form.key.data for e in form.shu_allocation]
    for path, message in problems:
        target = None
        match = _INDEXED.match(path)
        parts = path.split(".")
        if match:
            entries = form.groups if match.group(1) == "groups" else form.shu_allocation
            index = int(match.group(2))
            if index < len(entries.entries):
                target = getattr(entries[index].form, match.group(3), None)
        elif parts[0] == "groups" and len(parts) == 3 and parts[1] in codes:
            target = getattr(form.groups[codes.index(parts[1])].form, parts[2], None)
        elif parts[0] == "shu_allocation" and len(parts) == 2 and parts[1] in keys:
            target = form.shu_allocation[keys.index(parts[1])].form.bp
        elif len(parts) == 2 and parts[0] in ("quorum", "ordinary_threshold", "special_threshold"):
            target = getattr(getattr(form, parts[0]).form, parts[1], None)
        elif len(parts) == 1 and parts[0] in form._fields:
            target = form[parts[0]]
        if target is not None:
            target.errors = [*list(target.errors or []), message]


@bp.get("/admin/ad")
@role_required(R.ADMIN, R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def ad_view():
    ad = services.current_ad()
    row = db.session.get(ADVersion, ad.version_id)
    return render_template(
        "members/ad_view.html", ad=ad, row=row, can_edit=current_user.has_role(R.ADMIN, R.PENGURUS)
    )


@bp.route("/admin/ad/ubah", methods=["GET", "POST"])
@role_required(R.ADMIN, R.PENGURUS)
def ad_edit():
    current = services.current_ad()
    if request.method == "GET":
        form = ADForm(data=form_data_from_ad(current))
        return render_template(
            "members/ad_edit.html", form=form, current=current, diff=None, problems=[]
        )
    form = ADForm()
    problems: list[tuple[str, str]] = []
    diff = None
    status = 200
    if not form.validate_on_submit():
        problems = [(name, " ".join(str(e) for e in errs)) for name, errs in form.errors.items()]
        status = 422
    else:
        payload = payload_from_form(form)
        try:
            proposed = ADConfig.from_payload(payload)
            problems = validate_ad(proposed)
        except ADInvalid as error:
            problems = error.problems
        if not problems:
            diff = diff_payloads(current.to_payload(), proposed.to_payload())
            if str(form.base_version.data) != str(current.version):
                problems = [
                    (
                        "base_version",
                        _(
                            "AD baru saja diubah orang lain: periksa lagi "
                            "perubahan Anda terhadap versi terbaru."
                        ),
                    )
                ]
                form.base_version.data = current.version
            elif request.form.get("action") == "save":
                try:
                    services.update_ad(proposed, current_user, form.reason.data or "")
                except ADInvalid as error:
                    db.session.rollback()
                    problems = error.problems
                except DomainError as error:
                    db.session.rollback()
                    problems = [(error.field or "ad", error.message)]
                    if error.field == "reason":
                        form.reason.errors = [error.message]
                else:
                    db.session.commit()
                    flash(_("AD versi baru disimpan."), "success")
                    return redirect(
                        url_for("members.ad_version", version=services.current_ad().version)
                    ), 303
        if problems:
            _attach_problems(form, problems)
            status = 422
    return render_template(
        "members/ad_edit.html", form=form, current=current, diff=diff, problems=problems
    ), status


@bp.get("/admin/ad/riwayat")
@role_required(R.ADMIN, R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def ad_history():
    rows = list(db.session.scalars(select(ADVersion).order_by(ADVersion.version.desc())))
    return render_template("members/ad_history.html", rows=rows)


@bp.get("/admin/ad/versi/<int:version>")
@role_required(R.ADMIN, R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def ad_version(version: int):
    row, config = services.ad_at_version(version)
    previous = db.session.scalar(
        select(ADVersion)
        .where(ADVersion.version < version)
        .order_by(ADVersion.version.desc())
        .limit(1)
    )
    diff = diff_payloads(previous.payload if previous else None, row.payload)
    return render_template(
        "members/ad_version.html", row=row, ad=config, previous=previous, diff=diff
    )


def init_views(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["member_status_label"] = member_status_label
    app.jinja_env.globals["member_event_label"] = member_event_label
