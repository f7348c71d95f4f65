"""Board logins by invitation: an admin (page or CLI) invites an email address to a role;
the invited person opens the one-time link, sets a password and -- for a board role -- the
second factor, through the login's own enrolment step (``core.enrol_second_factor``).

* ``invite_user(email, role, ...)`` stores an ``Invitation`` (only the SHA-256 of its token,
  an expiry, single use; a new invitation to the same address ends the older open ones) and
  queues the link with ``kmp.notify.queue_notification`` (it leaves after the commit).
* ``accept_invitation(token, password)`` creates the login with the role (or grants the role
  to an existing login of that address and sets its password), marks the invitation used
  with a conditional update (two tabs cannot both use it) and logs every session out.

Roles: ``pengurus``, ``bendahara`` (granted with ``pengurus``: the treasurer is a member of
the board), ``pengawas``, ``admin``. ``KMP_INVITATION_TTL`` (seconds, default 7 days).

Pages: ``/admin/pengguna`` (admin: logins and roles, invitations, the invite form) and
``/undangan/<token>`` (public: the token is the credential). CLI:
``flask --app wsgi kmp invite-user EMAIL --role ROLE [--name NAME]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

import click
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from kmp import signals
from kmp.auth import Role, User, create_user, grant_role, role_required, user_id_of
from kmp.cli import kmp_cli
from kmp.db import StrEnumType, UTCDateTime
from kmp.errors import DomainError
from kmp.extensions import db, limiter
from kmp.i18n import gettext as _
from kmp.timeutil import now_utc

INVITATION_TTL = 7 * 24 * 60 * 60  # seconds
#: Roles an invitation grants, and what each brings with it.
INVITABLE = {
    Role.PENGURUS: (Role.PENGURUS,),
    Role.BENDAHARA: (Role.BENDAHARA, Role.PENGURUS),
    Role.PENGAWAS: (Role.PENGAWAS,),
    Role.ADMIN: (Role.ADMIN,),
}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")


class Invitation(db.Model):
    """A one-time invitation to a role (only the token's SHA-256 is kept)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.cancelled_at is None and self.expires_at > now_utc()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role.value, self.role.value)


ROLE_LABELS = {
    "pengurus": "Pengurus",
    "bendahara": "Bendahara",
    "pengawas": "Pengawas",
    "admin": "Admin",
    "anggota": "Anggota",
    "partner": "Mitra platform",
}


class InvalidInvitation(DomainError):
    status = 400
    code = "invalid_invitation"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _ttl() -> int:
    return int(current_app.config.get("KMP_INVITATION_TTL") or INVITATION_TTL)


def invite_user(
    email: str, role: Role | str, *, link_for, full_name: str | None = None, by_user=None
) -> tuple[Invitation, str]:
    """Store an invitation and queue its link (``link_for(token) -> absolute URL``).
    Returns the invitation and the token (shown to nobody: it is only in the message)."""
    from kmp.notify import queue_notification

    email = (email or "").strip().lower()
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise DomainError(_("Alamat email tidak valid."), code="bad_email", field="email")
    try:
        role = Role(role)
    except ValueError:
        role = None
    if role not in INVITABLE:
        raise DomainError(
            _("Peran harus pengurus, bendahara, pengawas atau admin."),
            code="bad_role",
            field="role",
        )
    _check_competence(None, email, role)
    full_name = (full_name or "").strip()[:200] or None
    now = now_utc()
    db.session.execute(
        update(Invitation)
        .where(
            Invitation.email == email,
            Invitation.used_at.is_(None),
            Invitation.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    ttl = _ttl()
    invitation = Invitation(
        email=email,
        full_name=full_name,
        role=role,
        token_hash=_sha256(token),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl),
        invited_by_id=user_id_of(by_user),
    )
    db.session.add(invitation)
    db.session.flush()
    days = max(ttl // 86400, 1)
    coop = current_app.config.get("KMP_COOP_NAME") or "KMP"
    queue_notification(
        kind="invitation",
        address=email,
        subject=_("Undangan menjadi %(role)s di %(coop)s", role=invitation.role_label, coop=coop),
        body=_(
            "Halo%(name)s,\n\nAnda diundang menjadi %(role)s di %(coop)s. Buka tautan ini untuk "
            "membuat kata sandi%(mfa)s (berlaku %(days)s hari, hanya sekali pakai):\n\n"
            "%(link)s\n\nJika Anda tidak mengenal undangan ini, abaikan pesan ini.",
            name=f" {full_name}" if full_name else "",
            role=invitation.role_label,
            coop=coop,
            mfa=_(" dan memasang verifikasi dua langkah"),
            days=days,
            link=link_for(token),
        ),
        dedupe_key=f"invitation:{invitation.id}",
    )
    signals.audit_event.send(
        current_app._get_current_object(),
        action="user_invited",
        target=f"invitation:{invitation.id}",
        before=None,
        after=f"{email} {role.value}",
    )
    return invitation, token


def invitation_for_token(token: str) -> Invitation:
    row = db.session.scalar(select(Invitation).where(Invitation.token_hash == _sha256(token or "")))
    if row is None or not row.is_open:
        raise InvalidInvitation(
            _(
                "Tautan undangan ini tidak berlaku (salah, sudah dipakai, dibatalkan atau "
                "kedaluwarsa). Minta admin mengirim undangan baru."
            )
        )
    return row


def _check_competence(user, email: str, role: Role) -> None:
    """The AD's competence rule on an officer role (members.training answers)."""
    from kmp.timeutil import business_date

    problem = signals.ask(
        signals.competence_check_requested,
        current_app._get_current_object(),
        holder=user,
        email=email,
        role=role.value,
        on_date=business_date(),
    )
    if problem:
        raise DomainError(problem, code="not_certified", field="role", status=422)


def accept_invitation(token: str, password: str, full_name: str | None = None) -> User:
    """The invited person sets a password: the login gets the role; the token is spent."""
    invitation = invitation_for_token(token)
    name = (full_name or "").strip() or invitation.full_name or invitation.email.split("@")[0]
    user = db.session.scalar(select(User).where(User.email == invitation.email))
    roles = INVITABLE[invitation.role]
    _check_competence(user, invitation.email, invitation.role)
    if user is None:
        user = create_user(full_name=name, email=invitation.email, password=password, roles=roles)
    else:
        if not user.is_active:
            raise InvalidInvitation(_("Login dengan email ini dinonaktifkan; hubungi admin."))
        user.set_password(password)
        user.session_version = (user.session_version or 1) + 1
        for role in roles:
            grant_role(user, role)
    now = now_utc()
    used = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=now, user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise InvalidInvitation(_("Undangan ini baru saja dipakai."))
    user.password_changed_at = now
    db.session.flush()
    signals.audit_event.send(
        current_app._get_current_object(),
        action="invitation_accepted",
        target=f"users:{user.id}",
        before=None,
        after=invitation.role.value,
    )
    return user


def cancel_invitation(invitation: Invitation, by_user=None) -> Invitation:  # noqa: ARG001
    if invitation.used_at is None and invitation.cancelled_at is None:
        invitation.cancelled_at = now_utc()
        db.session.flush()
    return invitation


def users_with_roles() -> list[User]:
    from kmp.auth import UserRole

    board = [Role.ADMIN, Role.PENGURUS, Role.BENDAHARA, Role.PENGAWAS]
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(board))))
            .order_by(User.full_name, User.id)
        )
    )


