"""Which HTTP client a run uses, behind one ``send(slot, request) -> (status, bytes)`` call.

aiohttp (a maintained asyncio client: keep-alive connection pool, C HTTP parser, TLS) sends
to every real target; httpx only when a test or an in-process target injects a
``transport``. The client's own time per request lands inside every latency we report, so it
was measured against a raw-socket floor (``benchmarks/loadgen_client_error.py``: the real API
on loopback, 10 users, 5 s runs, median over 3 rounds of each client's p50 minus the p50 of
the floor run just before it). aiohttp keeps that error under the 1 ms budget at every rate
tested, from the demo's 10-20 requests/s to four times the tests' 100:

======  =========  ========  ========  ========================================
rate/s  floor p50  aiohttp   httpx     before the switch (experimental senders)
======  =========  ========  ========  ========================================
20      1.10 ms    +0.46 ms  +2.00 ms  httpcore +1.73, h11 +0.23, hand-written -0.08
100     0.52 ms    +0.28 ms  +1.64 ms  httpcore +1.16, h11 +0.28, hand-written +0.13
200     0.54 ms    +0.27 ms  +1.62 ms  httpcore +0.96, h11 +0.21, hand-written +0.16
400     0.54 ms    +0.40 ms  +19.9 ms  httpcore +6.17, h11 +0.34, hand-written +0.14
======  =========  ========  ========  ========================================

p99 differences (aiohttp at most +1.5 ms) stay inside the floor's own spread from round to
round on the shared 2-core machine (1.5-5 ms). httpx and httpcore spend over 1 ms of Python
per request and saturate the generator near 400 requests/s; aiohttp costs 0.1-0.3 ms more
than the hand-written HTTP/1.1 client it replaced, and the generator no longer parses HTTP.

Both clients connect only to the checked target (a request whose URL would leave it raises
``TargetRefused``), never follow redirects, ignore proxy settings and do not decompress
(bodies are counted on the wire, never used), and their failures are sorted into the same
error kinds, so a ``LoadResult`` means the same whichever one ran. One timeout bounds the
whole exchange (pool wait, connect, write, response and body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import httpx
from yarl import URL

from agentload.measure.loadgen.scenarios import RequestSpec
from agentload.measure.loadgen.spec import LoadSpec, TargetRefused

HttpClient = Literal["auto", "aiohttp", "httpx"]
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
# what httpx sends by default, so the server does the same work for either client
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate, br", "User-Agent": "agentload-loadgen"}


class Sender(Protocol):
    """Sends one request on the connection slot of a virtual user."""

    async def send(self, slot: int, request: RequestSpec) -> tuple[int, int]:
        """(status code, body bytes received); raises on timeout, connection or protocol failure."""
        ...


def _text(value: Any) -> str:
    """Query values as httpx renders them: booleans lower-case, None empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _checked(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"CR/LF in request line or header: {value!r}")
    return value


def request_target(prefix: str, request: RequestSpec) -> str:
    """Path and query of ``request`` below the base URL's path ``prefix``, percent-encoded as httpx does."""
    path, _, query = request.path.partition("?")
    target = prefix + quote(path, safe=_PATH_SAFE)
    extra = urlencode([(k, _text(v)) for k, v in request.params]) if request.params else ""
    query = "&".join(q for q in (quote(query, safe=_QUERY_SAFE), extra) if q)
    return target + "?" + query if query else target


