"""Core routes: landing, role home, login/logout, language, password, health."""

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
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import text

from kmp.auth import change_password, find_user_by_login
from kmp.errors import DomainError
from kmp.extensions import csrf, db, limiter
from kmp.forms import LanguageForm, LoginForm, PasswordChangeForm
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


def register_home(app: Flask, role: str, endpoint: str) -> None:
    """A feature says where a role lands after login (first matching role wins, in order)."""
    app.extensions.setdefault("kmp_home", []).append((role, endpoint))


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    return render_template("index.html")


@bp.get("/beranda")
@login_required
def home():
    for role, endpoint in current_app.extensions.get("kmp_home", []):
        if current_user.has_role(role) and endpoint in current_app.view_functions:
            return redirect(url_for(endpoint))
    return render_template("home.html")


def _login_failed(response) -> bool:  # noqa: ARG001 - Flask-Limiter's deduct_when signature
    return bool(g.get("login_failed"))


@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["KMP_LOGIN_RATE_LIMIT"],
    methods=["POST"],
    deduct_when=_login_failed,
    error_message="too_many_logins",
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = find_user_by_login(form.login.data)
        if user is not None and user.is_active and user.check_password(form.password.data):
            session.clear()
            login_user(user)
            session.permanent = True
            user.last_login_at = now_utc()
            db.session.commit()
            return redirect(safe_next(form.next.data, url_for("core.home")))
        g.login_failed = True
        flash(
            _("Email/nomor HP atau kata sandi salah. Periksa lagi, lalu coba masuk kembali."),
            "error",
        )
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/keluar")
@login_required
def logout():
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
            return render_template("auth/account.html", form=form), 422
        db.session.commit()
        login_user(current_user._get_current_object())  # the session follows the new version
        flash(_("Kata sandi sudah diganti. Sesi di perangkat lain sudah keluar."), "success")
        return redirect(url_for("core.account"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/account.html", form=form), status


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
    app.register_blueprint(bp)
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
