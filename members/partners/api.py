"""Partner API endpoints of the members feature: linked workers, check-off remittances and
the contributions summary. Every endpoint needs an API key with the right scope and only
ever sees the key's own company."""

from __future__ import annotations

import marshmallow as ma
from flask import Flask
from sqlalchemy.exc import IntegrityError

from kmp.api import (
    PageArgsSchema,
    api_blueprint,
    current_principal,
    page_of,
    page_schema,
    register_api_blueprint,
    scope_required,
    set_key_resolver,
)
from kmp.errors import NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from members.partners import keys as partners_keys
from members.partners import links as partners_links
from members.partners import remittances as partners_remittances
from members.partners import summary as partners_summary
from members.partners import validation as partners_validation
from members.partners import webhooks as partners_webhooks
from members.partners.models import Remittance, WorkerLink
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings import queries as savings_queries

blp = api_blueprint(
    "partner_api", __name__, description="Mitra platform: pengemudi, remitansi, kontribusi"
)

WORKER_ID = partners_validation.WORKER_ID
MAX_IDR = partners_validation.MAX_IDR


# =========================================================================== schemas


class WorkerSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    platform_worker_id = ma.fields.String(required=True)
    member_no = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(
        required=True, validate=ma.validate.OneOf([s.value for s in MemberStatus])
    )
    arrears_idr = ma.fields.Integer(required=True)
    linked_at = ma.fields.DateTime(required=True)


WorkerPageSchema = page_schema(WorkerSchema, "WorkerPage")


#: The one schema of a remittance (API, portal CSV): ``members.partners.validation``.
RemittanceLineLoadSchema = partners_validation.RemittanceLineLoadSchema
RemittanceLoadSchema = partners_validation.RemittanceLoadSchema


class RemittanceLineSchema(ma.Schema):
    line_no = ma.fields.Integer(required=True)
    platform_worker_id = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    amount_idr = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["accepted", "rejected"]))
    reason_code = ma.fields.String(allow_none=True, required=True)
    reason = ma.fields.String(allow_none=True, required=True)


class RemittanceSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    remittance_id = ma.fields.String(required=True, attribute="remittance_ref")
    paid_on = ma.fields.Date(required=True)
    total_idr = ma.fields.Integer(required=True)
    accepted_idr = ma.fields.Integer(required=True)
    rejected_idr = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True)


class RemittanceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    remittance_id = ma.fields.String(required=True)
    paid_on = ma.fields.Date(required=True)
    total_idr = ma.fields.Integer(required=True)
    accepted_idr = ma.fields.Integer(required=True)
    rejected_idr = ma.fields.Integer(required=True)
    entry_id = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True)
    replayed = ma.fields.Boolean(required=True)
    lines = ma.fields.List(ma.fields.Nested(RemittanceLineSchema), required=True)


RemittancePageSchema = page_schema(RemittanceSummarySchema, "RemittancePage")


class MonthSchema(ma.Schema):
    month = ma.fields.String(required=True)
    pokok_idr = ma.fields.Integer(required=True)
    wajib_idr = ma.fields.Integer(required=True)
    sukarela_idr = ma.fields.Integer(required=True)


class PatronageMonthSchema(ma.Schema):
    period = ma.fields.String(required=True)
    measure = ma.fields.String(required=True)
    value = ma.fields.Integer(required=True)


class ContributionsSchema(ma.Schema):
    company_name = ma.fields.String(required=True)
    member_no = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(required=True)
    pokok_idr = ma.fields.Integer(required=True)
    wajib_idr = ma.fields.Integer(required=True)
    linked_workers = ma.fields.Integer(required=True)
    active_workers = ma.fields.Integer(required=True)
    workers_in_arrears = ma.fields.Integer(required=True)
    remittance_count = ma.fields.Integer(required=True)
    accepted_idr = ma.fields.Integer(required=True)
    rejected_idr = ma.fields.Integer(required=True)
    months = ma.fields.List(ma.fields.Nested(MonthSchema), required=True)
    patronage = ma.fields.List(ma.fields.Nested(PatronageMonthSchema), required=True)


# =========================================================================== endpoints


def _company() -> Member:
    company = db.session.get(Member, current_principal().company_id)
    if company is None:  # the key's company was removed: treat as a bad key
        raise NotFound(gettext("Perusahaan tidak ditemukan."))
    return company


@blp.get("/workers")
@scope_required("members:read")
@blp.arguments(PageArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, WorkerPageSchema)
def list_workers(args):
    """Linked workers who consented (member number, status, arrears)."""
    page = page_of(partners_links.links_query(current_principal().company_id), WorkerLink.id, args)
    page["items"] = [partners_links.worker_view(link) for link in page["items"]]
    db.session.commit()  # last-used time of the key
    return page


