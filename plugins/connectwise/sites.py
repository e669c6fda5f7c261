"""The origins that are a connection's own ConnectWise site.

Two things are trusted only from there: the page that frames a pod (``postMessage`` and
``frame-ancestors``) and the URL a callback's signing key is fetched from (``key_url``).
A connection names its API host (``site``); ConnectWise's cloud serves its web UI, and
the signing-key URL of its callbacks, from the same host without the ``api-`` prefix
(``api-na.myconnectwise.net`` → ``na.myconnectwise.net``), so both count. Origins compare
scheme, host and port: another port on the same host is another site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from podium.embed import origin_of

API_PREFIX = "api-"


def site_origins(site: str) -> tuple[str, ...]:
    """``scheme://host[:port]`` of the connection's API host and, for an ``api-`` host, of its UI host."""
    origin = origin_of(site)
    host = urlsplit(origin).hostname or ""
    if not host.startswith(API_PREFIX):
        return (origin,)
    return origin, origin.replace(f"//{host}", f"//{host.removeprefix(API_PREFIX)}", 1)
