"""SHU pages (``/shu``): the board computes, previews, downloads, posts and pays out a run;
a member sees their SHU slip with a plain explanation and downloads it as PDF."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select, tuple_

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.money import format_number
from members.register.models import Member
from members.register.representatives import can_designate
from payouts import approval, explain, posting, reports, services, transfers
from payouts.forms import (
    ComputeForm,
    ConfirmForm,
    MethodForm,
    PatronageUploadForm,
    ReasonForm,
    ResolutionForm,
    TransferForm,
)
from payouts.models import (
    DistributionLine,
    DistributionRun,
    LineStatus,
    PayoutMethod,
    PayoutTransfer,
    RunStatus,
    TransferStatus,
)

bp = Blueprint("payouts", __name__, url_prefix="/shu")

MANAGE = (Role.PENGURUS, Role.BENDAHARA)
READ = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
PAGE_SIZE = 50

MEASURE_WORDS = {
    "trips": _l("perjalanan"),
    "deliveries": _l("pengantaran"),
    "spend_idr": _l("Rupiah belanja"),
    "contribution_idr": _l("Rupiah kontribusi"),
}


def _run_or_404(run_id: int) -> DistributionRun:
    run = db.session.get(DistributionRun, run_id)
    if run is None:
        abort(404)
    return run


def _lines_page(run: DistributionRun, page: int, after=None, before=None):
    """One page of the run's lines in display order (group, member number): a range of
    ``ix_distribution_lines_run_display``. ``after``/``before`` (the key of the previous
    page's last / next page's first line) read only that page (keyset), whatever page it is;
    a bare page number skips to it by OFFSET along the same index."""
    order = (DistributionLine.group_code, DistributionLine.member_no)
    stmt = select(DistributionLine).where(DistributionLine.run_id == run.id)
    if after is not None:
        stmt = stmt.where(tuple_(*order) > tuple_(*after)).order_by(*order)
    elif before is not None:
        stmt = stmt.where(tuple_(*order) < tuple_(*before)).order_by(*(c.desc() for c in order))
    else:
        stmt = stmt.order_by(*order).offset((page - 1) * PAGE_SIZE)
    lines = db.session.scalars(stmt.limit(PAGE_SIZE)).all()
    return lines[::-1] if before is not None else lines


def _line_key(name: str):
    """A keyset position from the query string (``group|member_no``), or None."""
    group, sep, number = (request.args.get(name) or "").partition("|")
    if not sep or not group or not number or len(group) > 20 or len(number) > 40:
        return None
    return (group, number)


def line_key(line: DistributionLine) -> str:
    return f"{line.group_code}|{line.member_no}"


def _page_arg() -> int:
    try:
        return max(int(request.args.get("halaman", "1")), 1)
    except ValueError:
        return 1


# --------------------------------------------------------------------------- board


def _runs_page(form: ComputeForm, status: int = 200):
    from kmp.ledger.closing.queries import year_end_closes

    rows = db.session.scalars(
        select(DistributionRun).order_by(
            DistributionRun.fiscal_year.desc(), DistributionRun.id.desc()
        )
    ).all()
    closes = sorted(year_end_closes().values(), key=lambda c: -c.fiscal_year)
    return (
        render_template(
            "payouts/runs.html",
            runs=rows,
            form=form,
            can_manage=current_user.has_role(*MANAGE),
            closes=closes[:3],
        ),
        status,
    )


@bp.get("/")
@role_required(*READ)
def runs():
    return _runs_page(ComputeForm())


@bp.post("/hitung")
@role_required(*MANAGE)
def compute():
    form = ComputeForm()
    if not form.validate_on_submit():
        return _runs_page(form, 422)
    year = form.fiscal_year.data
    try:
        run = services.live_run(year)
        if run is None:
            run = services.create_run(year, current_user)
        services.compute_run(
            run, shu_idr=form.shu_idr.data, reason=form.reason.data, by_user=current_user
        )
    except DomainError as error:
        db.session.rollback()
        field = getattr(form, error.field or "", None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, error.message]
        else:
            flash(error.message, "error")
        return _runs_page(form, 422)
    db.session.commit()
    flash(_("SHU tahun %(year)s sudah dihitung.", year=year), "success")
    return redirect(url_for("payouts.run", run_id=run.id))


def _resolution_form(run: DistributionRun, form: ResolutionForm | None = None):
    if RunStatus(run.status) is not RunStatus.COMPUTED or not current_user.has_role(*MANAGE):
        return None
    form = form or ResolutionForm()
    form.set_resolutions(approval.adoptable_resolutions(run))
    return form if form.resolution_id.choices else None


def _run_page(run: DistributionRun, *, status: int = 200, cancel_form=None, resolution_form=None):
    page = _page_arg()
    pages = max((run.member_count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page, pages)
    lines = _lines_page(run, page, after=_line_key("setelah"), before=_line_key("sebelum"))
    return (
        render_template(
            "payouts/run.html",
            run=run,
            lines=lines,
            page=page,
            pages=pages,
            first_key=line_key(lines[0]) if lines else None,
            last_key=line_key(lines[-1]) if lines else None,
            fund_rows=reports.fund_rows(run),
            group_rows=reports.group_rows(run),
            group_names=_group_names(),
            chart=reports.fund_chart_svg(run) if run.summary else None,
            brackets=reports.amount_distribution(run) if run.summary else [],
            unpaid=run.lines_not_paid,  # kept by every line status change
            can_manage=current_user.has_role(*MANAGE),
            can_post=current_user.has_role(Role.BENDAHARA),
            confirm=ConfirmForm(),
            cancel_form=cancel_form or ReasonForm(),
            resolution_form=_resolution_form(run, resolution_form),
        ),
        status,
    )


def _group_names() -> dict[str, str]:
    """Group code -> the group's name in the page's language (labels, not codes)."""
    from flask_babel import get_locale

    from members.ad.services import current_ad

    locale = str(get_locale() or "id")
    return {g.code: g.name(locale) for g in current_ad().groups}


@bp.get("/<int:run_id>")
@role_required(*READ)
def run(run_id: int):
    return _run_page(_run_or_404(run_id))


@bp.get("/<int:run_id>/baris.<fmt>")
@role_required(*READ)
def run_export(run_id: int, fmt: str):
    run = _run_or_404(run_id)
    return send_export(
        services.iter_run_lines(run),
        list(services.CSV_HEADERS),
        f"shu-{run.fiscal_year}-anggota",
        fmt,
        title=_("SHU anggota %(year)s", year=run.fiscal_year),
    )


@bp.get("/<int:run_id>/laporan.<fmt>")
@role_required(*READ)
def report(run_id: int, fmt: str):
    run = _run_or_404(run_id)
    if not run.summary:
        abort(404)
    if fmt == "pdf":
        data, mimetype = reports.board_report_pdf(run), "application/pdf"
    elif fmt == "xlsx":
        data = reports.board_report_xlsx(run)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise DomainError(_("Format laporan harus pdf atau xlsx."), status=400)
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="laporan-shu-{run.fiscal_year}.{fmt}"'
    )
    return response


@bp.post("/<int:run_id>/batal")
@role_required(*MANAGE)
def cancel(run_id: int):
    run = _run_or_404(run_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Tulis alasan pembatalan."), "error")
        return _run_page(run, status=422, cancel_form=form)
    try:
        services.cancel_run(run, form.reason.data, current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _run_page(_run_or_404(run_id), status=error.status)
    db.session.commit()
    flash(_("Pembagian SHU dibatalkan."), "success")
    return redirect(url_for("payouts.runs"))


@bp.post("/<int:run_id>/setujui")
@role_required(*MANAGE)
def approve(run_id: int):
    run = _run_or_404(run_id)
    form = ResolutionForm()
    form.set_resolutions(approval.adoptable_resolutions(run))
    if not form.validate_on_submit():
        flash(_("Pilih keputusan rapat dari daftar."), "error")
        return _run_page(run, status=422, resolution_form=form)
    try:
        approval.approve_run_with(run, form.resolution_id.data, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _run_page(_run_or_404(run_id), status=error.status)
    db.session.commit()
    flash(_("Pembagian SHU disetujui berdasarkan keputusan rapat anggota."), "success")
    return redirect(url_for("payouts.run", run_id=run.id))


@bp.post("/<int:run_id>/bukukan")
@role_required(Role.BENDAHARA)
def post(run_id: int):
    run = _run_or_404(run_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        posting.post_run(run, by_user=current_user)
        transfers.pay_sukarela(run)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _run_page(_run_or_404(run_id), status=error.status)
    db.session.commit()
    flash(_("SHU sudah dibukukan."), "success")
    return redirect(url_for("payouts.run", run_id=run.id))


def _payments_page(run: DistributionRun, *, status: int = 200, form=None):
    open_lines = db.session.scalars(
        select(DistributionLine)
        .where(
            DistributionLine.run_id == run.id,
            DistributionLine.status == LineStatus.UNPAID,
            DistributionLine.total_idr > 0,
        )
        .order_by(DistributionLine.member_no)
        .limit(200)
    ).all()
    from members.savings.payout_accounts import effective_accounts

    payout_accounts = effective_accounts({line.member_id for line in open_lines})
    transfers = db.session.execute(
        select(PayoutTransfer, DistributionLine.member_no)
        .join(DistributionLine, DistributionLine.id == PayoutTransfer.line_id)
        .where(DistributionLine.run_id == run.id)
        .order_by(PayoutTransfer.id.desc())
        .limit(200)
    ).all()
    return (
        render_template(
            "payouts/payments.html",
            run=run,
            open_lines=open_lines,
            payout_accounts=payout_accounts,
            transfers=transfers,
            form=form or TransferForm(),
            confirm=ConfirmForm(),
            can_manage=current_user.has_role(*MANAGE),
            can_cash=current_user.has_role(Role.BENDAHARA),
            TransferStatus=TransferStatus,
        ),
        status,
    )


@bp.get("/<int:run_id>/pembayaran")
@role_required(*READ)
def payments(run_id: int):
    return _payments_page(_run_or_404(run_id))


def _refused(line: DistributionLine, message: str, status: int = 422, form=None):
    db.session.rollback()
    flash(message, "error")
    return _payments_page(_run_or_404(line.run_id), status=status, form=form)


def _line_or_404(line_id: int) -> DistributionLine:
    line = db.session.get(DistributionLine, line_id)
    if line is None:
        abort(404)
    return line


@bp.post("/baris/<int:line_id>/transfer")
@role_required(*MANAGE)
def request_transfer(line_id: int):
    line = _line_or_404(line_id)
    form = TransferForm()
    if not form.validate_on_submit():
        messages = [m for errors in form.errors.values() for m in errors]
        return _refused(line, " ".join(str(m) for m in messages), 422, form)
    try:
        transfers.request_transfer(
            line,
            bank=form.bank.data,
            account=form.account.data,
            account_name=form.account_name.data,
            by_user=current_user,
        )
    except DomainError as error:
        return _refused(line, error.message, error.status, form)
    db.session.commit()
    flash(_("Transfer diajukan: perlu persetujuan pengurus lain."), "success")
    return redirect(url_for("payouts.payments", run_id=line.run_id))


@bp.post("/baris/<int:line_id>/tunai")
@role_required(Role.BENDAHARA)
def pay_cash(line_id: int):
    line = _line_or_404(line_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        transfers.pay_cash(line, current_user)
    except DomainError as error:
        return _refused(line, error.message, error.status)
    db.session.commit()
    flash(_("SHU dibayar tunai."), "success")
    return redirect(url_for("payouts.payments", run_id=line.run_id))


def _transfer_or_404(transfer_id: int) -> PayoutTransfer:
    transfer = db.session.get(PayoutTransfer, transfer_id)
    if transfer is None:
        abort(404)
    return transfer


@bp.post("/transfer/<int:transfer_id>/setujui")
@role_required(*MANAGE)
def approve_transfer(transfer_id: int):
    transfer = _transfer_or_404(transfer_id)
    line = db.session.get(DistributionLine, transfer.line_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        transfers.approve_transfer(transfer, current_user)
    except DomainError as error:
        return _refused(line, error.message, error.status)
    db.session.commit()
    flash(_("Transfer disetujui dan dikirim."), "success")
    return redirect(url_for("payouts.payments", run_id=line.run_id))


@bp.post("/transfer/<int:transfer_id>/tolak")
@role_required(*MANAGE)
def reject_transfer(transfer_id: int):
    transfer = _transfer_or_404(transfer_id)
    line = db.session.get(DistributionLine, transfer.line_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        transfers.reject_transfer(transfer, current_user)
    except DomainError as error:
        return _refused(line, error.message, error.status)
    db.session.commit()
    flash(_("Transfer ditolak; SHU anggota tetap menunggu dibayar."), "success")
    return redirect(url_for("payouts.payments", run_id=line.run_id))


@bp.route("/jasa-usaha/impor", methods=["GET", "POST"])
@role_required(Role.PENGURUS, Role.BENDAHARA, Role.ADMIN)
def import_patronage():
    from payouts.importer import import_patronage_csv

    form = PatronageUploadForm()
    result = None
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read()
        result = import_patronage_csv(
            data, source_ref=form.source_ref.data.strip(), dry_run=form.dry_run.data
        )
        if result.errors or form.dry_run.data:
            db.session.rollback()
            status = 422 if result.errors else 200
        else:
            db.session.commit()
            flash(
                _(
                    "%(n)s catatan disimpan, %(d)s sudah ada sebelumnya.",
                    n=result.inserted,
                    d=result.duplicates,
                ),
                "success",
            )
    elif request.method == "POST":
        status = 422
    return render_template("payouts/import.html", form=form, result=result), status


# --------------------------------------------------------------------------- member


def _member():
    from members.register.queries import member_for_user

    return member_for_user(current_user)


def slip_paragraphs(run: DistributionRun, line: DistributionLine) -> list[str]:
    """The plain-language explanation of one member's SHU."""
    info = explain.explanation_for(run, line)
    group = info["group"]
    measure = MEASURE_WORDS.get(_group_measure(line.group_code), _l("kegiatan"))
    rp = reports.rp
    texts = [
        _(
            "Tahun buku %(year)s koperasi mendapat sisa hasil usaha (SHU) %(shu)s. Sesuai AD, "
            "%(pool)s dari SHU itu dibagikan kembali kepada anggota (jasa anggota); sisanya "
            "untuk cadangan dan dana-dana koperasi.",
            year=run.fiscal_year,
            shu=rp(run.shu_idr or 0),
            pool=rp(info["members_pool_idr"]),
        ),
        _(
            "Kelompok Anda (%(group)s) mendapat %(gpool)s. Bagian ini dibagi dua: %(modal)s "
            "untuk jasa modal (menurut simpanan) dan %(usaha)s untuk jasa usaha (menurut kerja "
            "Anda lewat koperasi).",
            group=line.group_code,
            gpool=rp(group.get("pool_idr", 0)),
            modal=rp(group.get("modal_pool_idr", 0)),
            usaha=rp(group.get("usaha_pool_idr", 0)),
        ),
        _(
            "Simpanan pokok dan wajib Anda dihitung %(capital)s, dari total %(total)s milik "
            "kelompok Anda, atau %(pct)s%% dari seluruhnya. Maka jasa modal Anda %(jm)s.",
            capital=rp(line.capital_basis_idr),
            total=rp(group.get("capital_total_idr", 0)),
            pct=info["modal_share_pct"],
            jm=rp(line.jasa_modal_idr),
        ),
        _(
            "Tahun itu Anda mencatat %(value)s %(measure)s, dari total %(total)s %(measure)s "
            "kelompok Anda, atau %(pct)s%% dari seluruhnya. Maka jasa usaha Anda %(ju)s.",
            value=format_number(line.patronage),
            measure=measure,
            total=format_number(group.get("patronage_total", 0)),
            pct=info["usaha_share_pct"],
            ju=rp(line.jasa_usaha_idr),
        ),
    ]
    if line.months < 12:
        texts.append(
            _(
                "Anda menjadi anggota %(m)s bulan pada tahun itu, jadi jasa modal Anda dihitung "
                "sebanding dengan %(m)s dari 12 bulan.",
                m=line.months,
            )
        )
    texts.append(
        _(
            "Jumlah SHU Anda: %(total)s. Angka dibulatkan ke Rupiah penuh; sisa pembulatan "
            "diberikan satu Rupiah per anggota kepada sisa pecahan terbesar.",
            total=rp(line.total_idr),
        )
    )
    return texts


