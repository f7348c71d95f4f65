"""Register pages: the public application, the board's register and export, the review queue,
NIK corrections."""

from __future__ import annotations

from flask import (
    Blueprint,
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
from sqlalchemy import select

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db, limiter
from kmp.forms import parse_id
from kmp.timeutil import business_date
from members.ad import services as ad_services
from members.register import admission as register_admission
from members.register import queries as register_queries
from members.register import services as register_services
from members.register.forms import (
    CompanyApplicationForm,
    DecisionForm,
    IndividualApplicationForm,
    NikDecisionForm,
)
from members.register.models import Member, NikCorrection
from members.register.states import MemberStatus
from members.register.web import (
    BOARD,
    DECIDERS,
    PER_PAGE,
    _apply_error,
    _bool_arg,
    _groups_for_template,
    _int_arg,
    _member_or_404,
    _sees_identity,
)

bp = Blueprint("register", __name__)


@bp.get("/daftar")
def apply_start():
    ad = ad_services.current_ad()
    return render_template("members/apply_start.html", groups=_groups_for_template(ad))


@bp.get("/privasi")
def privacy():
    return render_template("members/privacy.html", version=register_services.PRIVACY_VERSION)


def _apply_limit() -> str:
    return current_app.config.get("KMP_APPLY_RATE_LIMIT", "20 per hour")


@bp.route("/daftar/<code>", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"], error_message="too_many_applications")
def apply(code: str):
    ad = ad_services.current_ad()
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
                member = register_services.apply_company(
                    register_services.CompanyApplication(
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
                member = register_services.apply_individual(
                    register_services.IndividualApplication(
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
        counts = register_queries.status_counts()
        total = counts.get(filters["status"], 0) if filters["status"] else sum(counts.values())
    page = register_queries.search_members(
        **filters, page=_int_arg("halaman"), per_page=PER_PAGE, total=total
    )
    return render_template(
        "members/register.html",
        page=page,
        filters=filters,
        ad=ad_services.current_ad(),
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
    stmt = register_queries.register_query(**filters).execution_options(yield_per=1000)

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


@bp.get("/pengurus/pendaftaran")
@role_required(*DECIDERS)
def queue():
    ad = ad_services.current_ad()
    status = request.args.get("status")
    if status not in (MemberStatus.APPLIED.value, MemberStatus.APPROVED.value):
        status = None
    filters = {
        "group": request.args.get("kelompok") or None,
        "status": status,
        "pokok_paid": _bool_arg("pokok_lunas"),
    }
    page = register_queries.review_queue(ad, **filters, page=_int_arg("halaman"), per_page=PER_PAGE)
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
            register_admission.approve_member(member, current_user)
        else:
            register_admission.reject_member(member, current_user, reason or "")
        done += 1
    return done


@bp.post("/pengurus/pendaftaran")
@role_required(*DECIDERS)
def queue_decide():
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    parsed = [parse_id(v) for v in request.form.getlist("member_id")]
    if None in parsed:
        abort(400)
    ids = sorted(set(parsed))
    if not ids:
        flash(_("Pilih paling sedikit satu pendaftar."), "error")
        return redirect(url_for("register.queue")), 303
    members = list(db.session.scalars(select(Member).where(Member.id.in_(ids))))
    try:
        done = _decide(members, form.action.data, form.reason.data)
    except DomainError as error:
        db.session.rollback()
        flash(_("Tidak ada yang disimpan: %(msg)s", msg=error.message), "error")
        return redirect(url_for("register.queue")), 303
    db.session.commit()
    if form.action.data == "approve":
        flash(_("%(n)s pendaftar disetujui.", n=done), "success")
    else:
        flash(_("%(n)s pendaftar ditolak.", n=done), "success")
    return redirect(url_for("register.queue")), 303


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
    if form.action.data == "approve":
        message = _("Pendaftaran %(name)s disetujui.", name=member.display_name)
        if member.member_no:
            message += " " + _("Nomor anggota: %(no)s.", no=member.member_no)
        else:
            message += " " + _("Menjadi anggota aktif setelah simpanan pokok lunas.")
    else:
        message = _("Pendaftaran %(name)s ditolak.", name=member.display_name)
    flash(message, "success")
    return redirect(url_for("members.member_detail", member_id=member.id)), 303


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
        register_services.decide_nik_correction(
            item, current_user, form.action.data == "approve", form.note.data
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("register.nik_corrections")), 303
    db.session.commit()
    flash(
        _("Koreksi NIK disetujui.") if form.action.data == "approve" else _("Koreksi NIK ditolak."),
        "success",
    )
    return redirect(url_for("register.nik_corrections")), 303
