"""views.py."""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from governance import common, elections, logic, queries, services
from governance.forms import (
    NominationForm,
    ProposalForm,
    ReasonForm,
    to_local_input,
    to_utc,
)
from governance.models import (
    Meeting,
    Proposal,
    ProposalKind,
    ProposalStatus,
)
from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import now_utc

bp = Blueprint("governance", __name__)


MANAGE_ROLES = (Role.PENGURUS, Role.BENDAHARA)


READ_ROLES = (Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS, Role.ADMIN)


PARTICIPANT_ROLES = (*READ_ROLES, Role.ANGGOTA)


#: Ballot pages also open to a platform company's staff logins (its representative votes).
BALLOT_ROLES = (*PARTICIPANT_ROLES, Role.PARTNER)


RECEIPTS_KEY = "gov_receipts"


def _is_board() -> bool:
    return current_user.has_role(*READ_ROLES)


def _can_manage() -> bool:
    return current_user.has_role(*MANAGE_ROLES)


def _member():
    from members.register.queries import member_for_user

    return member_for_user(current_user)


def _voter():
    from governance.voters import voter_for

    return voter_for(current_user)


def _meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        abort(404)
    return meeting


def _proposal_or_404(proposal_id: int, *, for_casting: bool = False) -> Proposal:
    if for_casting:
        proposal = services.proposal_for_casting(proposal_id)
    else:
        proposal = db.session.get(Proposal, proposal_id)
    if proposal is None:
        abort(404)
    if not _is_board() and proposal.status not in (ProposalStatus.OPEN, ProposalStatus.CLOSED):
        abort(404)
    return proposal


def _group_names() -> dict[str, str]:
    try:
        ad = services.current_ad()
    except DomainError:
        return {}
    return {g.code: g.name_id for g in ad.groups}


def _fail(form, error: DomainError) -> None:
    """Put a refusal on the form field it names (or flash it) after rolling back."""
    db.session.rollback()
    target = getattr(form, error.field, None) if error.field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, error.message]
    else:
        flash(error.message, "error")


def _commit(action, success: str | None = None):
    """Run one service call at the boundary: commit it, or roll back and flash the refusal.

    Returns ``(True, result)`` when committed (flashing ``success`` if given), else
    ``(False, None)``.
    """
    try:
        result = action()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return False, None
    if success:
        flash(success, "success")
    return True, result


def _stored_receipt(proposal_id: int) -> str | None:
    return (session.get(RECEIPTS_KEY) or {}).get(str(proposal_id))


def _remember_receipt(proposal_id: int, code: str) -> None:
    """The receipt code lives in the voter's own (signed, client-side) session cookie, never in
    a server table next to their identity, and never in a URL (access logs)."""
    receipts = dict(session.get(RECEIPTS_KEY) or {})
    receipts[str(proposal_id)] = code
    if len(receipts) > 20:
        for key in sorted(receipts, key=int)[:-20]:
            receipts.pop(key)
    session[RECEIPTS_KEY] = receipts


@bp.get("/pemungutan")
@role_required(*BALLOT_ROLES)
def ballots():
    board = _is_board()
    items = queries.proposals(visible_to_members=not board)
    return render_template(
        "governance/ballots.html",
        proposals=items,
        board=board,
        can_manage=_can_manage(),
        now=now_utc(),
    )


def _references() -> list[tuple[str, str]]:
    """What an SHU proposal may decide on: the computed distribution runs (from payouts)."""
    from flask import current_app

    from kmp import signals

    return signals.ask(
        signals.proposal_references_requested,
        current_app._get_current_object(),
        kind="shu_allocation",
    )


def _proposal_form_defaults(form: ProposalForm) -> None:
    if request.method == "GET":
        start = now_utc().replace(second=0, microsecond=0) + dt.timedelta(hours=1)
        form.opens_at.data = to_local_input(start)
        form.closes_at.data = to_local_input(start + dt.timedelta(days=1))
        if request.args.get("rapat", "").isdigit():
            form.meeting_id.data = request.args["rapat"]


