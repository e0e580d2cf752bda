"""Which HTTP client a run uses, behind one ``send(slot, request) -> (status, bytes)`` call.

The lean ``WireClient`` is the default for http:// targets because its client-side cost per
request is a fraction of httpx's, and that cost is part of every latency we report. httpx
stays for https:// targets (the wire client has no TLS) and whenever a test or an
in-process target injects a ``transport``. Both clients connect only to the checked
target, never follow redirects and ignore proxy settings, and their failures are sorted
into the same error kinds, so a ``LoadResult`` means the same whichever one ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal, Protocol
from urllib.parse import urlsplit

import httpx

from agentload.measure.loadgen.scenarios import RequestSpec
from agentload.measure.loadgen.spec import LoadSpec, TargetRefused
from agentload.measure.loadgen.wire import WireClient, WireError

HttpClient = Literal["auto", "wire", "httpx"]


class Sender(Protocol):
    """Sends one request on the connection slot of a virtual user."""

    async def send(self, slot: int, request: RequestSpec) -> tuple[int, int]:
        """(status code, body bytes received); raises on timeout, connection or protocol failure."""
        ...


class HttpxSender:
    """httpx behind the ``Sender`` call; its pool holds one keep-alive connection per user."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, slot: int, request: RequestSpec) -> tuple[int, int]:
        params: list[tuple[str, str | int | float | bool | None]] = list(request.params)
        response = await self.client.request(request.method, request.path, params=params,
                                             json=request.json, headers=dict(request.headers))
        # wire bytes when streamed from a socket; the body length for in-memory transports
        return response.status_code, response.num_bytes_downloaded or len(response.content)


def classify(exc: Exception) -> str:
    """Error kind of a failed request: ``timeout``, ``connection`` or ``other``."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):  # before OSError: TimeoutError is one
        return "timeout"
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | WireError | OSError | EOFError
                  | asyncio.LimitOverrunError):
        return "connection"
    return "other"


def uses_wire(base_url: str, transport: httpx.AsyncBaseTransport | None, http_client: HttpClient) -> bool:
    """Whether a run goes through ``WireClient``; ``wire`` on a target it cannot serve is an error."""
    if http_client not in ("auto", "wire", "httpx"):
        raise ValueError(f"http_client must be 'auto', 'wire' or 'httpx', got {http_client!r}")
    plain = urlsplit(base_url).scheme == "http"
    if http_client == "wire" and (transport is not None or not plain):
        raise ValueError("http_client='wire' needs an http:// target and no injected transport")
    return http_client == "wire" or (http_client == "auto" and transport is None and plain)


@asynccontextmanager
async def open_sender(spec: LoadSpec, transport: httpx.AsyncBaseTransport | None = None,
                      http_client: HttpClient = "auto") -> AsyncIterator[Sender]:
    """The client for one run, with ``spec.users`` connection slots, closed on exit."""
    if uses_wire(spec.base_url, transport, http_client):
        async with WireClient(spec.base_url, timeout_s=spec.timeout_s, slots=spec.users) as wire:
            yield wire
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
