"""The one HTTP client for every public API (DefiLlama, CoinGecko, ...).

Each source is one `HttpSource` resource: a base URL (the only thing the sandbox changes),
an optional API key sent as a header, a per-source rate limit, and one retry policy:
429 / 5xx / connection errors / timeouts / truncated JSON are retried with exponential
backoff, never sooner than the server asks (`Retry-After`, or a hint in the body that the
caller reads, e.g. Infura's `backoff_seconds`), and a server asking for more than
`max_backoff_s` fails at once; other 4xx fail at once. When it gives up, the error names the
source, the URL (secrets removed) and the last status.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import io
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dagster as dg
import requests
from pydantic import PrivateAttr

from core.errors import SourceError, SourceTimeout

# A server or a gateway that gave up on an answer taking too long: 408 Request Timeout, 504
# Gateway Timeout, Cloudflare's 524 "A timeout occurred" (100 s).
TIMEOUT_STATUS = frozenset({408, 504, 524})
# 408/425/429 and every 5xx but "not implemented" and "version not supported" (Cloudflare
# adds 520-524 in front of APIs) can succeed on a later attempt.
RETRYABLE_STATUS = frozenset({408, 425, 429} | set(range(500, 600)) - {501, 505})
_SECRET_PARAM = re.compile(r"(key|token|secret|auth|password|signature)", re.IGNORECASE)


class _RedactSecrets(logging.Filter):
    """urllib3 logs every request line at DEBUG ("POST /v3/<key> HTTP/1.1"): with DEBUG
    logging on, an RPC key in a URL path would reach the logs. Known secrets become ***."""

    secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = tuple(self.secrets)  # a snapshot: another thread may add one meanwhile
        message = record.getMessage()
        if any(secret in message for secret in secrets):
            for secret in secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        return True


_REDACT = _RedactSecrets()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACT)


def redact_url(url: str, secrets: tuple[str, ...] = ()) -> str:
    """The URL as it may appear in logs: no userinfo, no secret-looking query values."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode(
        [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query)]
    )
    clean = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    for secret in secrets:
        if secret:
            clean = clean.replace(secret, "***")
    return clean


def _retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date); None if absent or unreadable."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=dt.UTC)
    return max(0.0, parsed.timestamp() - time.time())


class Undecodable(ValueError):
    """A 200 answer whose body cannot be read whole (cut off, not the promised format)."""


def _decode_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, requests.JSONDecodeError) as exc:
        raise Undecodable(f"invalid JSON ({exc.msg} at byte {exc.pos})") from None


class CsvRows(list):
    """A CSV document's rows keyed by column name, and its header (`header`): a body with no
    rows still says by its header whether it is the document asked for."""

    header: list[str]


def _decode_csv(response: requests.Response) -> CsvRows:
    # Undecodable bytes become U+FFFD, which the source's parser then rejects by field and value.
    text = response.content.decode("utf-8-sig", errors="replace")
    # A CSV body ends with a line break; without one the last row may be cut mid-value
    # (e.g. "4230.24" arriving as "42"), which would parse as a wrong number.
    if not text.endswith("\n"):
        raise Undecodable(f"a CSV body that does not end with a line break ({len(text)} bytes)")
    reader = csv.DictReader(io.StringIO(text))
    rows = CsvRows(reader)
    rows.header = list(reader.fieldnames or [])
    return rows