@bp.route("/pemungutan/baru", methods=["GET", "POST"])
@role_required(*MANAGE_ROLES)
def ballot_new():
    form = ProposalForm()
    form.set_meetings(queries.meetings(include_cancelled=False))
    form.set_references(_references())
    _proposal_form_defaults(form)
    if form.validate_on_submit():
        meeting = None
        if form.meeting_id.data:
            meeting = db.session.get(Meeting, int(form.meeting_id.data))
        try:
            proposal = services.create_proposal(
                kind=form.kind.data,
                title=form.title.data,
                body=form.body.data or "",
                opens_at=to_utc(form.opens_at.data),
                closes_at=to_utc(form.closes_at.data),
                secret=form.secret.data,
                allow_change=form.allow_change.data,
                meeting=meeting,
                reference=form.reference.data,
                seats=form.seats.data,
                office=form.office.data or None,
                term_start=form.term_start.data,
                term_end=form.term_end.data,
                nominations_close_at=to_utc(form.nominations_close_at.data),
                by_user=current_user,
            )
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
            return render_template("governance/ballot_form.html", form=form), 422
        flash(_("Usulan dibuat sebagai draf. Pemungutan dibuka otomatis pada waktunya."), "success")
        return redirect(url_for("governance.ballot", proposal_id=proposal.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("governance/ballot_form.html", form=form), status


@bp.get("/pemungutan/<int:proposal_id>")
@role_required(*BALLOT_ROLES)
def ballot(proposal_id: int):
    return _render_ballot(_proposal_or_404(proposal_id))


def _render_ballot(proposal: Proposal):
    now = now_utc()
    who = _voter() if current_user.has_role(Role.ANGGOTA, Role.PARTNER) else None
    member = who.member if who is not None else None
    voter = None
    if member is not None and proposal.status is not ProposalStatus.DRAFT:
        participation = queries.participation_of(proposal, member)
        refusal = who.refusal
        if (
            refusal is None
            and proposal.status is ProposalStatus.OPEN
            and not queries.in_census(proposal, member)
        ):
            refusal = services.census_refusal(proposal, member).message
        voter = {
            "member": member,
            "for_company": who.for_company,
            "voted": participation is not None,
            "receipt": _stored_receipt(proposal.id),
            "refusal": refusal,
            "can_vote": refusal is None
            and proposal.is_open_at(now)
            and (participation is None or proposal.allow_change),
        }
    board = _is_board()
    groups = None
    if board and proposal.status is not ProposalStatus.DRAFT:
        eligible = services.census_counts(proposal)
        cast = services.participation_counts(proposal)
        names = _group_names()
        groups = [
            {"code": c, "name": names.get(c, c), "eligible": n, "cast": cast.get(c, 0)}
            for c, n in sorted(eligible.items())
        ]
    return render_template(
        "governance/ballot.html",
        proposal=proposal,
        voter=voter,
        board=board,
        can_manage=_can_manage(),
        groups=groups,
        now=now,
        reason_form=ReasonForm(),
        nominations=queries.nominations(proposal, accepted_only=True)
        if proposal.is_election
        else [],
    )


@bp.post("/pemungutan/<int:proposal_id>/buka")
@role_required(*MANAGE_ROLES)
def ballot_open(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    _commit(
        lambda: services.open_proposal(proposal, by_user=current_user),
        _("Pemungutan suara dibuka; daftar pemilih dibekukan."),
    )
    return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)


@bp.post("/pemungutan/<int:proposal_id>/tutup")
@role_required(*MANAGE_ROLES)
def ballot_close(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    ok = _commit(lambda: services.close_proposal(proposal, by_user=current_user))[0]
    if not ok:
        return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)
    flash(_("Pemungutan suara ditutup dan dihitung."), "success")
    return redirect(url_for("governance.results", proposal_id=proposal_id), 303)


@bp.post("/pemungutan/<int:proposal_id>/batal")
@role_required(*MANAGE_ROLES)
def ballot_cancel(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Alasan pembatalan wajib diisi."), "error")
        return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)
    _commit(
        lambda: services.cancel_proposal(proposal, current_user, form.reason.data),
        _("Usulan dibatalkan."),
    )
    return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)


@bp.post("/pemungutan/<int:proposal_id>/pilih")
@role_required(Role.ANGGOTA, Role.PARTNER)
def ballot_vote(proposal_id: int):
    # read once, under the shared lock the cast needs (cast_vote does not read it again)
    proposal = _proposal_or_404(proposal_id, for_casting=True)
    who = _voter()
    if who.member is None:
        abort(403)
    if who.refusal:  # a company staff login that is not its representative
        return _render_ballot(proposal), 403
    option = request.form.get("option", "")
    ok, result = _commit(
        lambda: services.cast_vote(proposal, who.member, option, by_user=current_user, locked=True)
    )
    if not ok:
        return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)
    if result.receipt_code:
        _remember_receipt(proposal_id, result.receipt_code)
    flash(_("Suara Anda diubah.") if result.changed else _("Suara Anda tercatat."), "success")
    return redirect(url_for("governance.receipt", proposal_id=proposal_id), 303)


