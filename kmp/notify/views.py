"""Message pages: the board's outbox (per message, per campaign), a member's own settings, and
the WhatsApp webhook Meta calls (``/pesan/whatsapp/webhook``)."""

from __future__ import annotations

import hmac
import json
import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from kmp.auth import Role, role_required
from kmp.extensions import db, limiter
from kmp.notify import services
from kmp.notify.forms import PreferencesForm
from kmp.notify.models import ALL_KINDS, Channel, Notification, NotificationStatus
from kmp.notify.providers.whatsapp import (
    parse_status_updates,
    parse_stop_requests,
    verify_signature,
)
from kmp.notify.templates import KINDS, kind_of, optional_kinds
from kmp.templating import mask_tail

log = logging.getLogger("kmp.notify")

bp = Blueprint("notify", __name__, url_prefix="/pesan")

#: Who sees the outbox, and who sees recipients' numbers and addresses unmasked (domain
#: decision 12: the supervisors read the delivery record, they do not need the numbers).
BOARD_READ = (Role.ADMIN, Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS)
UNMASKED = (Role.ADMIN, Role.PENGURUS, Role.BENDAHARA)

STATUS_LABELS = {
    "queued": _l("Antre"),
    "sent": _l("Terkirim"),
    "delivered": _l("Sampai"),
    "read": _l("Dibaca"),
    "failed": _l("Gagal"),
    "skipped": _l("Tidak dikirim (berhenti langganan)"),
}
CHANNEL_LABELS = {"whatsapp": _l("WhatsApp"), "sms": _l("SMS"), "email": _l("Email")}
PER_PAGE = 50


def status_key(status) -> str:
    return "queued" if str(status) == NotificationStatus.PENDING.value else str(status)


def mask_address(address: str | None) -> str:
    """``+62•••••••7890`` / ``b•••@example.id``."""
    if not address:
        return "–"
    if "@" in address:
        local, _at, domain = address.partition("@")
        return f"{local[:1]}•••@{domain}"
    return address[:3] + mask_tail(address[3:], 4)


def _shown(address: str | None) -> str:
    if current_user.has_role(*UNMASKED):
        return address or "–"
    return mask_address(address)


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("hal", "1")), 10_000))
    except ValueError:
        return 1


def _common():
    return {
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "status_key": status_key,
        "shown": _shown,
        "kind_label": lambda code: kind_of(code).label,
    }


# --------------------------------------------------------------------------- the board


@bp.get("")
@role_required(*BOARD_READ)
def messages():
    filters = {k: (request.args.get(k) or "").strip()[:254] for k in ("alamat", "jenis", "status")}
    filters["kampanye"] = (request.args.get("kampanye") or "").strip()[:80]
    error = None
    if filters["status"] and filters["status"] not in STATUS_LABELS:
        error = _("Status tidak dikenal.")
    rows, has_next = [], False
    if error is None:
        rows, has_next = services.search_messages(
            address=filters["alamat"] or None,
            kind=filters["jenis"] or None,
            status=filters["status"] or None,
            campaign=filters["kampanye"] or None,
            page=_page(),
            per_page=PER_PAGE,
        )
    return (
        render_template(
            "notify/messages.html",
            rows=rows,
            has_next=has_next,
            page=_page(),
            filters=filters,
            kinds=KINDS,
            error=error,
            **_common(),
        ),
        400 if error else 200,
    )


@bp.get("/<int:message_id>")
@role_required(*BOARD_READ)
def message(message_id: int):
    row = db.session.get(Notification, message_id)
    if row is None:
        abort(404)
    return render_template(
        "notify/message.html", row=row, events=services.message_events(row.id), **_common()
    )


@bp.get("/kampanye")
@role_required(*BOARD_READ)
def campaigns():
    rows, has_next = services.campaigns(page=_page(), per_page=PER_PAGE)
    return render_template(
        "notify/campaigns.html", rows=rows, has_next=has_next, page=_page(), **_common()
    )


@bp.get("/kampanye/<campaign>")
@role_required(*BOARD_READ)
def campaign(campaign: str):
    counts = services.campaign_counts(campaign[:80])
    if counts["total"] == 0:
        abort(404)
    failed, _more = services.search_messages(campaign=campaign, status="failed", per_page=100)
    return render_template(
        "notify/campaign.html", campaign=campaign, counts=counts, failed=failed, **_common()
    )


# --------------------------------------------------------------------------- a member's settings


def _preferences_form(user) -> PreferencesForm:
    form = PreferencesForm()
    form.receive.choices = [SelectChoice(k.code, str(k.label)) for k in optional_kinds()]
    if request.method == "GET":
        chosen = services.channel_preference(user_id=user.id)
        form.channel.data = str(chosen) if chosen else ""
        out = services.opted_out_kinds(user_id=user.id)
        form.receive.data = (
            []
            if ALL_KINDS in out
            else [c.value for c in form.receive.choices if c.value not in out]
        )
    return form


@bp.route("/pengaturan", methods=["GET", "POST"])
@role_required()
def preferences():
    user = current_user._get_current_object()
    form = _preferences_form(user)
    if form.validate_on_submit():
        channel = form.channel.data or None
        problem = None
        if channel == Channel.EMAIL and not user.email:
            problem = _("Akun Anda belum punya alamat email.")
        elif channel in (Channel.WHATSAPP, Channel.SMS) and not user.phone:
            problem = _("Akun Anda belum punya nomor HP.")
        if problem is None:
            services.set_channel_preference(channel, user_id=user.id)
            keep = set(form.receive.data or [])
            services.set_opt_outs(
                [c.value for c in form.receive.choices if c.value not in keep], user_id=user.id
            )
            db.session.commit()
            flash(_("Pengaturan pesan disimpan."), "success")
            return redirect(url_for("notify.preferences"), 303)
        form.channel.errors = [*form.channel.errors, problem]
    status = 422 if request.method == "POST" else 200
    return render_template("notify/preferences.html", form=form, user=user), status


# --------------------------------------------------------------------------- the webhook


@bp.route("/whatsapp/webhook", methods=["GET", "POST"])
@limiter.exempt
def whatsapp_webhook():
    """Meta's verification handshake (GET) and status notifications (POST, signed). The
    signature or the verify token is the credential: no session opens it."""
    config = current_app.config
    if request.method == "GET":
        expected = config.get("KMP_WHATSAPP_VERIFY_TOKEN") or ""
        given = request.args.get("hub.verify_token") or ""
        if (
            request.args.get("hub.mode") == "subscribe"
            and expected
            and hmac.compare_digest(given.encode(), expected.encode())
        ):
            challenge = request.args.get("hub.challenge") or ""
            return challenge[:200], 200, {"Content-Type": "text/plain; charset=utf-8"}
        return jsonify({"status": "forbidden"}), 403
    raw = request.get_data(cache=False)
    secret = config.get("KMP_WHATSAPP_APP_SECRET") or ""
    if not verify_signature(raw, request.headers.get("X-Hub-Signature-256"), secret):
        log.warning("WhatsApp webhook refused: bad or missing signature")
        return jsonify({"status": "invalid_signature"}), 403
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return jsonify({"status": "bad_request"}), 400
    try:
        counts = services.record_status_updates("whatsapp", parse_status_updates(payload))
        for number in parse_stop_requests(payload):
            services.opt_out(address=number, source="whatsapp")
        db.session.commit()
    except Exception:  # noqa: BLE001 - Meta retries a non-200 answer
        db.session.rollback()
        log.exception("WhatsApp webhook could not be stored")
        return jsonify({"status": "not_stored"}), 503
    return jsonify({"status": "ok", **counts}), 200
