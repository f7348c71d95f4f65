"""The partner API core (``/api/v1``): one JSON error envelope, cursor pagination, API-key
authentication with scopes and a per-key rate limit, and the OpenAPI 3 document.

Features build their endpoints on :func:`api_blueprint` and register them from their own
``init_app`` with :func:`register_api_blueprint`. ``kmp`` knows nothing about partner
companies: the feature that stores API keys installs a resolver with
:func:`set_key_resolver` (``fn(prefix, secret_hash) -> ApiPrincipal | None``).

Keys look like ``kmp_<prefix>_<secret>``; only ``sha256(key)`` is stored, with the prefix
for lookup. A client sends ``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

import marshmallow as ma
from flask import Blueprint, Flask, current_app, g, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from kmp.errors import DomainError, error_envelope
from kmp.extensions import csrf, db, limiter

API_PREFIX = "/api/v1"
SCOPES = ("patronage:write", "remittance:write", "members:read", "contributions:read")
SCOPE_LABELS = {
    "patronage:write": "Kirim data transaksi (jasa usaha)",
    "remittance:write": "Kirim potongan simpanan (remitansi)",
    "members:read": "Lihat mitra pengemudi yang tertaut",
    "contributions:read": "Lihat ringkasan kontribusi",
}
KEY_PREFIX_LEN = 8
DEFAULT_RATE_LIMIT = "600 per minute"
DEFAULT_AUTH_FAILURE_LIMIT = "20 per minute"
MAX_PAGE = 500


# =========================================================================== errors


_FIELD_MESSAGES = {
    "required": "Wajib diisi.",
    "null": "Tidak boleh kosong (null).",
    "invalid": "Nilai tidak valid.",
}


class Pattern(ma.validate.Regexp):
    """``Regexp`` over the WHOLE value: ``re.match`` with a ``^...$`` pattern lets a trailing
    newline through (``$`` matches before it), which then breaks a fixed-width column. The
    pattern itself is documented in the OpenAPI document unchanged."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class StrictSchema(ma.Schema):
    """Load schemas: unknown keys are refused, messages in Indonesian."""

    class Meta:
        unknown = ma.RAISE

    error_messages = {  # noqa: RUF012 - marshmallow reads a class attribute
        "unknown": "Kolom tidak dikenal.",
        "type": "Isi permintaan harus berupa objek JSON.",
    }