def _group_measure(code: str) -> str:
    from members.ad.services import current_ad

    group = current_ad().get_group(code)
    return group.patronage_measure if group else ""


def _member_lines(member: Member):
    return db.session.execute(
        select(DistributionLine, DistributionRun)
        .join(DistributionRun, DistributionRun.id == DistributionLine.run_id)
        .where(
            DistributionLine.member_id == member.id,
            DistributionRun.status != RunStatus.CANCELLED,
        )
        .order_by(DistributionRun.fiscal_year.desc())
    ).all()


@bp.get("/saya")
@role_required(Role.ANGGOTA, Role.PARTNER)
def my_shu():
    member = _member()
    if member is None:
        return render_template("payouts/my_none.html")
    rows = _member_lines(member)
    return render_template("payouts/my_list.html", rows=rows, member=member)


def _my_line(run_id: int):
    member = _member()
    if member is None:
        abort(404)
    run = _run_or_404(run_id)
    if RunStatus(run.status) is RunStatus.CANCELLED:
        abort(404)
    line = transfers.member_line(run, member.id)
    if line is None:
        abort(404)
    return member, run, line


def _chooses_for(member) -> bool:
    """A company's SHU is the company's money: of its staff logins only its manager (the
    representative or the login that applied) chooses how it is paid."""
    return not member.is_company or can_designate(current_user, member)


