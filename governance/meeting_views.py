"""Meeting pages: the list, a meeting, notices, attendance and check-in, minutes."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from governance import logic, queries, services
from governance import meetings as meeting_services
from governance.forms import (
    AttachmentForm,
    CheckInForm,
    MeetingForm,
    MinutesForm,
    ReasonForm,
    to_utc,
)
from governance.hybrid.services import is_teller
from governance.models import (
    AttendanceHow,
    MeetingStatus,
    MinutesAttachment,
    ProposalStatus,
)
from governance.notices import message_counts
from governance.views import (
    MANAGE_ROLES,
    PARTICIPANT_ROLES,
    READ_ROLES,
    _can_manage,
    _commit,
    _fail,
    _is_board,
    _meeting_or_404,
    _member,
    bp,
)
from kmp.auth import Role, role_required
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import business_date, now_utc


@bp.get("/rapat")
@role_required(*PARTICIPANT_ROLES)
def meetings():
    board = _is_board()
    items = queries.meetings(include_cancelled=board)
    rat = None
    if board:
        try:
            ad = services.current_ad()
        except DomainError:
            ad = None
        if ad is not None:
            today = business_date()
            year = today.year - 1
            held = queries.rat_held_on(year)
            held_on = business_date(held) if held else None
            rat = {
                "year": year,
                "status": logic.rat_status(
                    year, held_on, today, ad.rat_deadline_months, ad.rat_warning_months
                ),
                "deadline": logic.rat_deadline(year, ad.rat_deadline_months),
                "planned": queries.rat_planned(year),
            }
    return render_template(
        "governance/meetings.html",
        meetings=items,
        board=board,
        can_manage=_can_manage(),
        rat=rat,
        now=now_utc(),
    )


@bp.route("/rapat/baru", methods=["GET", "POST"])
@role_required(*MANAGE_ROLES)
def meeting_new():
    form = MeetingForm()
    form.set_groups(services.current_ad().active_groups)
    if form.validate_on_submit():
        try:
            meeting = meeting_services.create_meeting(
                kind=form.kind.data,
                title=form.title.data,
                agenda=form.agenda.data or "",
                starts_at=to_utc(form.starts_at.data),
                mode=form.mode.data,
                location=form.location.data,
                online_url=form.online_url.data,
                fiscal_year=form.fiscal_year.data,
                group_code=form.group_code.data or None,
                by_user=current_user,
            )
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
            return render_template("governance/meeting_form.html", form=form), 422
        flash(
            _("Rapat dibuat. Kirim undangan paling lambat sesuai masa pemberitahuan AD."), "success"
        )
        return redirect(url_for("governance.meeting", meeting_id=meeting.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("governance/meeting_form.html", form=form), status


@bp.get("/rapat/<int:meeting_id>")
@role_required(*PARTICIPANT_ROLES)
def meeting(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    board = _is_board()
    if not board and meeting.status is MeetingStatus.CANCELLED:
        abort(404)
    member = _member()
    attended = member is not None and queries.has_attended(meeting, member)
    visible = [
        p
        for p in meeting.proposals
        if board or p.status in (ProposalStatus.OPEN, ProposalStatus.CLOSED)
    ]
    try:
        notice_days = services.current_ad().notice_period_days
    except DomainError:
        notice_days = None
    return render_template(
        "governance/meeting.html",
        meeting=meeting,
        board=board,
        can_manage=_can_manage(),
        member=member,
        attended=attended,
        proposals=visible,
        attendance_count=queries.attendance_count(meeting) if board else None,
        notices=queries.notices_of(meeting) if board else None,
        messages=message_counts(meeting) if board else None,
        teller=is_teller(meeting, current_user),
        notice_days=notice_days,
        reason_form=ReasonForm(),
        now=now_utc(),
    )


@bp.post("/rapat/<int:meeting_id>/undangan")
@role_required(*MANAGE_ROLES)
def meeting_notice(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    ok, count = _commit(lambda: meeting_services.send_notice(meeting, current_user))
    if not ok:
        return redirect(url_for("governance.meeting", meeting_id=meeting_id), 303)
    if meeting.notice_late:
        flash(
            _(
                "Undangan dikirim ke %(n)s anggota, tetapi TERLAMBAT: kurang dari %(d)s hari "
                "sebelum rapat.",
                n=count,
                d=meeting.notice_period_days,
            ),
            "warning",
        )
    else:
        flash(_("Undangan dikirim ke %(n)s anggota.", n=count), "success")
    return redirect(url_for("governance.meeting", meeting_id=meeting_id), 303)


@bp.post("/rapat/<int:meeting_id>/diadakan")
@role_required(*MANAGE_ROLES)
def meeting_held(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    _commit(
        lambda: meeting_services.mark_meeting_held(meeting, current_user),
        _("Rapat ditandai sudah diadakan."),
    )
    return redirect(url_for("governance.meeting", meeting_id=meeting_id), 303)


@bp.post("/rapat/<int:meeting_id>/batal")
@role_required(*MANAGE_ROLES)
def meeting_cancel(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Alasan pembatalan wajib diisi."), "error")
        return redirect(url_for("governance.meeting", meeting_id=meeting_id), 303)
    _commit(
        lambda: meeting_services.cancel_meeting(meeting, current_user, form.reason.data),
        _("Rapat dibatalkan."),
    )
    return redirect(url_for("governance.meeting", meeting_id=meeting_id), 303)


@bp.get("/rapat/<int:meeting_id>/presensi")
@role_required(*READ_ROLES)
def attendance(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    return render_template(
        "governance/attendance.html",
        meeting=meeting,
        form=CheckInForm(),
        rows=queries.attendance_of(meeting),
        can_manage=_can_manage(),
    )


@bp.post("/rapat/<int:meeting_id>/presensi")
@role_required(*MANAGE_ROLES)
def attendance_check_in(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = CheckInForm()
    if form.validate_on_submit():
        try:
            record = meeting_services.check_in_member(meeting, form.member_no.data, current_user)
            db.session.commit()
        except DomainError as error:
            _fail(form, error)
        else:
            flash(_("%(name)s tercatat hadir.", name=record.member.display_name), "success")
            return redirect(url_for("governance.attendance", meeting_id=meeting_id), 303)
    return render_template(
        "governance/attendance.html",
        meeting=meeting,
        form=form,
        rows=queries.attendance_of(meeting),
        can_manage=True,
    ), 422


@bp.post("/rapat/<int:meeting_id>/hadir-daring")
@role_required(Role.ANGGOTA)
def attend_online(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    member = _member()
    if member is None:
        abort(403)
    _commit(
        lambda: meeting_services.record_attendance(
            meeting, member, AttendanceHow.ONLINE, current_user
        ),
        _("Kehadiran daring Anda tercatat."),
    )
    return redirect(url_for("governance.meeting", meeting_id=meeting_id), 303)


@bp.get("/rapat/<int:meeting_id>/notulen")
@role_required(*READ_ROLES)
def minutes(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = MinutesForm(text=meeting.minutes.text if meeting.minutes else "")
    return render_template(
        "governance/minutes.html",
        meeting=meeting,
        form=form,
        attachment_form=AttachmentForm(),
        can_manage=_can_manage(),
    )


@bp.post("/rapat/<int:meeting_id>/notulen")
@role_required(*MANAGE_ROLES)
def minutes_save(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = MinutesForm()
    if form.validate_on_submit():
        try:
            meeting_services.save_minutes(meeting, form.text.data or "", current_user)
            db.session.commit()
            flash(_("Notulen disimpan."), "success")
            return redirect(url_for("governance.minutes", meeting_id=meeting_id), 303)
        except DomainError as error:
            _fail(form, error)
    return render_template(
        "governance/minutes.html",
        meeting=meeting,
        form=form,
        attachment_form=AttachmentForm(),
        can_manage=True,
    ), 422


@bp.post("/rapat/<int:meeting_id>/notulen/lampiran")
@role_required(*MANAGE_ROLES)
def minutes_attach(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = AttachmentForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            meeting_services.add_minutes_attachment(
                meeting,
                file_name=upload.filename or "lampiran",
                content_type=upload.mimetype or "",
                data=upload.read(),
                by_user=current_user,
            )
            db.session.commit()
            flash(_("Lampiran disimpan."), "success")
            return redirect(url_for("governance.minutes", meeting_id=meeting_id), 303)
        except DomainError as error:
            _fail(form, error)
    minutes_form = MinutesForm(text=meeting.minutes.text if meeting.minutes else "")
    return render_template(
        "governance/minutes.html",
        meeting=meeting,
        form=minutes_form,
        attachment_form=form,
        can_manage=True,
    ), 422


@bp.post("/rapat/<int:meeting_id>/notulen/terbitkan")
@role_required(*MANAGE_ROLES)
def minutes_publish(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    _commit(
        lambda: meeting_services.publish_minutes(meeting, current_user),
        _("Notulen diterbitkan untuk anggota."),
    )
    return redirect(url_for("governance.minutes", meeting_id=meeting_id), 303)


@bp.get("/rapat/<int:meeting_id>/notulen/lampiran/<int:attachment_id>")
@role_required(*PARTICIPANT_ROLES)
def minutes_attachment(meeting_id: int, attachment_id: int):
    meeting = _meeting_or_404(meeting_id)
    attachment = db.session.get(MinutesAttachment, attachment_id)
    if attachment is None or meeting.minutes is None or attachment.minutes_id != meeting.minutes.id:
        abort(404)
    if not _is_board() and meeting.minutes.published_at is None:
        abort(404)
    response = current_app.response_class(attachment.data, mimetype=attachment.content_type)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in attachment.file_name)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