class Int(ma.fields.Integer):
    """A strict integer (``12.0`` and ``"12"`` are refused): money is whole Rupiah."""

    default_error_messages = {  # noqa: RUF012
        **_FIELD_MESSAGES,
        "invalid": "Harus bilangan bulat.",
        "too_large": "Angka terlalu besar.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        super().__init__(**kwargs)


class Str(ma.fields.String):
    default_error_messages = {**_FIELD_MESSAGES, "invalid": "Harus berupa teks."}  # noqa: RUF012


class Bool(ma.fields.Boolean):
    default_error_messages = {**_FIELD_MESSAGES, "invalid": "Harus true atau false."}  # noqa: RUF012


class List(ma.fields.List):
    default_error_messages = {**_FIELD_MESSAGES, "invalid": "Harus berupa daftar."}  # noqa: RUF012


class Nested(ma.fields.Nested):
    default_error_messages = {  # noqa: RUF012
        **_FIELD_MESSAGES,
        "type": "Harus berupa objek JSON.",
    }


class Date(ma.fields.Date):
    default_error_messages = {  # noqa: RUF012
        **_FIELD_MESSAGES,
        "invalid": "Tanggal harus berformat YYYY-MM-DD.",
        "format": "Tanggal harus berformat YYYY-MM-DD.",
    }


class ErrorBodySchema(ma.Schema):
    status = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(metadata={"description": "fields: {name: [messages]} and more"})


class ErrorEnvelopeSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


class ApiError(DomainError):
    """A refusal with structured details (field messages)."""

    def __init__(self, message, *, status=422, code="invalid", details=None, field=None):
        super().__init__(message, code=code, status=status, field=field)
        self.details = details or {}


def _api_http_error(error: HTTPException):
    db.session.rollback()
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if status == 422 and messages:
        fields: dict = {}
        for location in messages.values() if isinstance(messages, dict) else []:
            if isinstance(location, dict):
                fields.update(location)
        return error_envelope(
            422,
            "validation_error",
            _("Data tidak valid: periksa kolom yang disebutkan."),
            {"fields": fields or messages},
        )
    code = (error.name or "error").lower().replace(" ", "_")
    messages_by_status = {
        400: _("Permintaan tidak dapat dibaca (JSON tidak valid?)."),
        404: _("Tidak ditemukan."),
        405: _("Metode HTTP ini tidak didukung di alamat ini."),
        413: _("Permintaan terlalu besar."),
        415: _("Kirim isi permintaan sebagai application/json."),
        429: _("Terlalu banyak permintaan. Coba lagi sebentar lagi."),
    }
    if status == 429:
        code = "rate_limited"
    response = error_envelope(status, code, messages_by_status.get(status, error.description))
    if status == 429:
        retry = _retry_after()
        response.headers["Retry-After"] = str(retry)
    return response


def _retry_after() -> int:
    """Seconds until the current rate-limit window resets (at least 1)."""
    import time

    current = getattr(g, "view_rate_limit", None)
    try:
        reset = limiter.limiter.get_window_stats(current.limit, *current.request_args)[0]
        return max(1, int(reset - time.time()) + 1)
    except Exception:  # noqa: BLE001 - the header must still be sent
        return 60


def _api_domain_error(error: DomainError):
    db.session.rollback()
    details = dict(getattr(error, "details", None) or {})
    if error.field and "fields" not in details:
        details["fields"] = {error.field: [error.message]}
    return error_envelope(error.status, error.code, error.message, details or None)


def _api_unexpected(error: Exception):
    import logging

    from kmp.errors import _is_db_down

    db.session.rollback()
    if _is_db_down(error):
        return error_envelope(503, "database_unavailable", _("Basis data sedang tidak tersedia."))
    logging.getLogger(__name__).exception("unhandled API error")
    return error_envelope(500, "internal_error", _("Terjadi kesalahan di server."))


# =========================================================================== JSON bodies


class JSONTooDeep(ValueError):
    """A JSON body nested beyond what the parser's recursion allows (e.g. 50,000 ``[``)."""


def _refuse_nul(data) -> None:
    """Valid JSON can carry a NUL character only as the escape backslash-u0000 (a raw control
    character is invalid JSON): refused like unreadable JSON, never stored (PostgreSQL text
    columns cannot hold it: a 500 there)."""
    if (b"\\u0000" if isinstance(data, bytes | bytearray) else "\\u0000") in data:
        raise JSONTooDeep("JSON string contains a NUL character")


def loads_json(data: str | bytes):
    """``json.loads`` that answers a too-deep document with ``ValueError`` (JSONTooDeep)
    instead of ``RecursionError``: every caller already turns ValueError into a 400."""
    import json

    _refuse_nul(data)
    try:
        return json.loads(data)
    except RecursionError:
        raise JSONTooDeep("JSON nested too deeply") from None


class SafeJSONProvider(DefaultJSONProvider):
    """The app's JSON provider (``request.get_json``): too-deep bodies are a 400, not a 500;
    so is a NUL character in a string."""

    def loads(self, s, **kwargs):
        _refuse_nul(s)
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise JSONTooDeep("JSON nested too deeply") from None


class _SafeArgumentsParser(FlaskParser):
    """flask-smorest's webargs parser, with too-deep JSON refused like any unreadable JSON."""

    def _raw_load_json(self, req):
        import json

        if b"\\u0000" in req.get_data(cache=True):
            raise json.JSONDecodeError("JSON string contains a NUL character", "?", 0)
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise json.JSONDecodeError("JSON nested too deeply", "?", 0) from None


# =========================================================================== auth


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling: one API key of one partner company."""

    key_id: int
    company_id: int
    scopes: frozenset[str] = field(default_factory=frozenset)
    name: str = ""


def generate_key() -> tuple[str, str, str]:
    """A new key: ``(full_key, prefix, sha256_hex)``. Show the full key once, store the rest."""
    prefix = secrets.token_hex(KEY_PREFIX_LEN // 2)
    full = f"kmp_{prefix}_{secrets.token_urlsafe(32)}"
    return full, prefix, hash_key(full)


def hash_key(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def split_key(full_key: str) -> str | None:
    """The lookup prefix of a presented key, or None when the key is malformed."""
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "kmp" or len(parts[1]) != KEY_PREFIX_LEN:
        return None
    return parts[1]


def set_key_resolver(app: Flask, resolver: Callable[[str, str], ApiPrincipal | None]) -> None:
    from kmp.registry import get_registry

    get_registry(app).api_key_resolver = resolver


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key", "").strip() or None


def _verified_principal() -> ApiPrincipal | None:
    """The caller's principal when the presented key is valid, else None (resolved once per
    request: the rate limits ask before the view does)."""
    if "kmp_api_resolved" in g:
        return g.get("kmp_api_principal")
    g.kmp_api_resolved = True
    key = _presented_key()
    prefix = split_key(key) if key else None
    from kmp.registry import get_registry

    resolver = get_registry().api_key_resolver
    principal = resolver(prefix, hash_key(key)) if prefix and resolver else None
    if principal is not None:
        g.kmp_api_principal = principal
    return principal


def _authenticate() -> ApiPrincipal:
    principal = _verified_principal()
    if principal is None:
        raise ApiError(
            _("Kunci API tidak ada, salah, atau sudah dicabut."),
            status=401,
            code="invalid_api_key",
        )
    return principal


def current_principal() -> ApiPrincipal:
    return _authenticate()


def scope_required(*scopes: str):
    """Require a valid API key holding at least one of ``scopes`` (401 / 403 otherwise)."""
    for scope in scopes:
        assert scope in SCOPES, scope

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            principal = _authenticate()
            if not principal.scopes.intersection(scopes):
                raise ApiError(
                    _("Kunci API ini tidak punya izin: %(scope)s.", scope=" / ".join(scopes)),
                    status=403,
                    code="insufficient_scope",
                )
            return view(*args, **kwargs)

        wrapped.kmp_scopes = scopes  # read by the authorization test
        return wrapped

    return decorator


def _quota_key() -> str:
    """The per-key quota counts verified requests only, keyed by the key's id: guesses with
    a real key's prefix never spend that key's budget."""
    principal = _verified_principal()
    return f"apikey:{principal.key_id}" if principal is not None else "apikey:none"


def _failure_key() -> str:
    return f"apiauth:{request.remote_addr}"


def _rate_limit() -> str:
    return current_app.config.get("KMP_API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


def _failure_limit() -> str:
    return current_app.config.get("KMP_API_AUTH_FAILURE_LIMIT") or DEFAULT_AUTH_FAILURE_LIMIT


def _auth_failed(response) -> bool:
    return response.status_code == 401


def _verified() -> bool:
    return _verified_principal() is not None


def _unverified() -> bool:
    return _verified_principal() is None


# =========================================================================== pagination


class PageArgsSchema(StrictSchema):
    cursor = Str(load_default=None, metadata={"description": "next_cursor of the previous page"})
    limit = Int(
        strict=False,  # query strings are text
        load_default=100,
        validate=ma.validate.Range(1, MAX_PAGE, error="Antara 1 dan 500."),
    )


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the page starts (0 for the first page)."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _sep, value = text.partition(":")
        number = int(value)
        if kind != "id" or not 0 <= number < 2**31:
            raise ValueError(text)
        return number
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            _("Cursor tidak valid."),
            code="validation_error",
            details={"fields": {"cursor": [_("Cursor tidak valid.")]}},
        ) from None


def page_of(stmt, id_column, args: dict) -> dict:
    """Run ``stmt`` (a select of entities) as one cursor page ordered by ``id_column``."""
    after = decode_cursor(args.get("cursor"))
    limit = args.get("limit") or 100
    rows = list(
        db.session.scalars(stmt.where(id_column > after).order_by(id_column).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more and rows else None}


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        },
        name=name,
    )


# =========================================================================== the Api


class KmpApi(Api):
    """flask-smorest, with KMP's error envelope (kmp.errors keeps the app-wide handlers)."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self):
        """Errors of API blueprints are handled per blueprint (see api_blueprint)."""


SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer kmp_<prefix>_<secret> (dibuat di portal mitra)",
    }
}


def get_api(app: Flask) -> KmpApi:
    from kmp.registry import get_registry

    registry = get_registry(app)
    api = registry.api
    if api is None:
        app.config.setdefault("API_TITLE", "KMP Partner API")
        app.config.setdefault("API_VERSION", "v1")
        app.config.setdefault("OPENAPI_VERSION", "3.0.3")
        app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
        app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
        app.config.setdefault(
            "API_SPEC_OPTIONS",
            {
                "components": {"securitySchemes": SECURITY_SCHEMES},
                "security": [{"ApiKey": []}],
                "info": {
                    "description": "API untuk mitra platform: data transaksi (jasa usaha), "
                    "potongan simpanan (check-off), mitra pengemudi yang tertaut dan "
                    "ringkasan kontribusi. Semua uang dalam Rupiah bulat (integer)."
                },
            },
        )
        api = KmpApi(app)
        registry.api = api
        docs = Blueprint("api_docs", __name__)

        @docs.get(f"{API_PREFIX}/docs")
        def api_docs():  # public: the API's reference, no data
            return render_template("api/docs.html", spec=api.spec.to_dict())

        app.register_blueprint(docs)
        csrf.exempt(docs)
    return api


_SAFE_PARSER = _SafeArgumentsParser()


def api_blueprint(name: str, import_name: str, description: str = "") -> SmorestBlueprint:
    """A blueprint under /api/v1 with the envelope handlers, CSRF exempt and rate limited."""
    blp = SmorestBlueprint(name, import_name, url_prefix=API_PREFIX, description=description)
    blp.ARGUMENTS_PARSER = _SAFE_PARSER
    blp.register_error_handler(HTTPException, _api_http_error)
    blp.register_error_handler(DomainError, _api_domain_error)
    blp.register_error_handler(Exception, _api_unexpected)
    return blp


def register_api_blueprint(app: Flask, blp: SmorestBlueprint) -> None:
    api = get_api(app)
    csrf.exempt(blp)
    # Verified requests: the key's own quota. Failed authentication: limited per client
    # address (counted on 401 answers; a verified request is never held back by it).
    # (module-level callables: a blueprint registered again by another app gets equal limits,
    # which Flask-Limiter keeps once instead of counting every request twice)
    limiter.limit(_rate_limit, key_func=_quota_key, exempt_when=_unverified)(blp)
    limiter.limit(
        _failure_limit, key_func=_failure_key, deduct_when=_auth_failed, exempt_when=_verified
    )(blp)
    api.register_blueprint(blp)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
