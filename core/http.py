"""The HTTP client every vendor connector shares: classification, retries, budget, redaction.

A connector describes *what* to ask a vendor (paths, filters, paging); this module owns
*how* a request is made, so every vendor gets the same behaviour (design §1, meltano's
``validate_response``):

* a 429, a 5xx, a 408, a timeout or a dropped connection is a
  :class:`~podium.errors.RetriableError` and is retried with exponential backoff and
  jitter, never sooner than the vendor's ``Retry-After``;
* any other 4xx is a :class:`~podium.errors.FatalError` whose message names the
  connection and quotes the vendor's own explanation, so the admin knows what to fix;
* every attempt first takes one unit of the connection's per-minute request budget,
  which all processes share, so parallel syncs together stay under the vendor's limit;
* every message that leaves this module has the connection's secrets masked out;
* every client shares one TLS context (:func:`tls_context`): building one reads the CA
  bundle, ~0.1 s, which a client per entity sync used to pay each time.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from podium.crypto import MASK
from podium.errors import FatalError, RetriableError

log = logging.getLogger(__name__)

RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses that mean "later": rate limits, gateway trouble, timeouts. Other 5xx count too."""

MAX_BODY_CHARS = 500
"""How much of a vendor's error body goes into a message (enough to read, not a dump)."""


