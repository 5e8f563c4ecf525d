"""The interface every PSA adapter implements, the errors they raise and the HTTP client they
share.

    PsaError                    the PSA did not do what was asked (502 to our own callers)
     ├── PsaAuthError           401/403: the integration's credentials are wrong or lack a right;
     │                          one message naming the integration and what to do
     ├── PsaNotFoundError       the ticket (or the ticket behind a post) does not exist (404)
     ├── PsaRejectedError       any other 4xx: the PSA refused the request as it is; retrying the
     │                          same request cannot help
     └── PsaUnavailableError    a timeout, a refused connection, a 5xx: try again later (504)
          └── PsaRateLimitedError   429, with the seconds the PSA asked us to wait (Retry-After)

Every exchange is reported to ``on_exchange`` (method, URL, bodies, status, time) with the
integration's secrets replaced by ``[REDACTED]`` and without any header, so the caller can keep
a record that leaks nothing. Timeouts are short and explicit: a PSA that hangs costs the caller
seconds, never a blocked prompt.
"""

from __future__ import annotations

import email.utils
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from mspmode.errors import MSPError

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_RECORDED_BODY = 8000
REDACTED = "[REDACTED]"


class PsaError(MSPError):
    """The PSA did not do what was asked."""

    status_code = 502
    transient = False

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class PsaAuthError(PsaError):
    """The PSA refused the integration's credentials or their rights (401/403)."""


class PsaNotFoundError(PsaError):
    """The ticket does not exist in the PSA (or the key may not see it)."""

    status_code = 404


class PsaRejectedError(PsaError):
    """The PSA refused the request as it is (4xx other than 401/403/404/429)."""


class PsaUnavailableError(PsaError):
    """Timeout, connection refused, 5xx: worth another try later."""

    status_code = 504
    transient = True


class PsaRateLimitedError(PsaUnavailableError):
    """429: ``retry_after`` seconds until the PSA takes requests again."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: float | None, http_status: int = 429) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class PsaConfig:
    """One integration as the adapter needs it: secrets decrypted, in memory only."""

    name: str
    kind: str
    base_url: str
    secrets: Mapping[str, str] = field(repr=False)
    username: str | None = None
    client_id: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def secret(self, name: str) -> str:
        value = self.secrets.get(name)
        if not value:
            raise PsaAuthError(f"{self.label}: no {name} stored; add the integration again with it")
        return value

    def setting(self, name: str) -> Any:
        return self.settings.get(name)

    @property
    def label(self) -> str:
        return f"{self.kind} integration {self.name!r}"


@dataclass(frozen=True)
class Ticket:
    id: str
    number: str
    title: str | None
    status: str | None
    url: str | None = None


@dataclass(frozen=True)
class NoteIn:
    text: str  # already carries the idempotency marker


@dataclass(frozen=True)
class TimeIn:
    minutes: int
    started_at: datetime
    billable: bool
    note: str  # carries the idempotency marker
    hours: Decimal | None = None  # for the decimal-hours PSAs, from units.hours_for
    member: str | None = None  # the PSA's user the time is posted as; None: the API user

    @property
    def ended_at(self) -> datetime:
        from datetime import timedelta

        return self.started_at + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer, as recorded (secrets scrubbed, no headers)."""

    integration: str
    action: str
    method: str
    url: str
    request: Any
    status: int | None
    response: Any
    duration_ms: int
    error: str | None


def marker(key: str) -> str:
    """The text a posted note or time entry carries so a retry can recognise it."""
    return f"[msp:{key}]"