@bp.route("/saya/<int:run_id>", methods=["GET", "POST"])
@role_required(Role.ANGGOTA, Role.PARTNER)
def my_slip(run_id: int):
    member, run, line = _my_line(run_id)
    form = MethodForm(method=PayoutMethod(line.method).value)
    status = 200
    if request.method == "POST" and not _chooses_for(member):
        abort(403)
    if form.validate_on_submit():
        try:
            transfers.choose_method(line, form.method.data)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            status = 422
        else:
            db.session.commit()
            flash(_("Pilihan cara menerima SHU disimpan."), "success")
            return redirect(url_for("payouts.my_slip", run_id=run.id))
    elif request.method == "POST":
        status = 422
    return (
        render_template(
            "payouts/slip.html",
            member=member,
            run=run,
            line=line,
            paragraphs=slip_paragraphs(run, line),
            form=form,
            can_choose=LineStatus(line.status) is LineStatus.UNPAID
            and RunStatus(run.status) in (RunStatus.COMPUTED, RunStatus.APPROVED, RunStatus.POSTED)
            and _chooses_for(member),
        ),
        status,
    )


@bp.get("/saya/<int:run_id>/slip.pdf")
@role_required(Role.ANGGOTA, Role.PARTNER)
def my_slip_pdf(run_id: int):
    member, run, line = _my_line(run_id)
    data = reports.slip_pdf(run, line, member.display_name, slip_paragraphs(run, line))
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="slip-shu-{run.fiscal_year}-{line.member_no}.pdf"'
    )
    return response


