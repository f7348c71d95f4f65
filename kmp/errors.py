"""The domain error tree and the HTML / JSON error handlers."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the cooperative refused an action. Maps to a 4xx with a clear message."""

    status = 422
    code = "domain_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.field = field


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class IllegalTransition(DomainError):
    status = 409
    code = "illegal_transition"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_envelope(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"status": status, "code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


_TEMPLATED = {400, 403, 404, 405, 413, 429, 500, 503}


def _render(status: int, code: str, message: str | None, headers=None):
    from kmp.extensions import db

    db.session.rollback()
    if wants_json():
        response = error_envelope(status, code, message or code)
    else:
        template = f"errors/{status if status in _TEMPLATED else 400}.html"
        response = render_template(template, status=status, message=message), status
        from flask import make_response

        response = make_response(response)
    if headers:
        for key, value in headers:
            if key.lower() == "retry-after":
                response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain(error: DomainError):
        return _render(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description if error.code not in (404, 405) else None
        if error.code == 400 and "CSRF" in (error.description or ""):
            code = "csrf_failed"
        headers = error.get_response().headers.items() if error.code == 429 else None
        return _render(error.code or 500, code, message, headers)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        from sqlalchemy.exc import DBAPIError

        if isinstance(error, DBAPIError) and error.connection_invalidated or _is_db_down(error):
            log.warning("database unavailable: %s", error)
            return _render(503, "database_unavailable", None)
        log.exception("unhandled error")
        return _render(500, "internal_error", None)


def _is_db_down(error: Exception) -> bool:
    from sqlalchemy.exc import OperationalError

    if not isinstance(error, OperationalError):
        return False
    text = str(error.orig).lower()
    return any(
        s in text for s in ("connection", "could not connect", "server closed", "unable to open")
    )
