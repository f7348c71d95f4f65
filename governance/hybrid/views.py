"""Pages of the hybrid meeting: tellers, the door scanner, the live quorum, the paper count."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from governance.hybrid import services as hybrid
from governance.hybrid.forms import MemberNoForm, SheetForm, TellerForm
from governance.models import MeetingMode
from governance.views import (
    MANAGE_ROLES,
    PARTICIPANT_ROLES,
    READ_ROLES,
    _can_manage,
    _commit,
    _fail,
    _group_names,
    _is_board,
    _meeting_or_404,
    _proposal_or_404,
    bp,
)
from kmp.auth import find_user_by_login, role_required
from kmp.errors import DomainError
from kmp.extensions import db


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _teller_or_403(meeting) -> None:
    if not hybrid.is_teller(meeting, current_user):
        abort(403)


# --------------------------------------------------------------------------- tellers


def _tellers_page(meeting, form, status=200):
    return render_template(
        "governance/tellers.html",
        meeting=meeting,
        form=form,
        tellers=hybrid.tellers_of(meeting),
        can_manage=_can_manage(),
    ), status


@bp.get("/rapat/<int:meeting_id>/penghitung")
@role_required(*READ_ROLES)
def tellers(meeting_id: int):
    return _tellers_page(_meeting_or_404(meeting_id), TellerForm())


@bp.post("/rapat/<int:meeting_id>/penghitung")
@role_required(*MANAGE_ROLES)
def teller_assign(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = TellerForm()
    if form.validate_on_submit():
        user = find_user_by_login(form.login.data)
        try:
            hybrid.assign_teller(meeting, user, current_user)
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("%(name)s menjadi penghitung suara.", name=user.full_name), "success")
            return redirect(url_for("governance.tellers", meeting_id=meeting_id), 303)
    return _tellers_page(meeting, form, 422)


@bp.post("/rapat/<int:meeting_id>/penghitung/<int:teller_id>/hapus")
@role_required(*MANAGE_ROLES)
def teller_remove(meeting_id: int, teller_id: int):
    meeting = _meeting_or_404(meeting_id)
    _commit(
        lambda: hybrid.remove_teller(meeting, teller_id, current_user),
        _("Penghitung suara dihapus."),
    )
    return redirect(url_for("governance.tellers", meeting_id=meeting_id), 303)


# --------------------------------------------------------------------------- door scanner


@bp.get("/rapat/<int:meeting_id>/pindai")
@role_required(*PARTICIPANT_ROLES)
def scanner(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    _teller_or_403(meeting)
    return render_template(
        "governance/scanner.html",
        meeting=meeting,
        form=MemberNoForm(),
        quorum=hybrid.meeting_quorum(meeting),
        proposals=[p for p in meeting.proposals if p.secret],
    )


@bp.post("/rapat/<int:meeting_id>/pindai")
@role_required(*PARTICIPANT_ROLES)
def scanner_check_in(meeting_id: int):
    """The door: JSON for the camera page's script, a page for the typed fallback."""
    meeting = _meeting_or_404(meeting_id)
    _teller_or_403(meeting)
    form = MemberNoForm()
    if not form.validate_on_submit():
        if _wants_json():
            return jsonify(ok=False, message=_("Nomor anggota wajib diisi.")), 422
        return render_template(
            "governance/scanner.html",
            meeting=meeting,
            form=form,
            quorum=hybrid.meeting_quorum(meeting),
            proposals=[p for p in meeting.proposals if p.secret],
        ), 422
    try:
        record = hybrid.teller_check_in(meeting, form.member_no.data, current_user)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        if _wants_json():
            return jsonify(ok=False, message=error.message, code=error.code), error.status
        form.member_no.errors = [*form.member_no.errors, error.message]
        return render_template(
            "governance/scanner.html",
            meeting=meeting,
            form=form,
            quorum=hybrid.meeting_quorum(meeting),
            proposals=[p for p in meeting.proposals if p.secret],
        ), error.status
    message = _("%(name)s tercatat hadir.", name=record.member.display_name)
    if _wants_json():
        return jsonify(ok=True, message=message, quorum=hybrid.meeting_quorum(meeting).as_json())
    flash(message, "success")
    return redirect(url_for("governance.scanner", meeting_id=meeting_id), 303)


