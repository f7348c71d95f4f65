"""Outbound HTTP: one shared ``requests`` session with timeouts and retries for every adapter.

Every call KMP makes to another server (Midtrans, Iris, the WhatsApp Cloud API, the SMS
gateway, partners' webhooks) goes through ``http_session()``: connection pooling, a default
timeout on every request (a slow server can never hang a worker), and urllib3 ``Retry`` for
idempotent methods on connection errors and 502/503/504 (with ``Retry-After`` respected).
Non-idempotent POSTs are not retried here; adapters that can make a POST safe to repeat (an
idempotency key, a dedupe reference) pass ``retry_post=True``.

Tests fake providers at this layer with ``responses``, which patches the adapter every session
uses, so nothing here touches the network in the suite.
"""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

#: (connect, read) seconds unless a caller says otherwise.
DEFAULT_TIMEOUT = (5.0, 15.0)
USER_AGENT = "KMP/0.1 (+https://github.com/kmp-koperasi)"

_local = threading.local()


class _TimeoutSession(requests.Session):
    """A session whose requests always carry a timeout."""

    def __init__(self, timeout, retries: Retry):
        super().__init__()
        self._default_timeout = timeout
        adapter = HTTPAdapter(max_retries=retries, pool_connections=8, pool_maxsize=16)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = USER_AGENT
        # requests reads the proxy variables of the environment (and .netrc) on EVERY call,
        # which costs more than a fast provider's answer; with no proxy configured, skip it.
        if not _proxy_configured():
            self.trust_env = False

    def request(self, method, url, **kwargs):  # noqa: D401 - requests' signature
        kwargs.setdefault("timeout", self._default_timeout)
        return super().request(method, url, **kwargs)


def _proxy_configured() -> bool:
    import os

    names = (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "curl_ca_bundle",
        "requests_ca_bundle",
    )
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


def _retry(*, retry_post: bool, total: int) -> Retry:
    methods = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    if retry_post:
        methods.add("POST")
    return Retry(
        total=total,
        connect=total,
        read=total if retry_post else 0,
        status=total,
        backoff_factor=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def http_session(*, retry_post: bool = False, retries: int = 2, timeout=DEFAULT_TIMEOUT):
    """A per-thread shared session for this retry policy (sessions are not thread-safe)."""
    key = (retry_post, retries, tuple(timeout) if isinstance(timeout, tuple) else timeout)
    cache = getattr(_local, "sessions", None)
    if cache is None:
        cache = _local.sessions = {}
    session = cache.get(key)
    if session is None:
        session = cache[key] = _TimeoutSession(
            timeout, _retry(retry_post=retry_post, total=retries)
        )
    return session


class SharedSession:
    """An ``HttpRequester`` for adapters built once and used from many threads: each call goes
    through the calling thread's ``http_session(**policy)`` (pooled, default timeouts)."""

    def __init__(self, **policy) -> None:
        self._policy = policy

    def request(self, method, url, **kwargs):
        return http_session(**self._policy).request(method, url, **kwargs)
