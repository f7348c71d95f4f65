"""RAT book pages (``/rat/buku``): the year's book with its download links, the board's and
the pengawas' report editors, the ministry export, and the cooperative's profile. Pengawas
read everything and write only their own report."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.exports import send_export
from kmp.extensions import db
from kmp.ledger.services import closed_years
from kmp.timeutil import business_date
from payouts.ratbook import ministry, render, sections, services
from payouts.ratbook.forms import CoopProfileForm, RatTextForm
from payouts.ratbook.models import TextKind

bp = Blueprint("ratbook", __name__, url_prefix="/rat")

READ = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)
BOARD = (Role.PENGURUS, Role.BENDAHARA)
WRITERS = {TextKind.BOARD: BOARD, TextKind.SUPERVISORY: (Role.PENGAWAS,)}
TITLES = {TextKind.BOARD: "Laporan pengurus", TextKind.SUPERVISORY: "Laporan pengawas"}


def _years() -> list[int]:
    last = business_date().year - 1
    closed = closed_years()
    first = min([*closed, last])
    return list(range(last, max(first, last - 10) - 1, -1))


def _year(year: int) -> int:
    try:
        return services.check_book_year(year)
    except DomainError:
        abort(404)


@bp.get("/buku")
@role_required(*READ)
def index():
    years = _years()
    try:
        year = int(request.args.get("tahun", years[0]))
    except ValueError:
        year = years[0]
    year = _year(year)
    built = sections.build_sections(year)
    return render_template(
        "payouts/ratbook/index.html",
        year=year,
        years=years,
        closed=year in closed_years(),
        sections=built,
        texts={kind: sections.rat_text(year, kind) for kind in TextKind},
        can_write={kind: current_user.has_role(*roles) for kind, roles in WRITERS.items()},
        can_edit_profile=current_user.has_role(*BOARD),
        profile=sections.coop_profile(),
    )


def _text_page(year: int, kind: TextKind, form: RatTextForm | None = None, status: int = 200):
    existing = sections.rat_text(year, kind)
    form = form or RatTextForm(data={"body": existing.body if existing else ""})
    return (
        render_template(
            "payouts/ratbook/text.html",
            year=year,
            kind=kind.value,
            title=_(TITLES[kind]),
            form=form,
            may_write=current_user.has_role(*WRITERS[kind]),
            existing=existing,
        ),
        status,
    )


def _save_text(year: int, kind: TextKind):
    year = _year(year)
    form = RatTextForm()
    if not form.validate_on_submit():
        return _text_page(year, kind, form, 422)
    try:
        services.save_rat_text(year, kind, form.body.data, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        form.body.errors = [*form.body.errors, error.message]
        return _text_page(year, kind, form, 422)
    db.session.commit()
    flash(_("Laporan tersimpan."), "success")
    return redirect(url_for("ratbook.index", tahun=year))


@bp.get("/buku/<int:year>/laporan-pengurus")
@role_required(*READ)
def board_text(year: int):
    return _text_page(_year(year), TextKind.BOARD)


@bp.post("/buku/<int:year>/laporan-pengurus")
@role_required(*BOARD)
def save_board_text(year: int):
    return _save_text(year, TextKind.BOARD)


@bp.get("/buku/<int:year>/laporan-pengawas")
@role_required(*READ)
def supervisory_text(year: int):
    return _text_page(_year(year), TextKind.SUPERVISORY)


@bp.post("/buku/<int:year>/laporan-pengawas")
@role_required(Role.PENGAWAS)
def save_supervisory_text(year: int):
    return _save_text(year, TextKind.SUPERVISORY)


@bp.get("/buku/<int:year>.<fmt>")
@role_required(*READ)
def download(year: int, fmt: str):
    year = _year(year)
    if fmt not in ("pdf", "xlsx"):
        abort(404)
    built = sections.build_sections(year)
    if fmt == "pdf":
        data, mimetype = render.book_pdf(year, built), "application/pdf"
    else:
        data = render.book_xlsx(year, built)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="buku-rat-{year}.{fmt}"'
    return response


@bp.get("/data-kemenkop/<int:year>.<fmt>")
@role_required(*READ)
def ministry_export(year: int, fmt: str):
    year = _year(year)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    return send_export(
        ministry.ministry_rows(year),
        list(ministry.HEADERS),
        f"data-koperasi-{year}",
        fmt,
        title=_("Data koperasi %(year)s", year=year),
    )


def _profile_page(form: CoopProfileForm, status: int = 200):
    return (
        render_template(
            "payouts/ratbook/profile.html", form=form, may_edit=current_user.has_role(*BOARD)
        ),
        status,
    )


@bp.get("/profil-koperasi")
@role_required(*READ)
def profile():
    current = sections.coop_profile()
    data = {k: getattr(current, k) for k in CoopProfileForm.FIELDS} if current else {}
    return _profile_page(CoopProfileForm(data=data))


@bp.post("/profil-koperasi")
@role_required(*BOARD)
def save_profile():
    form = CoopProfileForm()
    if not form.validate_on_submit():
        return _profile_page(form, 422)
    try:
        services.save_coop_profile(form.values(), by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        field = getattr(form, error.field or "", None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, error.message]
        else:
            flash(error.message, "error")
        return _profile_page(form, 422)
    db.session.commit()
    flash(_("Profil koperasi tersimpan."), "success")
    return redirect(url_for("ratbook.profile"))
