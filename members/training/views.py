"""The member's training pages (from the phone): the programmes open to them, enrolment and
withdrawal, their enrolments and certificates; a certificate's scan for its holder."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kmp.auth import BOARD_ROLES, Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.forms import ConfirmForm
from members.register.web import _active_member_or_notice, _my_member
from members.training import queries, services
from members.training.competence import certificates_of
from members.training.forms import (
    CERTIFICATE_LABELS,
    KIND_LABELS,
    OFFICE_LABELS,
    PAYER_LABELS,
    STATUS_LABELS,
)
from members.training.models import Certificate, Enrolment, Programme

bp = Blueprint("training", __name__)

LABELS = {
    "kinds": KIND_LABELS,
    "payers": PAYER_LABELS,
    "offices": OFFICE_LABELS,
    "statuses": STATUS_LABELS,
    "certificate_states": CERTIFICATE_LABELS,
}


def _programme_or_404(programme_id: int) -> Programme:
    return db.session.get(Programme, programme_id) or abort(404)


@bp.get("/anggota/pelatihan")
@role_required(Role.ANGGOTA)
def mine():
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    enrolments = queries.enrolments_of(member)
    taken = {e.programme_id for e in enrolments if str(e.status) != "cancelled"}
    return render_template(
        "members/training/mine.html",
        member=member,
        open_programmes=[p for p in queries.open_for(member) if p.id not in taken],
        enrolments=enrolments,
        positions={e.id: queries.waitlist_position(e) for e in enrolments},
        certificates=certificates_of(member),
        form=ConfirmForm(),
        **LABELS,
    )


@bp.get("/anggota/pelatihan/<int:programme_id>")
@role_required(Role.ANGGOTA)
def programme(programme_id: int):
    member = _my_member()
    if member is None:
        return render_template("members/not_member.html"), 404
    item = _programme_or_404(programme_id)
    enrolment = services.live_enrolment(member, item)
    return render_template(
        "members/training/programme.html",
        programme=item,
        enrolment=enrolment,
        position=queries.waitlist_position(enrolment) if enrolment else None,
        refusal=None if enrolment else services.enrolment_refusal(member, item),
        form=ConfirmForm(),
        **LABELS,
    )


@bp.post("/anggota/pelatihan/<int:programme_id>/daftar")
@role_required(Role.ANGGOTA)
def enrol(programme_id: int):
    member, refusal = _active_member_or_notice()
    if refusal:
        return refusal
    item = _programme_or_404(programme_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        enrolment = services.enrol_member(member, item, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("training.programme", programme_id=item.id)), 303
    db.session.commit()
    if enrolment.holds_seat:
        flash(_("Anda terdaftar di %(t)s.", t=item.title), "success")
    else:
        flash(
            _(
                "Kursi penuh: Anda masuk daftar tunggu nomor %(n)s. Bila ada kursi kosong, "
                "Anda otomatis mendapatkannya dan diberi tahu.",
                n=queries.waitlist_position(enrolment),
            ),
            "success",
        )
    return redirect(url_for("training.programme", programme_id=item.id)), 303


@bp.post("/anggota/pelatihan/pendaftaran/<int:enrolment_id>/batal")
@role_required(Role.ANGGOTA)
def withdraw(enrolment_id: int):
    member = _my_member()
    enrolment = db.session.get(Enrolment, enrolment_id)
    if member is None or enrolment is None or enrolment.member_id != member.id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.cancel_enrolment(enrolment, by_user=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Pendaftaran dibatalkan."), "success")
    return redirect(url_for("training.mine")), 303


@bp.get("/sertifikat/<int:certificate_id>/berkas")
@role_required(Role.ANGGOTA, *BOARD_ROLES)
def certificate_scan(certificate_id: int):
    """The scan, for its holder and the board only (stored outside ``static/``)."""
    from kmp.ledger.books.receipts import receipt_response

    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.scan is None:
        abort(404)
    if not current_user.has_role(*BOARD_ROLES):
        member = _my_member()
        own = (member is not None and certificate.member_id == member.id) or (
            certificate.user_id == current_user.id
        )
        if not own:
            abort(404)
    return receipt_response(certificate.scan)