class Budget(Protocol):
    """Anything that hands out request permits (see :class:`podium.budget.RequestBudget`)."""

    def take(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry a retriable failure before giving up.

    ``backoff`` is the first wait in seconds (doubling per attempt, plus up to ``jitter``
    random seconds, capped at ``max_wait``). A ``Retry-After`` is the minimum wait; one
    longer than ``max_wait`` is not slept through in-process: the error is raised so the
    sync ends "failed" with its cursor kept and resumes on its next run.
    """

    max_attempts: int = 5
    backoff: float = 0.5
    max_wait: float = 60.0
    jitter: float = 1.0

    EXTRA_KEYS: ClassVar[dict[str, str]] = {
        "max_attempts": "http_retry_attempts",
        "backoff": "http_retry_backoff",
        "max_wait": "http_retry_max_wait",
        "jitter": "http_retry_jitter",
    }

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetryPolicy:
        """Read ``http_retry_*`` overrides (``Config.extra``); missing keys keep the defaults."""
        values: dict[str, Any] = {}
        for name, key in cls.EXTRA_KEYS.items():
            if settings.get(key) is not None:
                values[name] = (int if name == "max_attempts" else float)(settings[key])
        return cls(**values)


class Redactor:
    """Masks known secret values in any text before it is logged, stored or raised.

    Vendors sometimes echo a request back in an error body, and transport errors quote
    URLs; masking the connection's own secret values is the one check that catches both.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def with_values(self, *values: str) -> Redactor:
        return Redactor([*self._secrets, *values])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


@cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context for vendor APIs (httpx's defaults: certifi's CA bundle,
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set).

    An ``SSLContext`` is safe to share between clients and threads; building it is not
    cheap (it parses the whole CA bundle), and a sync opens clients per connection.
    """
    return httpx.create_ssl_context()


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns None when the header is absent or unreadable (then plain backoff applies),
    and never a negative wait for a date in the past.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def vendor_message(response: httpx.Response) -> str:
    """The vendor's own explanation of an error response, as one readable line.

    Understands the common JSON shapes — ConnectWise ``{"code", "message", "errors":
    [{"code", "message", "field"}]}``, Autotask ``{"errors": ["..."]}``, OAuth
    ``{"error", "error_description"}``, RFC 7807 ``{"title", "detail"}`` — and falls back to
    the start of the body text.
    """
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:MAX_BODY_CHARS] or httpx.codes.get_reason_phrase(response.status_code)
    if not isinstance(body, dict):
        return str(body)[:MAX_BODY_CHARS]
    parts: list[str] = []
    code = body.get("code") or body.get("error")
    message = body.get("message") or body.get("error_description") or body.get("detail") or body.get("title")
    if code and message:
        parts.append(f"[{code}] {message}")
    elif code or message:
        parts.append(str(code or message))
    details = body.get("errors") or []
    for item in details if isinstance(details, list) else [details]:
        if isinstance(item, dict):
            text = item.get("message") or item.get("code") or str(item)
            where = item.get("field") or item.get("resource")
            parts.append(f"{where}: {text}" if where else str(text))
        else:
            parts.append(str(item))
    return "; ".join(parts)[:MAX_BODY_CHARS] or str(body)[:MAX_BODY_CHARS]


def link_url(response: httpx.Response, rel: str = "next") -> str | None:
    """The URL of an RFC 5988 ``Link`` header relation (``next`` by default), or None."""
    return response.links.get(rel, {}).get("url")


class RestClient:
    """An ``httpx.Client`` for one vendor API, with the behaviour described in the module doc.

    ``label`` names the connection in every message (e.g. ``connection 'Acme CW' (id 3)``).
    ``auth`` is an httpx auth object or a ``(user, password)`` pair; secret header values and
    the password are added to ``redactor`` automatically, so they cannot leak through an
    error message. ``sleep`` is what retries wait with (tests pass a recorder).
    """

    SECRET_HEADER_HINTS: ClassVar[tuple[str, ...]] = ("authorization", "key", "token", "secret", "password", "code", "cookie")

    def __init__(
        self,
        base_url: str,
        *,
        label: str,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        redactor: Redactor | None = None,
        allow_http: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.label = label
        self.redact = (redactor or Redactor()).with_values(*self._secret_values(auth, headers or {}))
        scheme = urlsplit(base_url).scheme.lower()
        if scheme not in ("https", "http"):
            raise FatalError(f"{label}: base URL {self.redact(base_url)!r} must start with https://")
        if scheme == "http" and not allow_http:
            raise FatalError(
                f"{label}: base URL {self.redact(base_url)!r} is plain http, which would send credentials "
                "unencrypted; use https:// (plain http is allowed only for local simulators)"
            )
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url, auth=auth, headers=dict(headers or {}), timeout=timeout, follow_redirects=False,
            verify=tls_context(),
        )

    @classmethod
    def _secret_values(cls, auth: Any, headers: Mapping[str, str]) -> list[str]:
        values = [v for k, v in headers.items() if any(hint in k.lower() for hint in cls.SECRET_HEADER_HINTS)]
        if isinstance(auth, tuple):
            user, password = auth
            values += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
        return values

    # -- requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send a request, retrying retriable failures; returns the 2xx response.

        ``path`` is relative to the base URL, or absolute (a ``Link`` header's next URL).
        A 404 is fatal here: on a list endpoint it means a wrong URL, site or API version.
        """
        response = self._retrying(method, path, params, json, data, missing_ok=False)
        assert response is not None  # only a missing_ok 404 gives None
        return response

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        """GET ``path`` and decode its JSON body; with ``missing_ok`` a 404 gives None
        (a record that no longer exists)."""
        response = self._retrying("GET", path, params, None, None, missing_ok=missing_ok)
        return None if response is None else self.json_of(response)

    def _retrying(
        self, method: str, path: str, params: Any, json: Any, data: Any, *, missing_ok: bool
    ) -> httpx.Response | None:
        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._send_once, method, path, params, json, data, missing_ok)

    def json_of(self, response: httpx.Response) -> Any:
        """The decoded JSON body; a non-JSON success is fatal (a login page, a wrong site)."""
        try:
            return response.json()
        except ValueError:
            raise FatalError(
                f"{self.label}: {response.request.method} {response.request.url.path} answered "
                f"{response.status_code} with a body that is not JSON: {self.redact(response.text[:100])!r}"
            ) from None

    def _send_once(
        self, method: str, path: str, params: Any, json: Any, data: Any, missing_ok: bool
    ) -> httpx.Response | None:
        if self.budget is not None:
            self.budget.take()
        where = f"{method} {urlsplit(path).path or path}"
        try:
            response = self._client.request(method, path, params=params, json=json, data=data)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FatalError(self.redact(f"{self.label}: {where}: {exc}")) from None
        except httpx.TimeoutException as exc:
            raise RetriableError(self.redact(f"{self.label}: {where} timed out ({type(exc).__name__})")) from None
        except httpx.TransportError as exc:
            raise RetriableError(self.redact(f"{self.label}: {where} failed: {type(exc).__name__}: {exc}")) from None
        if response.is_success:
            return response
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        message = self.redact(
            f"{self.label}: {where} answered {status} {httpx.codes.get_reason_phrase(status)}: "
            f"{vendor_message(response)}"
        )
        if status in RETRIABLE_STATUSES or status >= 500:
            raise RetriableError(
                message, retry_after=parse_retry_after(response.headers.get("Retry-After")), status=status
            )
        raise FatalError(message, status=status)

    # -- retry policy --------------------------------------------------------------------

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.retry.max_attempts:
            return True
        retry_after = self._retry_after(state)
        return retry_after is not None and retry_after > self.retry.max_wait

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(
            multiplier=self.retry.backoff, max=self.retry.max_wait, jitter=self.retry.jitter
        )(state)
        return max(backoff, self._retry_after(state) or 0.0)

    @staticmethod
    def _retry_after(state: RetryCallState) -> float | None:
        exc = state.outcome.exception() if state.outcome else None
        return getattr(exc, "retry_after", None)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s; retrying in %.1fs (attempt %d of %d)", exc, wait, state.attempt_number + 1, self.retry.max_attempts
        )

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass
class SourceContext:
    """What the sync engine hands a connector: ready-made HTTP clients for its connection.

    Every client it makes shares the connection's request budget, retry policy and secret
    redaction, so a connector never writes its own retry loop or rate limiter. The engine
    builds it (:func:`podium.sync.source_context`) and closes the clients when done.
    """

    label: str
    """The connection as messages name it: ``connection 'Acme CW' (id 3)``."""
    budget: Budget | None
    retry: RetryPolicy
    redactor: Redactor
    page_size: int
    """The batch size the engine commits; connectors use it as their page size when they can."""
    stored_records: Callable[[str, Iterable[str]], dict[str, dict[str, Any]]] | None = None
    """``stored_records(entity, external_ids)`` → what Podium stored for this connection, as
    canonical records (:class:`podium.stored_records.StoredRecords`), for connectors that learn
    what changed by comparing snapshots; None outside a sync (a connection test)."""
    _clients: list[RestClient] = field(default_factory=list, repr=False)

    def rest_client(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        allow_http: bool = False,
    ) -> RestClient:
        client = RestClient(
            base_url,
            label=self.label,
            auth=auth,
            headers=headers,
            timeout=timeout,
            budget=self.budget,
            retry=self.retry,
            redactor=self.redactor,
            allow_http=allow_http,
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
