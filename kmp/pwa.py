"""Installable, light and offline-tolerant: web app manifest, service worker, gzip.

- ``/manifest.webmanifest`` (``application/manifest+json``) and ``/sw.js`` (``text/javascript``,
  ``Service-Worker-Allowed: /``) are served from the root so the worker's scope is the whole site.
  Both are revalidated on every use (``no-cache`` + ETag: a 304 costs a few hundred bytes).
- ``static/js/sw.js`` carries a JSON config between markers; it is filled here with the
  fingerprinted assets to precache and the URL prefixes that are never cached (payments, votes),
  so a changed asset changes the worker's bytes and the browser installs the new worker.
- Text responses over 1 KB are gzipped when the client accepts it (static files are compressed
  once and kept in memory). HTML is compressed too: the budget of issue 11 needs it, and the
  BREACH-style risk to CSRF tokens is contained by ``SameSite=Lax`` session cookies.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re

from flask import Flask, Response, current_app, request

from kmp.timeutil import now_utc

THEME_COLOR = "#0b6e4f"
BACKGROUND_COLOR = "#f6f7f5"
START_URL = "/beranda"
# Pages under these prefixes are never cached by the service worker: they need the server's answer.
NO_OFFLINE_PREFIXES = ("/bayar", "/payments", "/voting", "/pemungutan")
PRECACHE = ("css/app.css", "js/app.js", "img/icon.svg")
ICONS = (
    ("img/icon.svg", "any", "image/svg+xml", "any"),
    ("img/icon-192.png", "192x192", "image/png", "any"),
    ("img/icon-512.png", "512x512", "image/png", "any"),
    ("img/icon-maskable-512.png", "512x512", "image/png", "maskable"),
)
GZIP_MIN_BYTES = 1024
_COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/javascript",
    "application/manifest+json",
    "application/problem+json",
    "image/svg+xml",
)
_CONFIG_RE = re.compile(r"/\*KMP-CONFIG\*/.*?/\*END\*/", re.DOTALL)


def register_no_offline_prefix(app: Flask, *prefixes: str) -> None:
    """A feature adds URL prefixes the service worker must never cache (money, votes)."""
    from kmp.registry import get_registry

    get_registry(app).add_no_offline(*prefixes)


def no_offline_prefixes() -> list[str]:
    from kmp.registry import get_registry

    return sorted({*NO_OFFLINE_PREFIXES, *get_registry().no_offline_prefixes})


def manifest_data() -> dict:
    from kmp.templating import asset_url

    return {
        "id": "/",
        "name": current_app.config["KMP_COOP_NAME"],
        "short_name": "KMP",
        "description": "Tabungan, suara, dan SHU koperasi Anda — dari HP.",
        "lang": "id",
        "dir": "ltr",
        "start_url": START_URL,
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {"src": asset_url(path), "sizes": sizes, "type": kind, "purpose": purpose}
            for path, sizes, kind, purpose in ICONS
        ],
    }


def service_worker_source() -> str:
    from kmp.templating import asset_url

    path = os.path.join(current_app.static_folder, "js", "sw.js")
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    precache = [asset_url(name) for name in PRECACHE]
    prefixes = no_offline_prefixes()
    version = hashlib.sha256((source + json.dumps([precache, prefixes])).encode()).hexdigest()[:12]
    config = json.dumps(
        {"version": version, "precache": precache, "noOffline": prefixes, "startUrl": START_URL},
        separators=(",", ":"),
    )
    return _CONFIG_RE.sub(lambda _m: f"/*KMP-CONFIG*/{config}/*END*/", source, count=1)


def _revalidated(body: str | bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


def manifest():
    body = json.dumps(manifest_data(), ensure_ascii=False, indent=1)
    return _revalidated(body, "application/manifest+json")


def service_worker():
    response = _revalidated(service_worker_source(), "text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


# ---------------------------------------------------------------- compression

_static_gzip: dict[tuple[str, str], bytes] = {}


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def gzip_response(response: Response) -> Response:
    """Gzip text responses larger than 1 KB for clients that accept it."""
    if request.method == "HEAD" or response.status_code != 200:
        return response
    if "Content-Encoding" in response.headers or "Content-Range" in response.headers:
        return response
    if not (response.mimetype or "").startswith(_COMPRESSIBLE):
        return response
    response.vary.add("Accept-Encoding")
    length = response.content_length
    if length is not None and length < GZIP_MIN_BYTES:
        return response
    if not _accepts_gzip():
        return response
    is_static = request.endpoint == "static"
    if response.is_streamed and not (is_static and response.direct_passthrough):
        return response  # a real stream (e.g. a CSV export): leave it alone
    etag, _weak = response.get_etag()
    key = (request.path, etag or "")
    body = _static_gzip.get(key) if is_static else None
    close = getattr(response.response, "close", None)  # the file opened by send_file, if any
    response.direct_passthrough = False
    if body is None:
        data = response.get_data()
        if len(data) < GZIP_MIN_BYTES:
            return response
        body = gzip.compress(data, compresslevel=6, mtime=0)
        if len(body) >= len(data):
            return response
        if is_static and etag:
            if len(_static_gzip) > 256:
                _static_gzip.clear()
            _static_gzip[key] = body
    response.set_data(body)
    if close is not None:
        close()
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        response.set_etag(etag, weak=True)  # same content, another encoding
    return response


def init_app(app: Flask) -> None:
    app.add_url_rule("/manifest.webmanifest", "pwa.manifest", manifest)
    app.add_url_rule("/sw.js", "pwa.service_worker", service_worker)

    @app.context_processor
    def _fetched_at():
        # Every page says when it was fetched: a copy shown offline carries its own age.
        return {"page_fetched_at": now_utc(), "no_offline_prefixes": no_offline_prefixes}

    @app.after_request
    def _static_and_gzip(response: Response) -> Response:
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.public = True
            response.cache_control.max_age = 365 * 24 * 3600
            response.cache_control.immutable = True
        if app.config.get("KMP_GZIP", True):
            return gzip_response(response)
        return response
