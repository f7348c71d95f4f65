"""Partner portal pages (blueprint ``partners``): a platform company's contributions
dashboard, remittance history with receipts and rejected lines, CSV remittance upload and API
keys; the board's view of every partner; and the worker's own consent page (link / withdraw).

A partner login sees only its own company; pengurus, bendahara, pengawas see every partner.
"""

from __future__ import annotations

import csv
import io

import marshmallow as ma
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, DateField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from kmp.api import SCOPE_LABELS, SCOPES
from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export, write_pdf
from kmp.extensions import db
from kmp.forms import parse_id
from kmp.replica import replica_reads
from members.partners import keys as partners_keys
from members.partners import links as partners_links
from members.partners import remittances as partners_remittances
from members.partners import summary as partners_summary
from members.partners import validation as partners_validation
from members.partners import webhooks as partners_webhooks
from members.partners.models import ApiKey, LineStatus, WorkerLink
from members.register import queries as register_queries
from members.register.models import Member, MemberKind, MemberStaff
from members.savings import queries as savings_queries

bp = Blueprint("partners", __name__)

R = Role
BOARD = (R.PENGURUS, R.BENDAHARA, R.PENGAWAS, R.ADMIN)
MAX_CSV_BYTES = 2 * 1024 * 1024


# =========================================================================== forms


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Nama kunci (misalnya: server produksi)"), [DataRequired(), Length(max=80)]
    )
    scopes = SelectMultipleField(
        _l("Izin"),
        choices=[SelectChoice(s, s) for s in SCOPES],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


class RemittanceUploadForm(FlaskForm):
    remittance_id = StringField(
        _l("ID remitansi (nomor bukti transfer)"), [DataRequired(), Length(max=80)]
    )
    paid_on = DateField(_l("Tanggal bayar (kosong: hari ini)"), [Optional()])
    file = FileField(_l("Berkas CSV"), [FileRequired()])


class WebhookForm(FlaskForm):
    url = StringField(_l("Alamat webhook (https://...)"), [Length(max=500)])


class LinkForm(FlaskForm):
    company_id = StringField(_l("Perusahaan"), [DataRequired()])
    platform_worker_id = StringField(_l("ID mitra Anda di platform"), [Length(max=60)])
    consent = BooleanField(
        _l(
            "Saya setuju perusahaan ini melihat nomor anggota, status keanggotaan dan tunggakan "
            "simpanan wajib saya, serta memotong simpanan dari pendapatan saya."
        ),
        [DataRequired(_l("Centang persetujuan untuk menautkan."))],
    )


# =========================================================================== helpers


def _is_board() -> bool:
    return current_user.has_role(*BOARD)


def _company_or_403(member_id: int) -> Member:
    company = db.session.get(Member, member_id)
    if company is None or company.kind != MemberKind.COMPANY:
        abort(404)
    if _is_board():
        return company
    if current_user.has_role(R.PARTNER) and register_queries.is_staff_of(current_user, company):
        return company
    abort(403)


def _company_and_staff_or_403(member_id: int) -> tuple[Member, dict]:
    """``_company_or_403`` that keeps the partner login's staff row it read, as keyword
    arguments for ``can_manage_keys`` (empty for the board: not read)."""
    company = db.session.get(Member, member_id)
    if company is None or company.kind != MemberKind.COMPANY:
        abort(404)
    if _is_board():
        return company, {}
    if current_user.has_role(R.PARTNER):
        staff = db.session.scalar(
            select(MemberStaff).where(
                MemberStaff.user_id == current_user.id, MemberStaff.member_id == company.id
            )
        )
        if staff is not None:
            return company, {"staff": staff}
    abort(403)


def _manager_or_403(company: Member) -> None:
    if not partners_keys.can_manage_keys(current_user, company):
        abort(403)


def bar_chart(items: list[tuple[str, int]], width: int = 320, bar: int = 16) -> dict:
    """Geometry for a small horizontal SVG bar chart (no inline style or script)."""
    top = max((v for _, v in items), default=0) or 1
    x0, gap = 64, 6
    bars = []
    for i, (label, value) in enumerate(items):
        y = i * (bar + gap)
        bars.append(
            {
                "label": label,
                "value": value,
                "y": y,
                "text_y": y + bar - 4,
                "width": max(int((width - x0 - 90) * value / top), 1 if value else 0),
            }
        )
    return {
        "width": width,
        "height": max(len(items) * (bar + gap), bar),
        "x0": x0,
        "bar": bar,
        "bars": bars,
    }


def _patronage_series(summary: dict) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for period, _measure, value in summary["patronage_by_month"]:
        if _measure in ("trips", "deliveries"):
            totals[period] = totals.get(period, 0) + value
    return sorted(totals.items())


# =========================================================================== partner pages


@bp.get("/mitra/<int:member_id>/kontribusi")
@role_required(R.PARTNER, *BOARD)
@replica_reads()
def dashboard(member_id: int):
    company, staff = _company_and_staff_or_403(member_id)
    summary = partners_summary.company_summary(company)
    return render_template(
        "members/partner/dashboard.html",
        company=company,
        summary=summary,
        balances=savings_queries.savings_balances(company),
        wajib_chart=bar_chart(summary["wajib_by_month"]),
        patronage_chart=bar_chart(_patronage_series(summary)),
        workers=partners_summary.consenting_workers(company),
        remittances=partners_remittances.recent_remittances(company.id, 50),
        can_manage=partners_keys.can_manage_keys(current_user, company, **staff),
    )


@bp.get("/mitra/<int:member_id>/kontribusi/ekspor")
@role_required(R.PARTNER, *BOARD)
def export(member_id: int):
    company = _company_or_403(member_id)
    rows = [
        (r.remittance_ref, r.paid_on, r.total_idr, r.accepted_idr, r.rejected_idr, r.source)
        for r in partners_remittances.recent_remittances(company.id, 10_000)
    ]
    return send_export(
        rows,
        [
            _("ID remitansi"),
            _("Tanggal bayar"),
            _("Total"),
            _("Diterima"),
            _("Ditolak"),
            _("Sumber"),
        ],
        f"remitansi-{company.member_no or company.id}",
        request.args.get("format", "csv"),
        title=_("Remitansi %(name)s", name=company.display_name),
    )


@bp.get("/mitra/<int:member_id>/remitansi/<int:remittance_id>")
@role_required(R.PARTNER, *BOARD)
def remittance(member_id: int, remittance_id: int):
    company = _company_or_403(member_id)
    item = partners_remittances.get_remittance(company.id, remittance_id)
    return render_template("members/partner/remittance.html", company=company, remittance=item)


@bp.get("/mitra/<int:member_id>/remitansi/<int:remittance_id>/kwitansi.pdf")
@role_required(R.PARTNER, *BOARD)
def remittance_receipt(member_id: int, remittance_id: int):
    company = _company_or_403(member_id)
    item = partners_remittances.get_remittance(company.id, remittance_id)
    rows = [
        (
            ln.line_no,
            ln.platform_worker_id,
            ln.purpose,
            ln.amount_idr,
            _("diterima") if ln.status == LineStatus.ACCEPTED else _("ditolak"),
            ln.reason or "",
        )
        for ln in item.lines
    ]
    rows.append(("", _("TOTAL"), "", item.total_idr, "", ""))
    rows.append(("", _("Diterima"), "", item.accepted_idr, "", ""))
    rows.append(("", _("Ditolak (utang kepada mitra)"), "", item.rejected_idr, "", ""))
    buffer = io.BytesIO()
    write_pdf(
        ["#", _("ID mitra"), _("Simpanan"), _("Jumlah"), _("Status"), _("Keterangan")],
        rows,
        buffer,
        title=_("Tanda terima remitansi %(ref)s", ref=item.remittance_ref),
        subtitle=_(
            "%(company)s · tanggal bayar %(date)s · jurnal #%(entry)s",
            company=company.display_name,
            date=item.paid_on.isoformat(),
            entry=item.entry_id,
        ),
    )
    response = Response(buffer.getvalue(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="remitansi-{item.id}.pdf"'
    return response


def _parse_csv(data: bytes) -> list[dict]:
    """Columns: platform_worker_id, purpose, amount_idr (header row required). Returns the
    raw lines; ``_load_remittance`` checks them with the API's own schema."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(_("Berkas harus CSV berkode UTF-8."), field="file") from None
    if "\x00" in text:
        raise DomainError(_("Berkas CSV berisi karakter NUL."), field="file")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        wanted = {"platform_worker_id", "purpose", "amount_idr"}
        if set(reader.fieldnames or []) != wanted:
            raise DomainError(
                _("Kolom CSV harus: platform_worker_id, purpose, amount_idr."), field="file"
            )
        lines = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise DomainError(
                    _("Baris %(n)s: jumlah kolom tidak tiga.", n=reader.line_num), field="file"
                )
            lines.append(
                {
                    "platform_worker_id": row["platform_worker_id"].strip(),
                    "purpose": row["purpose"].strip().lower(),
                    "amount_idr": partners_validation.csv_amount(row["amount_idr"]),
                }
            )
            if len(lines) > partners_validation.MAX_REMITTANCE_LINES:
                raise DomainError(_("Terlalu banyak baris (maks. 10.000)."), field="file")
    except csv.Error as error:
        raise DomainError(
            _("Berkas CSV tidak dapat dibaca: %(e)s", e=str(error)), field="file"
        ) from None
    if not lines:
        raise DomainError(_("Berkas CSV kosong."), field="file")
    return lines


def _load_remittance(remittance_id: str, paid_on, lines: list[dict]) -> dict:
    """The CSV's lines through ``RemittanceLoadSchema``: the API's bounds, word for word."""
    payload = {
        "remittance_id": (remittance_id or "").strip(),
        "total_idr": sum(ln["amount_idr"] for ln in lines if type(ln["amount_idr"]) is int),
        "paid_on": paid_on.isoformat() if paid_on else None,
        "lines": lines,
    }
    if payload["paid_on"] is None:
        payload.pop("paid_on")
    try:
        return partners_validation.RemittanceLoadSchema().load(payload)
    except ma.ValidationError as error:
        messages = dict(error.messages)
        line_errors = messages.pop("lines", {})
        if isinstance(line_errors, dict):
            for index, problem in sorted(line_errors.items(), key=lambda kv: str(kv[0])):
                text = "; ".join(partners_validation.messages_text(problem))
                if isinstance(index, int):  # CSV row = header + 1-based line
                    raise DomainError(
                        _("Baris %(n)s: %(e)s", n=index + 2, e=text), field="file"
                    ) from None
                raise DomainError(text, field="file") from None
        field = next(iter(messages), "file")
        text = "; ".join(partners_validation.messages_text(messages[field]))
        if field == "total_idr":
            field, text = "file", _("Total berkas di luar batas (1 sampai 10^15 Rupiah).")
        raise DomainError(text, field=field) from None


@bp.route("/mitra/<int:member_id>/remitansi/unggah", methods=["GET", "POST"])
@role_required(R.PARTNER, R.PENGURUS, R.BENDAHARA)
def upload(member_id: int):
    company = _company_or_403(member_id)
    form = RemittanceUploadForm()
    if form.validate_on_submit():
        data = form.file.data.read(MAX_CSV_BYTES + 1)
        try:
            if len(data) > MAX_CSV_BYTES:
                raise DomainError(_("Berkas terlalu besar (maks. 2 MB)."), field="file")
            loaded = _load_remittance(form.remittance_id.data, form.paid_on.data, _parse_csv(data))
            item, replayed = partners_remittances.submit_remittance(
                company,
                remittance_ref=loaded["remittance_id"],
                total_idr=loaded["total_idr"],
                lines=[partners_remittances.RemittanceLineIn(**ln) for ln in loaded["lines"]],
                paid_on=loaded.get("paid_on"),
                source="csv",
                by_user=current_user,
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            target = {"paid_on": form.paid_on, "file": form.file}.get(
                error.field, form.remittance_id
            )
            target.errors = [*target.errors, error.message]
            return render_template("members/partner/upload.html", company=company, form=form), 422
        flash(
            _("Remitansi ini sudah pernah diunggah; hasil awalnya ditampilkan.")
            if replayed
            else _("Remitansi tersimpan."),
            "info" if replayed else "success",
        )
        return redirect(
            url_for("partners.remittance", member_id=company.id, remittance_id=item.id)
        ), 303
    status = 422 if form.is_submitted() else 200
    return render_template("members/partner/upload.html", company=company, form=form), status


@bp.get("/mitra/<int:member_id>/remitansi/contoh.csv")
@role_required(R.PARTNER, *BOARD)
def upload_template(member_id: int):
    _company_or_403(member_id)
    body = "platform_worker_id,purpose,amount_idr\nW-12345,wajib,25000\n"
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="contoh-remitansi.csv"'
    return response


@bp.route("/mitra/<int:member_id>/kunci-api", methods=["GET", "POST"])
@role_required(R.PARTNER, *BOARD)
def api_keys(member_id: int):
    company = _company_or_403(member_id)
    form = ApiKeyForm()
    new_key = None
    status = 200
    if request.method == "POST":
        _manager_or_403(company)
        if form.validate_on_submit():
            try:
                row, new_key = partners_keys.create_api_key(
                    company, name=form.name.data, scopes=form.scopes.data, by_user=current_user
                )
                db.session.commit()
                form = ApiKeyForm(formdata=None)
            except DomainError as error:
                db.session.rollback()
                target = getattr(form, error.field or "name", form.name)
                target.errors = [*target.errors, error.message]
                status = 422
        else:
            status = 422
    response = render_template(
        "members/partner/api_keys.html",
        company=company,
        form=form,
        keys=partners_keys.company_keys(company),
        new_key=new_key,
        scope_labels=SCOPE_LABELS,
        can_manage=partners_keys.can_manage_keys(current_user, company),
    )
    response = Response(response, status=status)
    if new_key:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/mitra/<int:member_id>/kunci-api/<int:key_id>/cabut")
@role_required(R.PARTNER, *BOARD)
def revoke_key(member_id: int, key_id: int):
    company = _company_or_403(member_id)
    _manager_or_403(company)
    key = db.session.get(ApiKey, key_id)
    if key is None or key.company_id != company.id:
        abort(404)
    partners_keys.revoke_api_key(key, current_user)
    db.session.commit()
    flash(_("Kunci API %(p)s sudah dicabut.", p=key.prefix), "success")
    return redirect(url_for("partners.api_keys", member_id=company.id)), 303


@bp.route("/mitra/<int:member_id>/webhook", methods=["GET", "POST"])
@role_required(R.PARTNER, *BOARD)
def webhook(member_id: int):
    company = _company_or_403(member_id)
    form = WebhookForm()
    secret = None
    status = 200
    if request.method == "POST":
        _manager_or_403(company)
        if not form.validate_on_submit():
            status = 422
        else:
            try:
                if request.form.get("action") == "disable":
                    partners_webhooks.disable_webhook(company, current_user)
                else:
                    _hook, secret = partners_webhooks.set_webhook(
                        company, form.url.data, current_user
                    )
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                form.url.errors = [*form.url.errors, error.message]
                status = 422
    hook = partners_webhooks.webhook_of(company.id)
    if hook is not None and request.method == "GET":
        form.url.data = hook.url
    response = Response(
        render_template(
            "members/partner/webhook.html",
            company=company,
            form=form,
            hook=hook,
            secret=secret,
            deliveries=partners_webhooks.webhook_log(company.id),
            error_labels=partners_webhooks.DELIVERY_ERRORS,
            can_manage=partners_keys.can_manage_keys(current_user, company),
        ),
        status=status,
    )
    if secret:
        response.headers["Cache-Control"] = "no-store"
    return response


# =========================================================================== board


@bp.get("/pengurus/mitra")
@role_required(*BOARD)
@replica_reads()
def board_overview():
    rows = [
        (company, partners_summary.company_summary(company))
        for company in partners_links.partner_companies(active_only=False)
    ]
    return render_template("members/partner/board.html", rows=rows)


# =========================================================================== the worker


def _my_member() -> Member:
    member = register_queries.member_for_user(current_user)
    if member is None or member.kind != MemberKind.INDIVIDUAL:
        abort(404)
    return member


def _link_page(member: Member, form: LinkForm, status: int = 200):
    linked = {link.company_id for link in partners_links.links_of_member(member) if link.is_active}
    companies = [c for c in partners_links.partner_companies() if c.id not in linked]
    return render_template(
        "members/partner/links.html",
        member=member,
        form=form,
        links=partners_links.links_of_member(member),
        companies=companies,
    ), status


@bp.route("/anggota/mitra", methods=["GET", "POST"])
@role_required(R.ANGGOTA)
def my_links():
    member = _my_member()
    form = LinkForm()
    if request.method == "GET":
        form.platform_worker_id.data = member.platform_worker_id
        return _link_page(member, form)
    if not form.validate_on_submit():
        return _link_page(member, form, 422)
    company = None
    company_id = parse_id(form.company_id.data)
    if company_id is not None:
        company = db.session.get(Member, company_id)
    try:
        if company is None:
            raise DomainError(_("Pilih perusahaan dari daftar."), field="company_id")
        partners_links.link_worker(member, company, form.platform_worker_id.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        target = getattr(form, error.field or "company_id", form.company_id)
        target.errors = [*target.errors, error.message]
        return _link_page(member, form, 422)
    flash(_("Keanggotaan Anda sudah tertaut ke %(c)s.", c=company.display_name), "success")
    return redirect(url_for("partners.my_links")), 303


@bp.post("/anggota/mitra/<int:link_id>/cabut")
@role_required(R.ANGGOTA)
def my_link_withdraw(link_id: int):
    member = _my_member()
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    link = db.session.scalar(
        select(WorkerLink).where(WorkerLink.id == link_id, WorkerLink.member_id == member.id)
    )
    if link is None:
        abort(404)
    partners_links.withdraw_link(link)
    db.session.commit()
    flash(_("Persetujuan sudah dicabut. Perusahaan tidak lagi melihat data Anda."), "success")
    return redirect(url_for("partners.my_links")), 303


def init_portal(app) -> None:
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    register_nav(
        app,
        NavItem(
            "partners.board_overview",
            _l("Mitra platform"),
            (R.PENGURUS, R.BENDAHARA, R.PENGAWAS),
            125,
        ),
        NavItem("partners.my_links", _l("Tautan platform"), (R.ANGGOTA,), 20),
    )