def recent_invitations(limit: int = 50) -> list[Invitation]:
    return list(db.session.scalars(select(Invitation).order_by(Invitation.id.desc()).limit(limit)))


# =========================================================================== web

bp = Blueprint("invitations", __name__)


class InviteForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    full_name = StringField(_l("Nama (boleh kosong)"), validators=[Optional(), Length(max=200)])
    role = SelectField(
        _l("Peran"),
        choices=[SelectChoice(r.value, _l(ROLE_LABELS[r.value])) for r in INVITABLE],
        validators=[DataRequired()],
    )


class AcceptForm(FlaskForm):
    full_name = StringField(_l("Nama lengkap"), validators=[Optional(), Length(max=200)])
    password = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Ulangi kata sandi"),
        validators=[DataRequired(), EqualTo("password", message=_l("Kata sandi tidak sama."))],
    )


def _link_for(token: str) -> str:
    base = current_app.config.get("KMP_PUBLIC_URL", "").rstrip("/")
    return base + url_for("invitations.accept", token=token)


def _users_page(form=None, status: int = 200):
    return render_template(
        "auth/invite_users.html",
        form=form or InviteForm(),
        users=users_with_roles(),
        invitations=recent_invitations(),
        labels=ROLE_LABELS,
    ), status


@bp.get("/admin/pengguna")
@role_required(Role.ADMIN)
def users():
    return _users_page()


