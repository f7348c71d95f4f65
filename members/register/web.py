"""View helpers shared by the member pages: roles, paging, lookups, labels, the QR code."""

from __future__ import annotations

import segno
from flask import (
    abort,
    flash,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from kmp.auth import Role
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import as_text
from members.ad.config import ADConfig
from members.register import queries as register_queries
from members.register.models import Member
from members.register.states import IN_GOOD_STANDING, MemberStatus

R = Role


BOARD = (R.PENGURUS, R.BENDAHARA, R.PENGAWAS, R.ADMIN)


DECIDERS = (R.PENGURUS, R.BENDAHARA)


MANAGERS = (R.PENGURUS, R.BENDAHARA, R.ADMIN)


PER_PAGE = 50


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
    return register_queries.member_for_user(current_user)


def card_qr(text: str):
    """The member card's QR code: always a full QR code. (``segno.make`` alone picks a Micro
    QR for a short member number, which phone cameras and the tellers' scanner, jsQR, do not
    read.)"""
    return segno.make(text, error="m", micro=False)


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (no script, no style attribute: fits the CSP)."""
    code = card_qr(text)
    return Markup(code.svg_inline(scale=6, svgclass="qr", title=text))  # noqa: S704


def _groups_for_template(ad: ADConfig):
    return [g for g in ad.groups if g.is_active]


def member_status_label(status) -> str:
    return _(MemberStatus(status).label) if status else "–"


EVENT_LABELS = {
    "applied": _l("Mendaftar"),
    "status": _l("Status berubah"),
    "receipt": _l("Setoran dicatat"),
    "admitted": _l("Diterima sebagai anggota"),
    "imported": _l("Diimpor dari berkas"),
    "staff_added": _l("Login staf ditambahkan"),
    "representative_designated": _l("Perwakilan perusahaan ditunjuk"),
    "contact_updated": _l("Kontak diubah"),
    "nik_correction_requested": _l("Minta koreksi NIK"),
    "nik_corrected": _l("NIK dikoreksi"),
    "refund_paid": _l("Pengembalian simpanan dibayar"),
}


def member_event_label(action: str) -> str:
    if action in EVENT_LABELS:
        return as_text(EVENT_LABELS[action])
    from kmp.labels import code_label

    return code_label(action)


def _bool_arg(name: str) -> bool | None:
    value = request.args.get(name)
    return {"ya": True, "tidak": False}.get(value or "")


def _active_member_or_notice():
    """The current user's member record when it may use member functions, else a notice."""
    member = _my_member()
    if member is None:
        return None, (render_template("members/not_member.html"), 404)
    if MemberStatus(member.status) not in IN_GOOD_STANDING:
        return None, (render_template("members/not_active.html", member=member), 403)
    return member, None