def iso_z(value: datetime) -> str:
    """``2026-03-02T09:00:00Z``: UTC, whole seconds (ConnectWise refuses fractions)."""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class Http:
    """httpx with explicit timeouts, errors mapped to the tree above, and a scrubbed record of
    every exchange."""

    def __init__(
        self,
        config: PsaConfig,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_exchange: Callable[[Exchange], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.on_exchange = on_exchange
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)
        self._secrets = sorted(
            (s for s in config.secrets.values() if s and len(s) >= 4), key=len, reverse=True
        )
        self.action = "synced"

    def close(self) -> None:
        self.client.close()

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, Mapping):
            return {str(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.config.base_url.rstrip("/") + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        action: str | None = None,
        not_found: str | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (or text). ``not_found`` is the message
        for a 404 (the thing that is missing); without it a 404 is a rejection."""
        url = self.url(path)
        started = time.monotonic()
        shown_url = self.scrub(str(httpx.URL(url, params=dict(params) if params else None)))
        shown_request = self.scrub(json_body if json_body is not None else ({"form": "…"} if form else None))
        status: int | None = None
        answer: Any = None
        error: PsaError | None = None
        try:
            response = self.client.request(
                method, url, params=params, json=json_body, data=form, headers=dict(headers or {})
            )
            status = response.status_code
            answer = _decode(response)
            error = self._error_for(response, answer, not_found)
        except httpx.TimeoutException:
            error = PsaUnavailableError(f"{self.config.label}: no answer from {_host(url)} in time")
        except httpx.HTTPError as exc:
            error = PsaUnavailableError(
                f"{self.config.label}: cannot reach {_host(url)} ({type(exc).__name__})"
            )
        finally:
            if self.on_exchange is not None:
                self.on_exchange(
                    Exchange(
                        integration=self.config.name,
                        action=action or self.action,
                        method=method,
                        url=shown_url,
                        request=shown_request,
                        status=status,
                        response=self.scrub(_truncate(answer)),
                        duration_ms=int((time.monotonic() - started) * 1000),
                        error=self.scrub(str(error)) if error else None,
                    )
                )
        if error is not None:
            raise error
        return answer

    def _error_for(self, response: httpx.Response, answer: Any, not_found: str | None) -> PsaError | None:
        code = response.status_code
        if code < 400:
            return None
        label = self.config.label
        if code in (401, 403):
            what = "refused our credentials" if code == 401 else "refused: the API user lacks a permission"
            return PsaAuthError(
                f"{label}: {what} (HTTP {code}); check them with `msp psa test {self.config.name}` "
                f"and add the integration again with the right ones",
                http_status=code,
            )
        if code == 404 and not_found:
            return PsaNotFoundError(f"{label}: {not_found}", http_status=code)
        if code == 429:
            wait = retry_after(response.headers.get("retry-after"))
            later = f" for {wait:.0f} s" if wait is not None else ""
            return PsaRateLimitedError(
                f"{label}: rate limited (HTTP 429); asked to wait{later}", retry_after=wait
            )
        if code >= 500 or code in (408, 425):
            return PsaUnavailableError(f"{label}: the PSA failed (HTTP {code})", http_status=code)
        detail = _detail(answer)
        return PsaRejectedError(
            f"{label}: refused (HTTP {code}){': ' + detail if detail else ''}", http_status=code
        )


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
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
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def _truncate(value: Any) -> Any:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= MAX_RECORDED_BODY:
        return value
    return {"truncated": True, "head": text[:MAX_RECORDED_BODY]}


def _detail(answer: Any) -> str:
    if isinstance(answer, Mapping):
        for key in ("message", "errors", "error", "Message"):
            if answer.get(key):
                return str(answer[key])[:300]
    if isinstance(answer, str):
        return answer.strip()[:300]
    return ""


def _host(url: str) -> str:
    return httpx.URL(url).host or url


class PsaAdapter(ABC):
    """One PSA's API behind the five verbs MSP Mode needs."""

    kind: ClassVar[str]
    title: ClassVar[str]
    doc: ClassVar[str]  # the vendor's API documentation the adapter follows
    # What the integration must have: secret names and plain fields ("username", "client_id").
    secret_names: ClassVar[tuple[str, ...]] = ("api_key",)
    required: ClassVar[tuple[str, ...]] = ()
    credential_type: ClassVar[str] = "api_key"
    # Decimal places of the hours this PSA takes; None: it does not take decimal hours.
    hours_places: ClassVar[int | None] = None

    def __init__(self, config: PsaConfig, http: Http) -> None:
        self.config = config
        self.http = http

    @abstractmethod
    def authenticate(self) -> str:
        """Prove the credentials work; return who we are to the PSA, for a person to read."""

    @abstractmethod
    def find_ticket(self, number: str) -> Ticket:
        """The ticket a person calls ``number`` (PsaNotFoundError if there is none)."""

    @abstractmethod
    def get_ticket(self, ticket_id: str) -> Ticket:
        """The ticket by the PSA's own id, with its current status and title."""

    @abstractmethod
    def find_posted(self, ticket: Ticket, kind: str, key: str) -> str | None:
        """The id of a note (``kind`` "note") or time entry ("time") carrying ``marker(key)``
        that is already on the ticket, or None."""

    @abstractmethod
    def post_note(self, ticket: Ticket, note: NoteIn) -> str:
        """Post an internal note (not visible to the end user); return its id."""

    @abstractmethod
    def post_time(self, ticket: Ticket, entry: TimeIn) -> str:
        """Post a time entry; return its id."""

    def missing(self) -> list[str]:
        """What the configuration lacks for this PSA."""
        out = [f"secret {s}" for s in self.secret_names if not self.config.secrets.get(s)]
        for name in self.required:
            value = getattr(self.config, name, None) if name in ("username", "client_id") else None
            if value is None and name not in ("username", "client_id"):
                value = self.config.setting(name)
            if not value:
                out.append(name)
        return out


def has_marker(texts: Sequence[Any], key: str) -> bool:
    wanted = marker(key)
    return any(isinstance(t, str) and wanted in t for t in texts)