@bp.post("/iris/notifikasi")
def iris_notification():
    """Iris payout notifications (public, authenticated by the ``Iris-Signature`` header).
    A repeated notification changes nothing; a bad signature is a 401, nothing written."""
    from flask import current_app, jsonify

    from kmp.payments.iris import (
        IRIS_SIGNATURE_HEADER,
        confirm_payout_status,
        verify_iris_signature,
    )

    raw = request.get_data(cache=False)
    key = current_app.config.get("KMP_IRIS_MERCHANT_KEY")
    if not key and current_app.config.get("ENV_NAME") != "production":
        key = "fake-merchant"  # the fake disburser's key (production refuses to start without)
    if not key or not verify_iris_signature(raw, request.headers.get(IRIS_SIGNATURE_HEADER), key):
        return jsonify({"error": {"code": "bad_signature", "message": "Tanda tangan salah."}}), 401
    try:
        import json

        payload = json.loads(raw)
        reference, status = str(payload["reference_no"]), str(payload["status"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return jsonify({"error": {"code": "bad_request", "message": "Isi notifikasi rusak."}}), 400
    try:
        # The notice says what Iris says; money moves on what Iris confirms when asked.
        confirmed = confirm_payout_status(transfers.get_disburser(), reference, status)
        changed = transfers.apply_transfer_status(
            reference, confirmed, str(payload.get("error_message") or "")
        )
    except DomainError as error:
        db.session.rollback()
        return jsonify({"error": {"code": error.code, "message": error.message}}), error.status
    db.session.commit()
    return jsonify({"status": "ok", "changed": changed}), 200


def init_views(app: Flask) -> None:
    from kmp.extensions import csrf, limiter
    from kmp.templating import NavItem, register_nav

    csrf.exempt(iris_notification)
    limiter.exempt(iris_notification)
    app.register_blueprint(bp)
    register_nav(
        app,
        NavItem("payouts.my_shu", _l("SHU saya"), (Role.ANGGOTA, Role.PARTNER), 30),
        NavItem("payouts.runs", _l("Pembagian SHU"), READ, 300),
        NavItem(
            "payouts.import_patronage",
            _l("Impor jasa usaha"),
            (Role.PENGURUS, Role.BENDAHARA, Role.ADMIN),
            310,
        ),
    )