@bp.get("/pemungutan/<int:proposal_id>/tanda-terima")
@role_required(Role.ANGGOTA, Role.PARTNER)
def receipt(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    return render_template(
        "governance/receipt.html", proposal=proposal, code=_stored_receipt(proposal_id)
    )


@bp.get("/pemungutan/<int:proposal_id>/cek")
@role_required(*BALLOT_ROLES)
def receipt_check(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    typed = request.args.get("kode", "")
    code = logic.normalise_receipt_code(typed)
    found = None
    error = None
    if typed:
        if not proposal.secret:
            error = _("Pemungutan ini terbuka (bukan rahasia): tidak ada tanda terima.")
        elif code is None:
            error = _("Kode tanda terima tidak dikenali. Contoh: 7K3M-Q9TX-2HRB.")
        else:
            found = queries.find_receipt(proposal, code)
            if found is None:
                error = _("Kode %(code)s tidak ada di pemungutan ini.", code=code)
    return render_template(
        "governance/receipt_check.html",
        proposal=proposal,
        typed=typed,
        code=code,
        found=found,
        error=error,
        mine=_stored_receipt(proposal_id),
    ), (404 if error and typed else 200)


def _results_context(proposal: Proposal) -> dict:
    resolution = proposal.resolution
    tally = resolution.tally
    names = _group_names()
    option_keys = tally.get("options") or [o["key"] for o in proposal.options]
    valid_keys = [k for k in option_keys if k != common.ABSTAIN]
    context = {
        "proposal": proposal,
        "resolution": resolution,
        "tally": tally,
        "names": names,
        "option_keys": option_keys,
        "valid_keys": valid_keys,
        "receipts": queries.receipts(proposal) if proposal.secret else [],
        "roll_call": queries.roll_call(proposal) if not proposal.secret else [],
        "mine": _stored_receipt(proposal.id),
    }
    if tally["type"] == "election":
        rows = [
            (c["candidate"], logic.unfrac(c["weighted_share"]), logic.unfrac(c["plain_share"]))
            for c in tally["candidates"]
        ]
    else:
        rows = [
            (
                k,
                logic.unfrac((tally["weighted_shares"] or {}).get(k)),
                logic.unfrac((tally["plain_shares"] or {}).get(k)),
            )
            for k in valid_keys
        ]
    chart = logic.bar_chart([(proposal.option_label(k), w, p) for k, w, p in rows])
    context["chart"] = chart
    return context


@bp.get("/pemungutan/<int:proposal_id>/hasil")
@role_required(*BALLOT_ROLES)
def results(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    if proposal.status is not ProposalStatus.CLOSED or proposal.resolution is None:
        flash(_("Hasil baru tersedia sesudah pemungutan suara ditutup."), "info")
        return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)
    return render_template("governance/results.html", **_results_context(proposal))


@bp.get("/pemungutan/<int:proposal_id>/hasil.pdf")
@role_required(*BALLOT_ROLES)
def results_pdf(proposal_id: int):
    from governance.pdf import results_pdf as build_pdf

    proposal = _proposal_or_404(proposal_id)
    if proposal.status is not ProposalStatus.CLOSED or proposal.resolution is None:
        abort(404)
    data = build_pdf(**_results_context(proposal), coop_name=current_app.config["KMP_COOP_NAME"])
    response = current_app.response_class(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="hasil-pemungutan-{proposal.id}.pdf"'
    )
    return response


@bp.get("/pemungutan/<int:proposal_id>/pemilih")
@role_required(*READ_ROLES)
def census(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    if proposal.status is ProposalStatus.DRAFT:
        flash(_("Daftar pemilih dibekukan saat pemungutan dibuka."), "info")
        return redirect(url_for("governance.ballot", proposal_id=proposal_id), 303)
    rows = queries.census_rows(proposal)
    if request.args.get("format") == "csv":
        from kmp.exports import send_export

        return send_export(
            ((e.member_no, e.group_code) for e, _m in rows),
            ["member_no", "group"],
            f"daftar-pemilih-{proposal.id}",
            "csv",
        )
    return render_template(
        "governance/census.html",
        proposal=proposal,
        rows=rows,
        exclusions=queries.exclusion_rows(proposal),
        names=_group_names(),
    )


@bp.get("/pemungutan/<int:proposal_id>/calon")
@role_required(*PARTICIPANT_ROLES)
def candidates(proposal_id: int):
    proposal = _proposal_or_404(proposal_id)
    if not proposal.is_election:
        abort(404)
    return render_template(
        "governance/candidates.html",
        proposal=proposal,
        nominations=queries.nominations(proposal),
        form=NominationForm(),
        can_manage=_can_manage(),
        now=now_utc(),
    )


@bp.post("/pemungutan/<int:proposal_id>/calon")
@role_required(*MANAGE_ROLES)
def candidate_nominate(proposal_id: int):
    from members.register.queries import member_by_no

    proposal = _proposal_or_404(proposal_id)
    if not proposal.is_election:
        abort(404)
    form = NominationForm()
    if form.validate_on_submit():
        member = member_by_no(form.member_no.data.strip().upper())
        try:
            if member is None:
                raise DomainError(
                    _("Nomor anggota tidak ditemukan."), field="member_no", code="member_not_found"
                )
            elections.nominate_candidate(proposal, member, current_user, form.statement.data)
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("%(name)s dicalonkan.", name=member.display_name), "success")
            return redirect(url_for("governance.candidates", proposal_id=proposal_id), 303)
    return render_template(
        "governance/candidates.html",
        proposal=proposal,
        nominations=queries.nominations(proposal),
        form=form,
        can_manage=True,
        now=now_utc(),
    ), 422


@bp.post("/pemungutan/<int:proposal_id>/calon/<int:nomination_id>/tarik")
@role_required(*MANAGE_ROLES)
def candidate_withdraw(proposal_id: int, nomination_id: int):
    proposal = _proposal_or_404(proposal_id)
    nomination = next((n for n in proposal.nominations if n.id == nomination_id), None)
    if nomination is None:
        abort(404)
    _commit(
        lambda: elections.withdraw_nomination(nomination, current_user), _("Pencalonan ditarik.")
    )
    return redirect(url_for("governance.candidates", proposal_id=proposal_id), 303)


@bp.get("/tata-kelola/jejak")
@role_required(*READ_ROLES)
def audit_trail():
    return render_template("governance/audit.html", events=queries.events())


__all__ = [
    "bp",
    "BALLOT_ROLES",
    "MANAGE_ROLES",
    "READ_ROLES",
    "PARTICIPANT_ROLES",
    "ProposalKind",
]
