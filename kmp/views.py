"""Core routes: landing, role home, login (password + second factor), logout, language,
password change and reset, health."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import text

from kmp.audit import record_event
from kmp.auth import (
    MFA_MAX_ATTEMPTS,
    InvalidResetCode,
    InvalidResetToken,
    authenticate,
    change_password,
    clear_second_factor_failures,
    enable_totp,
    end_sessions,
    load_user,
    new_totp_secret,
    normalise_phone,
    note_second_factor_failure,
    regenerate_recovery_codes,
    remaining_recovery_codes,
    request_password_reset,
    request_password_reset_code,
    reset_code_ttl,
    reset_password,
    reset_password_with_code,
    reset_token_user,
    second_factor_locked,
    totp_uri,
    verify_second_factor,
)
from kmp.errors import DomainError
from kmp.extensions import csrf, db, limiter
from kmp.forms import (
    ConfirmForm,
    EnrolForm,
    ForgotPasswordForm,
    LanguageForm,
    LoginForm,
    PasswordChangeForm,
    ResetCodeForm,
    ResetPasswordForm,
    SecondFactorForm,
)
from kmp.registry import get_registry
from kmp.timeutil import now_utc

bp = Blueprint("core", __name__)


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths are followed; anything else goes to ``fallback``."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target:
        return fallback
    return target


_NO_SESSION_CHECK = frozenset(
    {None, "static", "core.healthz", "pwa.service_worker", "pwa.manifest"}
)


def register_home(app: Flask, role: str, endpoint: str) -> None:
    """A feature says where a role lands after login (first matching role wins, in order)."""
    get_registry(app).add_home(role, endpoint)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    return render_template("index.html")


@bp.get("/beranda")
@login_required
def home():
    for role, endpoint in get_registry().homes:
        if current_user.has_role(role) and endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return render_template("home.html")


def _login_failed(response) -> bool:  # noqa: ARG001 - Flask-Limiter's deduct_when signature
    return bool(g.get("login_failed"))


def _login_account_key() -> str:
    """Whose account a login attempt is about: the normalised login typed on /masuk, the
    user who passed the password step on the second-factor pages."""
    pending = session.get("kmp_mfa_pending")
    if request.endpoint != "core.login" and pending:
        return "user:" + str(pending).split(":", 1)[0]
    login = (request.form.get("login") or "").strip().lower()[:254]
    if login and "@" not in login:
        try:
            login = normalise_phone(login)
        except ValueError:
            pass
    return "login:" + login


def _limit_failures():
    """Failed attempts are limited per client address (behind proxies only trusted ones set
    it: KMP_TRUSTED_PROXIES) AND per account, so neither one address nor many addresses can
    try one account without end."""
    per_address = limiter.limit(
        lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"],
        methods=["POST"],
        deduct_when=_login_failed,
        error_message="too_many_logins",
    )
    per_account = limiter.limit(
        lambda: current_app.config["KMP_LOGIN_ACCOUNT_RATE_LIMIT"],
        key_func=_login_account_key,
        scope="login-account",
        methods=["POST"],
        deduct_when=_login_failed,
        error_message="too_many_logins",
    )
    return lambda view: per_address(per_account(view))


MFA_PENDING_SECONDS = 10 * 60


def _finish_login(user, next_target: str | None, *, second_factor: bool, event: str = ""):
    session.clear()
    login_user(user)
    session.permanent = True
    if second_factor:
        session["kmp_mfa"] = True
    user.last_login_at = now_utc()
    if event:  # security events go to the audit trail, attributed to the user
        record_event(event, f"users:{user.id}")
    db.session.commit()
    return redirect(safe_next(next_target, url_for("core.home")))


@bp.route("/masuk", methods=["GET", "POST"])
@_limit_failures()
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = authenticate(form.login.data, form.password.data)
        if user is not None:
            if user.needs_second_factor:
                # The password was right; the session is not logged in until the second step.
                session.clear()
                session["kmp_mfa_pending"] = user.get_id()
                session["kmp_mfa_since"] = int(now_utc().timestamp())
                session["kmp_mfa_next"] = safe_next(form.next.data, "")
                if user.has_totp:
                    return redirect(url_for("core.second_factor"))
                return redirect(url_for("core.enrol_second_factor"))
            return _finish_login(user, form.next.data, second_factor=False)
        g.login_failed = True
        flash(
            _("Email/nomor HP atau kata sandi salah. Periksa lagi, lalu coba masuk kembali."),
            "error",
        )
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


def _pending_user():
    """The user who passed the password step in this session (None if absent or stale)."""
    ident = session.get("kmp_mfa_pending")
    since = session.get("kmp_mfa_since") or 0
    if not ident or now_utc().timestamp() - since > MFA_PENDING_SECONDS:
        return None
    user = load_user(ident)
    if user is None or not user.needs_second_factor:
        return None
    return user


_PENDING_KEYS = ("kmp_mfa_pending", "kmp_mfa_since", "kmp_mfa_next")
_TOO_MANY_CODES = _l("Terlalu banyak kode salah. Masuk lagi dari awal dengan kata sandi.")


def _restart_login(message: str):
    if current_user.is_authenticated:  # already through: nothing to verify here
        return redirect(url_for("core.home"))
    for key in (*_PENDING_KEYS, "kmp_enrol_secret"):
        session.pop(key, None)
    flash(message, "error")
    return redirect(url_for("core.login"))


@bp.route("/masuk/kode", methods=["GET", "POST"])
@_limit_failures()
def second_factor():
    user = _pending_user()
    if user is None:
        return _restart_login(_("Sesi masuk sudah habis. Masukkan email dan kata sandi lagi."))
    if not user.has_totp:
        return redirect(url_for("core.enrol_second_factor"))
    if second_factor_locked(user):  # counted on the server: a replayed cookie cannot reset it
        return _restart_login(str(_TOO_MANY_CODES))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            how = verify_second_factor(user, form.code.data)
        except DomainError as error:
            g.login_failed = True
            attempts = note_second_factor_failure(user)
            db.session.commit()
            if attempts >= MFA_MAX_ATTEMPTS:
                return _restart_login(str(_TOO_MANY_CODES))
            form.code.errors = [*form.code.errors, error.message]
            return render_template("auth/second_factor.html", form=form), 422
        clear_second_factor_failures(user)
        next_target = session.get("kmp_mfa_next")
        event = "auth.recovery_code_used" if how == "recovery" else ""
        response = _finish_login(user, next_target, second_factor=True, event=event)
        if how == "recovery":
            left = remaining_recovery_codes(user)
            flash(
                _(
                    "Kode pemulihan dipakai dan tidak berlaku lagi. Sisa %(n)s kode. "
                    "Buat kode baru di halaman Akun jika hampir habis.",
                    n=left,
                ),
                "info",
            )
        return response
    status = 422 if request.method == "POST" else 200
    return render_template("auth/second_factor.html", form=form), status


@bp.route("/masuk/pasang-kode", methods=["GET", "POST"])
@_limit_failures()
def enrol_second_factor():
    user = _pending_user()
    if user is None:
        return _restart_login(_("Sesi masuk sudah habis. Masukkan email dan kata sandi lagi."))
    if user.has_totp:
        return redirect(url_for("core.second_factor"))
    secret = session.get("kmp_enrol_secret")
    if not secret:
        secret = new_totp_secret()
        session["kmp_enrol_secret"] = secret
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = enable_totp(user, secret, form.code.data)
        except DomainError as error:
            db.session.rollback()
            g.login_failed = True
            form.code.errors = [*form.code.errors, error.message]
            return _render_enrol(user, secret, form), 422
        next_target = session.get("kmp_mfa_next")
        _finish_login(user, next_target, second_factor=True, event="auth.totp_enabled")
        flash(_("Verifikasi dua langkah aktif."), "success")
        return render_template(
            "auth/recovery_codes.html",
            codes=codes,
            next_url=safe_next(next_target, url_for("core.home")),
        )
    status = 422 if request.method == "POST" else 200
    return _render_enrol(user, secret, form), status


def _render_enrol(user, secret: str, form):
    import segno
    from markupsafe import Markup

    uri = totp_uri(user, secret)
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=5, svgclass="qr"))  # noqa: S704
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("auth/enrol.html", form=form, qr=qr, secret=grouped)


@bp.route("/akun/kode-pemulihan", methods=["POST"])
@login_required
def new_recovery_codes():
    form = ConfirmForm()
    if not form.validate_on_submit() or not current_user.has_totp:
        flash(_("Permintaan tidak sah. Muat ulang halaman lalu coba lagi."), "error")
        return redirect(url_for("core.account")), 303
    codes = regenerate_recovery_codes(current_user)  # ends the sessions on other devices
    record_event("auth.recovery_codes_renewed", f"users:{current_user.id}")
    db.session.commit()
    _keep_this_session(current_user._get_current_object())
    return render_template(
        "auth/recovery_codes.html", codes=codes, next_url=url_for("core.account")
    )


def _reset_target() -> str:
    """Whom a reset request is about (the normalised phone number or e-mail address)."""
    login = (request.form.get("login") or "").strip().lower()[:254]
    if login and "@" not in login:
        try:
            return normalise_phone(login)
        except ValueError:
            pass
    return login


def _limit_reset_sends(view):
    """Reset messages are limited per number (or e-mail) and per client address, whether or
    not the account exists (the limit itself must not tell)."""
    per_target = limiter.limit(
        lambda: current_app.config["KMP_RESET_SEND_LIMIT_PER_TARGET"],
        key_func=lambda: "reset:" + _reset_target(),
        scope="reset-target",
        methods=["POST"],
        error_message="too_many_reset_requests",
    )
    per_address = limiter.limit(
        lambda: current_app.config["KMP_RESET_SEND_LIMIT_PER_ADDRESS"],
        scope="reset-address",
        methods=["POST"],
        error_message="too_many_reset_requests",
    )
    return per_address(per_target(view))


@bp.route("/lupa-sandi", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"], methods=["POST"])
@_limit_reset_sends
def forgot_password():
    if current_user.is_authenticated:
        return redirect(url_for("core.account"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        target = _reset_target()
        if target.startswith("+62"):
            # A phone login: a 6-digit code by WhatsApp/SMS; the same page whether or not the
            # number has an account.
            request_password_reset_code(target)
            db.session.commit()
            session["kmp_reset_phone"] = target
            flash(
                _(
                    "Jika nomor itu terdaftar, kode 6 angka sudah dikirim lewat WhatsApp/SMS. "
                    "Kode berlaku %(minutes)s menit.",
                    minutes=max(reset_code_ttl() // 60, 1),
                ),
                "info",
            )
            return redirect(url_for("core.reset_with_code"))
        base = current_app.config.get("KMP_PUBLIC_URL", "").rstrip("/")
        request_password_reset(
            form.login.data, lambda token: base + url_for("core.reset_password_view", token=token)
        )
        db.session.commit()
        # The same answer whether or not the account exists: no one can probe for accounts.
        flash(
            _(
                "Jika akun itu terdaftar, tautan untuk mengatur ulang kata sandi sudah dikirim "
                "ke email/WhatsApp-nya. Tautan berlaku 1 jam dan hanya sekali pakai."
            ),
            "info",
        )
        return redirect(url_for("core.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/lupa-sandi/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"], methods=["POST"])
def reset_password_view(token: str):
    if len(token) > 100:
        raise InvalidResetToken(_("Tautan atur ulang kata sandi tidak berlaku."))
    reset_token_user(token)  # refuses unknown/used/expired tokens with a 400 page
    db.session.rollback()
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = reset_password(token, form.new.data)
            record_event("auth.password_reset", f"users:{user.id}")
        except InvalidResetToken:
            raise
        except DomainError as error:
            db.session.rollback()
            form.new.errors = [*form.new.errors, error.message]
            return render_template("auth/reset.html", form=form), 422
        db.session.commit()
        if current_user.is_authenticated:
            logout_user()
        session.clear()
        flash(_("Kata sandi sudah diganti. Silakan masuk dengan kata sandi baru."), "success")
        return redirect(url_for("core.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form), status


@bp.route("/lupa-sandi/kode", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"], methods=["POST"])
def reset_with_code():
    """The code sent to the phone, and the new password (the number comes from the session
    that asked for the code)."""
    if current_user.is_authenticated:
        return redirect(url_for("core.account"))
    phone = session.get("kmp_reset_phone")
    if not phone:
        return redirect(url_for("core.forgot_password"))
    form = ResetCodeForm()
    if form.validate_on_submit():
        try:
            user = reset_password_with_code(phone, form.code.data, form.new.data)
        except InvalidResetCode as error:
            db.session.commit()  # the wrong code is counted
            form.code.errors = [*form.code.errors, error.message]
            return _render_reset_code(form, phone), 422
        except DomainError as error:  # a weak password: the code is not spent
            db.session.rollback()
            form.new.errors = [*form.new.errors, error.message]
            return _render_reset_code(form, phone), 422
        record_event("auth.password_reset_code", f"users:{user.id}")
        db.session.commit()
        session.clear()
        flash(_("Kata sandi sudah diganti. Silakan masuk dengan kata sandi baru."), "success")
        return redirect(url_for("core.login"))
    status = 422 if request.method == "POST" else 200
    return _render_reset_code(form, phone), status


def _render_reset_code(form, phone: str):
    shown = phone[:-4].replace(phone[3:-4], "•" * len(phone[3:-4])) + phone[-4:]
    return render_template("auth/reset_code.html", form=form, phone=shown)


@bp.post("/keluar")
@login_required
def logout():
    """End this session and every copy of it: the user's session version moves on, so a
    cookie copied before (or another device) is no longer accepted either."""
    end_sessions(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Anda sudah keluar."), "info")
    return redirect(url_for("core.index"))


@bp.post("/bahasa")
def set_language():
    form = LanguageForm()
    fallback = url_for("core.index")
    if not form.validate_on_submit():
        flash(_("Bahasa tidak dikenal."), "error")
        return redirect(fallback), 303
    session["lang"] = form.lang.data
    if current_user.is_authenticated:
        current_user.locale = form.lang.data
        db.session.commit()
    response = redirect(safe_next(form.next.data, fallback), 303)
    response.set_cookie(
        "kmp_lang",
        form.lang.data,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
    )
    return response


@bp.route("/akun", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current.data, form.new.data)
        except DomainError as error:
            db.session.rollback()
            form.current.errors = (
                [*form.current.errors, error.message]
                if error.code == "wrong_password"
                else form.current.errors
            )
            if error.code != "wrong_password":
                form.new.errors = [*form.new.errors, error.message]
            return _render_account(form), 422
        db.session.commit()
        _keep_this_session(current_user._get_current_object())
        flash(_("Kata sandi sudah diganti. Sesi di perangkat lain sudah keluar."), "success")
        return redirect(url_for("core.account"))
    status = 422 if request.method == "POST" else 200
    return _render_account(form), status


def _keep_this_session(user) -> None:
    """After ``end_sessions`` (password or second-factor change) this session follows the
    user's new version; every other copy stays ended."""
    had_mfa = bool(session.get("kmp_mfa"))
    login_user(user)
    if had_mfa:
        session["kmp_mfa"] = True


