"""Which reverse proxies are believed about the client's address and scheme.

``KMP_TRUSTED_PROXIES`` (empty by default: the app faces the clients itself and every
``X-Forwarded-*`` header is ignored):

- a number ``N``: N proxy hops stand in front of the app (``1`` for one nginx); Werkzeug's
  ``ProxyFix(x_for=N, x_proto=1)`` takes the client address N entries from the right of
  ``X-Forwarded-For``;
- addresses or networks (``10.0.0.0/8, 192.168.1.5``): only a request whose peer is one of them
  is rewritten, and every trusted proxy at the right end of ``X-Forwarded-For`` is skipped, so a
  client cannot choose its own address by sending the header itself.

The client address decides the login and API rate limits (``kmp.views``, ``kmp.api``) and is
written to the audit trail. ``X-Forwarded-Host`` is never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from werkzeug.middleware.proxy_fix import ProxyFix

from kmp.config import ConfigError

MAX_HOPS = 10

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(value) -> int | tuple[Network, ...]:
    """``0`` (none), a hop count, or a tuple of networks; ``ConfigError`` when unreadable."""
    text = str(value if value is not None else "").strip()
    if not text or text == "0":
        return 0
    if text.isdigit():
        hops = int(text)
        if hops > MAX_HOPS:
            raise ConfigError(f"KMP_TRUSTED_PROXIES={text}: at most {MAX_HOPS} proxy hops.")
        return hops
    networks = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"KMP_TRUSTED_PROXIES: {part.strip()!r} is neither a hop count nor an "
                "address/network (e.g. 1, or 10.0.0.0/8,192.168.1.5)."
            ) from None
    return tuple(networks)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: ProxyFix for requests that came through the trusted proxies only."""

    def __init__(self, app: Callable, networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks
        self._fixes = {
            hops: ProxyFix(app, x_for=hops, x_proto=1) for hops in range(1, MAX_HOPS + 1)
        }

    def hops(self, environ) -> int:
        """How many X-Forwarded-For entries (from the right) trusted proxies added."""
        if not _trusted(environ.get("REMOTE_ADDR", ""), self.networks):
            return 0
        forwarded = [
            a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()
        ]
        hops = 1
        for address in reversed(forwarded[1:]):  # the leftmost one is the client, at worst
            if hops >= MAX_HOPS or not _trusted(address, self.networks):
                break
            hops += 1
        return hops if forwarded else 0

    def __call__(self, environ, start_response):
        hops = self.hops(environ)
        if not hops:
            return self.app(environ, start_response)
        return self._fixes[hops](environ, start_response)


def install(app) -> None:
    """Wrap ``app.wsgi_app`` as ``KMP_TRUSTED_PROXIES`` says (nothing when it is empty)."""
    trusted = parse_trusted_proxies(app.config.get("KMP_TRUSTED_PROXIES"))
    if isinstance(trusted, int):
        if trusted:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=1)
        return
    if trusted:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)