@bp.get("/rapat/<int:meeting_id>/kuorum.json")
@role_required(*PARTICIPANT_ROLES)
def quorum_json(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    if not (_is_board() or hybrid.is_teller(meeting, current_user)):
        abort(403)
    return jsonify(hybrid.meeting_quorum(meeting).as_json())


# --------------------------------------------------------------------------- paper ballots


def _paper_page(proposal, *, issue_form=None, sheet_form=None, decide_form=None, status=200):
    names = _group_names()
    sheets = hybrid.paper_sheets(proposal)
    return render_template(
        "governance/paper.html",
        proposal=proposal,
        meeting=proposal.meeting,
        issue_form=issue_form or MemberNoForm(),
        sheet_form=(sheet_form or SheetForm()).fill(proposal, names),
        decide_form=(decide_form or SheetForm(prefix="d")).fill(proposal, names),
        sheets=sheets,
        flagged=[s for s in sheets if s.state == "mismatch"],
        voters=hybrid.paper_participations(proposal),
        merged=hybrid._merged(proposal),
        me=current_user.id,
        group_names=names,
    ), status


def _paper_proposal_or_404(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    meeting = proposal.meeting
    _teller_or_403(meeting)  # no meeting: nobody is its teller
    if meeting.mode is MeetingMode.ONLINE:
        abort(404)
    return proposal


@bp.get("/pemungutan/<int:proposal_id>/kertas")
@role_required(*PARTICIPANT_ROLES)
def paper(proposal_id: int):
    return _paper_page(_paper_proposal_or_404(proposal_id))


def _paper_action(proposal, form, action, success, **page):
    try:
        result = action()
        db.session.commit()
    except DomainError as error:
        _fail(form, error)
        return _paper_page(proposal, status=error.status, **page)
    flash(success(result), "success")
    return redirect(url_for("governance.paper", proposal_id=proposal.id), 303)


@bp.post("/pemungutan/<int:proposal_id>/kertas/ambil")
@role_required(*PARTICIPANT_ROLES)
def paper_issue(proposal_id: int):
    proposal = _paper_proposal_or_404(proposal_id)
    form = MemberNoForm()
    if not form.validate_on_submit():
        return _paper_page(proposal, issue_form=form, status=422)
    return _paper_action(
        proposal,
        form,
        lambda: hybrid.issue_paper_ballot(proposal, form.member_no.data, current_user),
        lambda _p: _("Surat suara kertas diberikan. Catat hanya kelompoknya, bukan namanya."),
        issue_form=form,
    )


@bp.post("/pemungutan/<int:proposal_id>/kertas/lembar")
@role_required(*PARTICIPANT_ROLES)
def paper_sheet(proposal_id: int):
    proposal = _paper_proposal_or_404(proposal_id)
    form = SheetForm().fill(proposal, _group_names())
    if not form.validate_on_submit():
        return _paper_page(proposal, sheet_form=form, status=422)
    return _paper_action(
        proposal,
        form,
        lambda: hybrid.enter_paper_sheet(
            proposal, form.serial.data, form.group_code.data, form.option.data, current_user
        ),
        lambda entry: _("Lembar %(n)s tercatat.", n=entry.serial),
        sheet_form=form,
    )


@bp.post("/pemungutan/<int:proposal_id>/kertas/putus")
@role_required(*PARTICIPANT_ROLES)
def paper_decide(proposal_id: int):
    proposal = _paper_proposal_or_404(proposal_id)
    form = SheetForm(prefix="d").fill(proposal, _group_names())
    if not form.validate_on_submit():
        return _paper_page(proposal, decide_form=form, status=422)
    return _paper_action(
        proposal,
        form,
        lambda: hybrid.decide_paper_sheet(
            proposal, form.serial.data, form.group_code.data, form.option.data, current_user
        ),
        lambda d: _("Lembar %(n)s diputuskan penghitung ketiga.", n=d.serial),
        decide_form=form,
    )


@bp.post("/pemungutan/<int:proposal_id>/kertas/gabung")
@role_required(*PARTICIPANT_ROLES)
def paper_merge(proposal_id: int):
    proposal = _paper_proposal_or_404(proposal_id)
    _commit(
        lambda: hybrid.merge_paper_ballots(proposal, current_user),
        _("Hitungan kertas digabung ke hasil pemungutan suara."),
    )
    return redirect(url_for("governance.paper", proposal_id=proposal.id), 303)