def _render_account(form):
    user = current_user._get_current_object()
    return render_template(
        "auth/account.html",
        form=form,
        codes_form=ConfirmForm(),
        has_totp=user.has_totp,
        recovery_left=remaining_recovery_codes(user) if user.has_totp else 0,
    )


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        db.session.rollback()
        return jsonify(status="error", database="error"), 503
    return jsonify(status="ok", database="ok")


def init_app(app: Flask) -> None:
    from kmp import audit

    app.register_blueprint(bp)
    audit.init_app(app)

    @app.before_request
    def require_second_factor():
        """A money/oversight role's session must have passed the second factor."""
        if request.endpoint in _NO_SESSION_CHECK or request.path.startswith("/api/"):
            return None
        if (
            current_user.is_authenticated
            and current_user.needs_second_factor
            and not session.get("kmp_mfa")
        ):
            logout_user()
            session.clear()
            flash(_("Masuk lagi dengan kata sandi dan kode verifikasi."), "error")
            return redirect(url_for("core.login", next=request.full_path.rstrip("?")))
        return None

    csrf.exempt(healthz)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self' "
            + current_app.config.get("KMP_CSP_FORM_ACTION_EXTRA", ""),
        )
        if current_app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static" and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store" if current_user.is_authenticated else "no-cache"
        return response