def request_body(request: RequestSpec) -> tuple[bytes | None, dict[str, str]]:
    """(body, headers): ``DEFAULT_HEADERS`` under the request's own, JSON encoded compactly as httpx does.

    Raises ``ValueError`` for CR or LF in a header name or value (nothing is sent)."""
    merged = {name.lower(): (name, value) for name, value in DEFAULT_HEADERS.items()}
    body = None
    if request.json is not None:
        body = json.dumps(request.json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        merged["content-type"] = ("Content-Type", "application/json")
    for name, value in request.headers.items():
        merged[name.lower()] = (_checked(name), _checked(value))
    return body, dict(merged.values())


class AiohttpSender:
    """aiohttp with a pool of ``slots`` keep-alive connections to ``base_url``; ``slot`` is not needed.

    The runner never has more than ``slots`` requests in flight, so a request never waits for
    a connection. A connection that failed, timed out or was closed by the server is not reused.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.session, self.timeout_s = session, timeout_s
        self._origin = URL(base_url).origin()
        self._prefix = parts.path.rstrip("/")  # like httpx's base_url: paths are joined below it

    def url(self, request: RequestSpec) -> URL:
        """The absolute URL of ``request``; ``TargetRefused`` if it would leave the base URL's origin."""
        url = URL(str(self._origin) + request_target(self._prefix, request), encoded=True)
        if url.origin() != self._origin:
            raise TargetRefused(f"request to {url} leaves the checked target {self._origin}")
        return url

    async def send(self, slot: int, request: RequestSpec) -> tuple[int, int]:
        """(status, body bytes); raises ``TimeoutError``, ``aiohttp.ClientError``, ``OSError`` or ``ValueError``."""
        url = self.url(request)
        body, headers = request_body(request)
        nbytes = 0
        async with asyncio.timeout(self.timeout_s), self.session.request(
                _checked(request.method.upper()), url, data=body, headers=headers, allow_redirects=False) as response:
            async for block in response.content.iter_any():
                nbytes += len(block)
            return response.status, nbytes


class HttpxSender:
    """httpx behind the ``Sender`` call; its pool holds one keep-alive connection per user."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, slot: int, request: RequestSpec) -> tuple[int, int]:
        """(status, body bytes on the wire, or the body's length for an in-memory transport)."""
        params: list[tuple[str, str | int | float | bool | None]] = list(request.params)
        response = await self.client.request(request.method, request.path, params=params,
                                             json=request.json, headers=dict(request.headers))
        return response.status_code, response.num_bytes_downloaded or len(response.content)


def classify(exc: Exception) -> str:
    """Error kind of a failed request: ``timeout``, ``connection`` or ``other``."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):  # before OSError: TimeoutError is one
        return "timeout"
    if isinstance(exc, aiohttp.InvalidURL):
        return "other"
    if isinstance(exc, aiohttp.ClientError | httpx.NetworkError | httpx.RemoteProtocolError | OSError | EOFError):
        return "connection"
    return "other"


def uses_aiohttp(transport: httpx.AsyncBaseTransport | None, http_client: HttpClient) -> bool:
    """Whether a run goes through aiohttp; ``aiohttp`` with an injected (httpx) transport is an error."""
    if http_client not in ("auto", "aiohttp", "httpx"):
        raise ValueError(f"http_client must be 'auto', 'aiohttp' or 'httpx', got {http_client!r}")
    if http_client == "aiohttp" and transport is not None:
        raise ValueError("http_client='aiohttp' cannot use an injected httpx transport")
    return http_client == "aiohttp" or (http_client == "auto" and transport is None)


@asynccontextmanager
async def open_sender(spec: LoadSpec, transport: httpx.AsyncBaseTransport | None = None,
                      http_client: HttpClient = "auto") -> AsyncIterator[Sender]:
    """The client for one run, with ``spec.users`` keep-alive connections, closed on exit."""
    if uses_aiohttp(transport, http_client):
        connector = aiohttp.TCPConnector(limit=spec.users, limit_per_host=spec.users)
        # no aiohttp timeout: ``asyncio.timeout`` in ``send`` bounds the whole exchange; no
        # ``Content-Type: application/octet-stream`` on a bodiless POST (httpx sends none)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                                         trust_env=False, auto_decompress=False,
                                         skip_auto_headers=("Content-Type",)) as session:
            # aiohttp resends an idempotent request once when the server drops the connection
            # (RFC 9112 9.3.1); a load test must count that failure, not hide it in a slower
            # success. No public switch exists; this is the one aiohttp's own test client uses,
            # and tests/unit/test_loadgen_clients.py counts the connections to prove it holds.
            session._retry_connection = False
            yield AiohttpSender(session, spec.base_url, spec.timeout_s)
        return
    base = httpx.URL(spec.base_url)

    async def guard(request: httpx.Request) -> None:
        if (request.url.scheme, request.url.host, request.url.port) != (base.scheme, base.host, base.port):
            raise TargetRefused(f"request to {request.url} leaves the checked target {spec.base_url}")

    limits = httpx.Limits(max_connections=spec.users, max_keepalive_connections=spec.users)
    async with httpx.AsyncClient(base_url=spec.base_url, timeout=spec.timeout_s, limits=limits,
                                 trust_env=False, follow_redirects=False, transport=transport,
                                 event_hooks={"request": [guard]}) as client:
        yield HttpxSender(client)