class HttpSource(dg.ConfigurableResource):
    """A public HTTP API: base URL, optional key header, rate limit and retry policy."""

    name: str
    base_url: str
    api_key: str | None = None
    api_key_header: str | None = None
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_s: float = 1.0
    # The longest one wait: a server asking for more (Retry-After, a body's hint) fails at once.
    # Five minutes: a public API's Retry-After (CoinGecko's free tier, Cloudflare's 1015 page)
    # is worth waiting out in a daily batch; the own back-off never gets near it (1, 2, 4, 8 s).
    max_backoff_s: float = 300.0
    # Minimum spacing between two requests to this source, in this process.
    min_interval_s: float = 0.0
    # For URLs that carry a key in their path (RPC providers): show only scheme and host.
    hide_path: bool = False

    _session: requests.Session | None = PrivateAttr(default=None)
    _last_request_at: float = PrivateAttr(default=0.0)
    _requests_made: int = PrivateAttr(default=0)
    _waits: list[float] = PrivateAttr(default_factory=list)
    _sleep: Callable[[float], None] = PrivateAttr(default=time.sleep)

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far, retries included: what users pay for."""
        return self._requests_made

    @property
    def waits(self) -> list[float]:
        """Every back-off this client slept, in order (for metadata and tests)."""
        return list(self._waits)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def get_csv(self, path: str, params: dict[str, Any] | None = None) -> CsvRows:
        """GET a CSV document (header row first) as a list of rows keyed by column name, with
        its header (`.header`)."""
        return self._request("GET", path, params=params, decode=_decode_csv, accept="text/csv")

    def post_json(
        self,
        path: str,
        body: Any,
        decode: Callable[[requests.Response], Any] | None = None,
        answer_statuses: frozenset[int] = frozenset(),
        split_on_timeout: bool = False,
        wait_hint: Callable[[requests.Response], tuple[float, str] | None] | None = None,
    ) -> Any:
        """POST a JSON body (JSON-RPC), with the same retry policy as GET. `decode` reads the
        200 answer (default: JSON to Python objects); it raises Undecodable for a body that
        is not whole, which is retried. An answer with a status in `answer_statuses` is
        decoded too when its body is JSON (some JSON-RPC providers send a refusal so).
        With `split_on_timeout`, a request that got no answer in time raises SourceTimeout
        at once instead of being sent again as it was: the caller asks for less.
        `wait_hint` reads a retryable answer's body for the seconds the server asks to wait
        and where it says so: waited like Retry-After (the longer of the two)."""
        return self._request(
            "POST",
            path,
            body=body,
            decode=decode,
            answer_statuses=answer_statuses,
            split_on_timeout=split_on_timeout,
            wait_hint=wait_hint,
        )

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        decode: Callable[[requests.Response], Any] | None = None,
        accept: str = "application/json",
        answer_statuses: frozenset[int] = frozenset(),
        split_on_timeout: bool = False,
        wait_hint: Callable[[requests.Response], tuple[float, str] | None] | None = None,
    ) -> Any:
        decode = decode or _decode_json
        url = self.base_url.rstrip("/") + ("/" + path.lstrip("/") if path else "")
        if self._session is None:
            self._session = requests.Session()
            # What this source's URL or headers carry that logs must never show.
            secret_path = urlsplit(self.base_url).path.strip("/") if self.hide_path else ""
            _REDACT.secrets.update(s for s in (self.api_key, secret_path) if s)
        headers = {"Accept": accept, "User-Agent": "stableflow/0.1"}
        if self.api_key and self.api_key_header:
            headers[self.api_key_header] = self.api_key
        shown = self.shown_url(url + ("?" + urlencode(params) if params else ""))

        problem = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            self._respect_rate_limit()
            self._requests_made += 1
            retry_after, asked_by = None, "Retry-After"
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=self.timeout_s,
                )
            except requests.ReadTimeout:
                if split_on_timeout:
                    raise SourceTimeout(
                        f"{self.name}: {method} {shown}: no answer within {self.timeout_s:g} s"
                    ) from None
                problem = "ReadTimeout"
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                # Transport faults, a body cut short included: the next attempt may work.
                problem = f"{type(exc).__name__}"
            except (requests.RequestException, ValueError) as exc:
                # A malformed URL or similar: retrying cannot help, and the exception's own
                # text would show the whole URL, key included.
                raise SourceError(
                    f"{self.name}: {method} {shown} cannot be sent: {type(exc).__name__}"
                ) from None
            else:
                if response.status_code == 200:
                    try:
                        return decode(response)
                    except Undecodable as exc:
                        # A cut-off body is a transport fault: the next attempt may be whole.
                        problem = f"HTTP 200 with {exc}"
                elif response.status_code in answer_statuses and response.headers.get(
                    "Content-Type", ""
                ).startswith("application/json"):
                    try:
                        return decode(response)
                    except Undecodable:
                        problem = f"HTTP {response.status_code} with a body that is not whole"
                elif split_on_timeout and response.status_code in TIMEOUT_STATUS:
                    raise SourceTimeout(
                        f"{self.name}: {method} {shown}: HTTP {response.status_code}, the "
                        f"server or a gateway in front of it gave up waiting for the answer"
                    )
                elif response.status_code in RETRYABLE_STATUS:
                    problem = f"HTTP {response.status_code}"
                    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                    hint = wait_hint(response) if wait_hint else None
                    if hint and hint[0] > (retry_after or 0):
                        retry_after, asked_by = hint
                    if retry_after:
                        problem += f", asked to back off {retry_after:g} s ({asked_by})"
                        asked_by += f" in an HTTP {response.status_code} to {method} {shown}"
                else:
                    raise SourceError(
                        f"{self.name}: {method} {shown} failed with HTTP "
                        f"{response.status_code}: {self._scrub(response.text[:200])!r}"
                    )
            if attempt < self.max_attempts:
                self.back_off(attempt, retry_after, asked_by)
        raise SourceError(
            f"{self.name}: {method} {shown} gave up after {self.max_attempts} attempts; "
            f"last problem: {problem}"
        )

    def back_off(
        self, attempt: int, retry_after: float | None = None, asked_by: str = "Retry-After"
    ) -> None:
        """Sleep before attempt `attempt + 1`: the exponential back-off, or longer if the
        server asked (`retry_after` seconds, said in `asked_by`). A server asking for more
        than max_backoff_s fails at once: asking sooner only sends a request the server said
        it would refuse, and waiting as long would hold the run for minutes."""
        if retry_after is not None and retry_after > self.max_backoff_s:
            raise SourceError(
                f"{self.name}: the provider asked to back off {retry_after:g} s ({asked_by}), "
                f"longer than this client waits at once (max_backoff_s = {self.max_backoff_s:g} "
                f"s): gave up rather than ask again too early. Retry later, or raise "
                f"max_backoff_s."
            )
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        wait = max(backoff, retry_after or 0.0)
        self._waits.append(wait)
        self._sleep(wait)

    def shown_url(self, url: str) -> str:
        """`url` as it may appear in messages and metadata."""
        if self.hide_path:
            parts = urlsplit(url)
            return (
                f"{parts.scheme}://{parts.hostname}"
                + (f":{parts.port}" if parts.port else "")
                + "/***"
            )
        return redact_url(url, (self.api_key or "",))

    def _scrub(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text

    def _respect_rate_limit(self) -> None:
        if self.min_interval_s <= 0:
            return
        elapsed = time.monotonic() - self._last_request_at
        if elapsed < self.min_interval_s:
            self._sleep(self.min_interval_s - elapsed)
        self._last_request_at = time.monotonic()