@blp.get("/workers/<string:platform_worker_id>")
@scope_required("members:read")
@blp.response(200, WorkerSchema)
def get_worker(platform_worker_id: str):
    """One linked worker by platform worker id (404 unless linked to this company)."""
    principal = current_principal()
    try:
        WORKER_ID(platform_worker_id)
    except ma.ValidationError:
        raise NotFound(gettext("Mitra pengemudi ini tidak tertaut ke perusahaan Anda.")) from None
    result = partners_links.linked_worker(principal.company_id, platform_worker_id)
    db.session.commit()
    return result


@blp.post("/remittances")
@scope_required("remittance:write")
@blp.arguments(RemittanceLoadSchema)
@blp.response(201, RemittanceSchema)
@blp.alt_response(200, schema=RemittanceSchema, description="Replay: the original result")
def post_remittance(data):
    """Check-off remittance: savings deducted from workers' earnings. Idempotent by
    remittance_id; the total must equal the sum of the lines."""
    principal = current_principal()
    company = _company()
    lines = [partners_remittances.RemittanceLineIn(**line) for line in data["lines"]]
    try:
        remittance, replayed = partners_remittances.submit_remittance(
            company,
            remittance_ref=data["remittance_id"],
            total_idr=data["total_idr"],
            lines=lines,
            paid_on=data.get("paid_on"),
            source="api",
            api_key_id=principal.key_id,
        )
        db.session.commit()
    except IntegrityError:  # a concurrent twin won the race: answer with its result
        db.session.rollback()
        remittance = partners_remittances.find_remittance(company.id, data["remittance_id"])
        if remittance is None:
            raise
        replayed = True
    result = partners_remittances.remittance_result(remittance)
    result["replayed"] = replayed
    return result, 200 if replayed else 201


@blp.get("/remittances")
@scope_required("remittance:write", "contributions:read")
@blp.arguments(PageArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, RemittancePageSchema)
def list_remittances(args):
    """The company's remittances, oldest first."""
    page = page_of(
        partners_remittances.remittances_query(current_principal().company_id), Remittance.id, args
    )
    db.session.commit()
    return page


@blp.get("/remittances/<int:remittance_id>")
@scope_required("remittance:write", "contributions:read")
@blp.response(200, RemittanceSchema)
def get_remittance(remittance_id: int):
    """One remittance with its accepted and rejected lines."""
    remittance = partners_remittances.get_remittance(current_principal().company_id, remittance_id)
    result = partners_remittances.remittance_result(remittance)
    result["replayed"] = False
    db.session.commit()
    return result


@blp.get("/contributions")
@scope_required("contributions:read")
@blp.response(200, ContributionsSchema)
def contributions():
    """The company's own capital and its workers' contributions in aggregate."""
    company = _company()
    summary = partners_summary.company_summary(company)
    balances = savings_queries.savings_balances(company)
    result = {
        "company_name": company.display_name,
        "member_no": company.member_no,
        "status": MemberStatus(company.status).value,
        "pokok_idr": balances.get("pokok", 0),
        "wajib_idr": balances.get("wajib", 0),
        "linked_workers": summary["linked"],
        "active_workers": summary["active"],
        "workers_in_arrears": summary["arrears_count"],
        "remittance_count": summary["remittance_count"],
        "accepted_idr": summary["accepted_idr"],
        "rejected_idr": summary["rejected_idr"],
        "months": [
            {
                "month": month,
                "pokok_idr": parts.get("pokok", 0),
                "wajib_idr": parts.get("wajib", 0),
                "sukarela_idr": parts.get("sukarela", 0),
            }
            for month, parts in summary["savings_by_month"]
        ],
        "patronage": [
            {"period": p, "measure": m, "value": v} for p, m, v in summary["patronage_by_month"]
        ],
    }
    db.session.commit()
    return result


def init_api(app: Flask) -> None:
    from kmp import signals
    from kmp.cli import register_init_hook
    from kmp.scheduler import Job, register_jobs
    from members.partners.views import init_portal

    set_key_resolver(app, partners_keys.resolve_api_key)
    init_portal(app)
    register_init_hook(app, partners_remittances.install_partner_accounts)
    register_api_blueprint(app, blp)
    signals.member_status_changed.connect(partners_webhooks.on_member_status_changed, weak=False)
    register_jobs(
        app,
        Job(
            id="members.partner_webhooks",
            func=partners_webhooks.deliver_webhooks_job,
            trigger="interval",
            trigger_args={"minutes": 1},
            description="Kirim notifikasi webhook mitra platform",
        ),
    )