@bp.post("/admin/pengguna")
@role_required(Role.ADMIN)
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return _users_page(form, 422)
    try:
        invitation, _token = invite_user(
            form.email.data,
            form.role.data,
            full_name=form.full_name.data,
            by_user=current_user,
            link_for=_link_for,
        )
    except DomainError as error:
        db.session.rollback()
        target = getattr(form, error.field or "", None)
        if target is not None:
            target.errors = [*target.errors, error.message]
        else:
            flash(error.message, "error")
        return _users_page(form, 422)
    db.session.commit()
    flash(
        _(
            "Undangan %(role)s dikirim ke %(email)s.",
            role=invitation.role_label,
            email=invitation.email,
        ),
        "success",
    )
    return redirect(url_for("invitations.users")), 303


@bp.post("/admin/pengguna/undangan/<int:invitation_id>/batal")
@role_required(Role.ADMIN)
def cancel(invitation_id: int):
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        return _users_page(status=404)
    cancel_invitation(invitation, current_user)
    db.session.commit()
    flash(_("Undangan dibatalkan."), "success")
    return redirect(url_for("invitations.users")), 303


def _start_second_factor(user: User):
    """Hand over to the login's own enrolment step, as if the password step just passed
    (the same session keys ``kmp.views.login`` sets)."""
    session.clear()
    session["kmp_mfa_pending"] = user.get_id()
    session["kmp_mfa_since"] = int(now_utc().timestamp())
    session["kmp_mfa_next"] = ""
    session["kmp_mfa_attempts"] = 0
    return redirect(url_for("core.enrol_second_factor"))


@bp.route("/undangan/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"], methods=["POST"])
def accept(token: str):
    if len(token) > 100:
        raise InvalidInvitation(_("Tautan undangan tidak berlaku."))
    invitation = invitation_for_token(token)  # unknown/used/expired: the 400 page
    form = AcceptForm()
    if request.method == "GET" and invitation.full_name:
        form.full_name.data = invitation.full_name
    if form.validate_on_submit():
        try:
            user = accept_invitation(token, form.password.data, form.full_name.data)
        except InvalidInvitation:
            raise
        except DomainError as error:
            db.session.rollback()
            form.password.errors = [*form.password.errors, error.message]
            return _accept_page(invitation, form, 422)
        db.session.commit()
        if current_user.is_authenticated:
            logout_user()
        if user.needs_second_factor:
            flash(_("Kata sandi dibuat. Sekarang pasang verifikasi dua langkah."), "success")
            return _start_second_factor(user)
        session.clear()
        login_user(user)
        user.last_login_at = now_utc()
        db.session.commit()
        flash(_("Selamat datang. Akun Anda siap dipakai."), "success")
        return redirect(url_for("core.home"))
    return _accept_page(invitation, form, 422 if request.method == "POST" else 200)


def _accept_page(invitation: Invitation, form, status: int):
    return render_template(
        "auth/invite_accept.html", invitation=invitation, form=form, labels=ROLE_LABELS
    ), status


# =========================================================================== CLI


@kmp_cli.command("invite-user")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in INVITABLE]),
    help="The role the invitation grants.",
)
@click.option("--name", "full_name", default=None, help="The invited person's name.")
def invite_user_command(email: str, role: str, full_name: str | None) -> None:
    """Invite EMAIL to a board role: a one-time link is queued to that address."""
    with current_app.test_request_context(base_url=current_app.config.get("KMP_PUBLIC_URL")):
        try:
            invitation, _token = invite_user(email, role, full_name=full_name, link_for=_link_for)
        except DomainError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from error
        db.session.commit()
    click.echo(
        f"Undangan {role} dikirim ke {invitation.email} "
        f"(berlaku sampai {invitation.expires_at:%Y-%m-%d %H:%M} UTC, sekali pakai)."
    )


def init_app(app: Flask) -> None:
    from kmp.templating import NavItem, register_nav

    app.register_blueprint(bp)
    register_nav(app, NavItem("invitations.users", _l("Pengguna & undangan"), (Role.ADMIN,), 950))
