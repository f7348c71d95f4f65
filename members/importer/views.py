"""The board's import page and the CSV template."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from members.importer.forms import ImportForm
from members.register.web import MANAGERS

bp = Blueprint("importer", __name__)


@bp.route("/pengurus/impor", methods=["GET", "POST"])
@role_required(*MANAGERS)
def import_page():
    from members.importer.services import import_members

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
    from members.importer.services import COLUMNS

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
