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


# ============================================================== targets chosen by outsiders
#
# A partner types the URL KMP will POST its webhooks to. Without a check that is a request
# forgery: ``https://127.0.0.1:5432/``, ``https://169.254.169.254/`` (the cloud metadata
# service) or a name resolving to a private address would make KMP probe its own network.
# ``check_public_url`` resolves the name and refuses unless EVERY address is public; it runs
# when the URL is saved and again right before each delivery (a name may be re-pointed), and
# ``public_session()`` also checks the address the socket actually connected to (no window
# between the check and the connection for a name that changes its answer). Redirects are
# never followed.


class UnsafeTarget(ValueError):
    """The URL is not an https address resolving only to public hosts."""


def is_public_address(address: str) -> bool:
    """Globally routable unicast: not loopback, private, link-local (169.254/16, fe80::/10),
    shared (100.64/10), documentation, multicast or reserved; IPv4-mapped IPv6 unwrapped."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return ip.is_global and not ip.is_multicast


def check_public_url(url: str) -> None:
    """Raise ``UnsafeTarget`` unless ``url`` is https, without credentials, and its host
    resolves (``socket.getaddrinfo``) only to public addresses."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        raise UnsafeTarget("malformed URL") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise UnsafeTarget("not a plain https URL")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise UnsafeTarget("host does not resolve") from None
    addresses = {info[4][0] for info in infos}
    if not addresses:
        raise UnsafeTarget("host does not resolve")
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeTarget(f"{parts.hostname} resolves to a non-public address")


def _public_only_connection(base):
    class PublicOnlyConnection(base):
        def _new_conn(self):
            sock = super()._new_conn()
            peer = sock.getpeername()[0]
            if not is_public_address(peer):
                sock.close()
                raise UnsafeTarget(f"connected to a non-public address {peer}")
            return sock

    return PublicOnlyConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        super().init_poolmanager(*args, **kwargs)

        class HTTPSPool(HTTPSConnectionPool):
            ConnectionCls = _public_only_connection(HTTPSConnectionPool.ConnectionCls)

        class HTTPPool(HTTPConnectionPool):
            ConnectionCls = _public_only_connection(HTTPConnectionPool.ConnectionCls)

        self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}


def public_session(*, timeout=DEFAULT_TIMEOUT, retries: int = 1):
    """The per-thread session for URLs chosen by outsiders (partner webhooks): timeouts and
    retries as ``http_session``, the environment's proxies ignored, redirects never followed,
    and a connection to a non-public address refused by the socket's own peer address."""
    key = ("public", retries, tuple(timeout) if isinstance(timeout, tuple) else timeout)
    cache = getattr(_local, "sessions", None)
    if cache is None:
        cache = _local.sessions = {}
    session = cache.get(key)
    if session is None:
        session = _TimeoutSession(timeout, _retry(retry_post=False, total=retries))
        retry = _retry(retry_post=False, total=retries)
        adapter = _PublicOnlyAdapter(max_retries=retry, pool_connections=8, pool_maxsize=16)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.trust_env = False  # a proxy would hide the peer address we check
        cache[key] = session
    return session
