"""The AD pages: the configuration in force, the editor (admin), its history and each version."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import FieldList, FormField

from kmp.auth import role_required
from kmp.errors import DomainError
from kmp.extensions import db
from members.ad import services as ad_services
from members.ad.competence import parse_schemes
from members.ad.config import ADConfig, ADInvalid, diff_payloads
from members.ad.models import ADVersion
from members.ad.validation import validate_ad
from members.articles import services as articles_services
from members.articles.forms import COMPETENCE_LABELS, ADForm
from members.register.web import R

bp = Blueprint("ad", __name__)


def form_data_from_ad(config: ADConfig) -> dict:
    payload = config.to_payload()
    payload["groups"] = [*payload["groups"], {}]  # one empty row to add a group
    payload["shu_allocation"] = [*payload["shu_allocation"], {}]
    payload["base_version"] = config.version
    payload["competence_rules"] = [
        {**rule, "schemes": "; ".join(rule["schemes"])} for rule in payload["competence_rules"]
    ]
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
        "leavers_get_jasa_modal",
        "leavers_get_jasa_usaha",
        "quorum_per_group",
        "max_wajib_arrears_months",
        "notice_period_days",
        "rat_deadline_months",
        "rat_warning_months",
        "distribution_date",
        "require_certified_officers",
        "pengawas_decide_without_bendahara",
        "loan_shu_setoff",
        "loan_interest_is_patronage",
        "certificate_warning_days",
        "officer_term_max_years",
        "backdate_days",
        "max_remittance_per_worker_month_idr",
    ):
        payload[name] = getattr(form, name).data
    for name in ("quorum", "ordinary_threshold", "special_threshold"):
        payload[name] = dict(getattr(form, name).data)
    payload["competence_rules"] = [
        {
            "role": (e.data.get("role") or "").strip(),
            "schemes": parse_schemes(e.data.get("schemes")),
            "grace_days": e.data.get("grace_days"),
        }
        for e in form.competence_rules
    ]
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
        elif parts[0] == "competence_rules" and len(parts) == 3:
            roles = [e.form.role.data for e in form.competence_rules]
            if parts[1] in roles:
                target = getattr(form.competence_rules[roles.index(parts[1])].form, parts[2], None)
        elif len(parts) == 2 and parts[0] in ("quorum", "ordinary_threshold", "special_threshold"):
            target = getattr(getattr(form, parts[0]).form, parts[1], None)
        elif len(parts) == 1 and parts[0] in form._fields:
            target = form[parts[0]]
        if isinstance(target, FormField):  # a whole ratio: its numerator carries the message
            target = getattr(target.form, "numerator", None)
        if target is not None and not isinstance(target, FieldList):
            target.errors = [*list(target.errors or []), message]


@bp.get("/admin/ad")
@role_required(R.ADMIN, R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def ad_view():
    ad = ad_services.current_ad()
    row = db.session.get(ADVersion, ad.version_id)
    return render_template(
        "members/ad_view.html", ad=ad, row=row, can_edit=current_user.has_role(R.ADMIN, R.PENGURUS)
    )


@bp.route("/admin/ad/ubah", methods=["GET", "POST"])
@role_required(R.ADMIN, R.PENGURUS)
def ad_edit():
    current = ad_services.current_ad()
    if request.method == "GET":
        form = ADForm(data=form_data_from_ad(current))
        return render_template(
            "members/ad_edit.html",
            form=form,
            current=current,
            diff=None,
            problems=[],
            competence_labels=COMPETENCE_LABELS,
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
                    articles_services.update_ad(proposed, current_user, form.reason.data or "")
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
                        url_for("ad.ad_version", version=ad_services.current_ad().version)
                    ), 303
        if problems:
            _attach_problems(form, problems)
            status = 422
    return render_template(
        "members/ad_edit.html",
        form=form,
        current=current,
        diff=diff,
        problems=problems,
        competence_labels=COMPETENCE_LABELS,
    ), status


@bp.get("/admin/ad/riwayat")
@role_required(R.ADMIN, R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def ad_history():
    rows = list(db.session.scalars(select(ADVersion).order_by(ADVersion.version.desc())))
    return render_template("members/ad_history.html", rows=rows)


@bp.get("/admin/ad/versi/<int:version>")
@role_required(R.ADMIN, R.PENGURUS, R.BENDAHARA, R.PENGAWAS)
def ad_version(version: int):
    row, config = ad_services.ad_at_version(version)
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
