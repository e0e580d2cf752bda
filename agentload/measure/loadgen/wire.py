"""A lean HTTP/1.1 keep-alive client for the load generator: one asyncio stream per user.

Why not httpx on this path: httpx spends ~1.2-1.4 ms of client CPU per request here (URL
and header models, the h11 state machine, pool locks, event hooks), and that time lands
inside every latency we report - more than the API's own server time for a selection
read, so our p50 came out ~2x Locust's against the same server. This client does only what
the generator needs: write one pre-formatted request, read the status line and headers,
skip the body by Content-Length, chunks or close, and count its bytes. No redirects, no
proxies, no cookies, no decompression (bodies are counted, never used), no TLS: https
targets keep httpx. Connections go only to the host:port of the base URL the runner has
already passed through ``check_target``; request paths cannot name another host.

The runner never has two requests of one user in flight, so each user owns a connection
slot. A connection is reused while the server keeps it alive and reopened after the server
closes it, or after a failure or timeout left it in an unknown state. One timeout bounds
the whole exchange (connect, write, response).
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from agentload.measure.loadgen.scenarios import RequestSpec

HEADER_LIMIT = 64 * 1024  # status line + headers; a longer head is a protocol error
_BLOCK = 64 * 1024
_HEX = b"0123456789abcdefABCDEF"
_NO_BODY_STATUS = frozenset({204, 304})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # these send Content-Length: 0 without a body
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
# what httpx sends by default, so the server does the same work for either client
_DEFAULT_HEADERS = (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate, br"),
                    ("Connection", "keep-alive"), ("User-Agent", "agentload-loadgen"))


class WireError(Exception):
    """The server broke HTTP/1.1 framing (bad status line, header or chunk size)."""


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def reusable(self) -> bool:
        """False once the server has closed it while idle (keep-alive timeout) or it failed."""
        return not (self.reader.at_eof() or self.writer.is_closing() or self.reader.exception() is not None)

    def close(self) -> None:
        self.writer.close()


def _text(value: Any) -> str:
    """Query values as httpx renders them: booleans lower-case, None empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _checked(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"CR/LF in request line or header: {value!r}")
    return value


class WireClient:
    """HTTP/1.1 over ``slots`` keep-alive connections to the host:port of ``base_url`` (http only)."""

    def __init__(self, base_url: str, *, timeout_s: float, slots: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the wire client speaks plain http:// only, got {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self._prefix = parts.path.rstrip("/")  # like httpx's base_url: paths are joined below it
        authority = f"[{self.host}]" if ":" in self.host else self.host
        authority += f":{self.port}" if self.port != 80 else ""
        self._defaults = {"host": ("Host", authority), **{k.lower(): (k, v) for k, v in _DEFAULT_HEADERS}}
        self._conns: list[_Conn | None] = [None] * slots
        self._closed = False

    async def __aenter__(self) -> WireClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def send(self, slot: int, request: RequestSpec) -> tuple[int, int]:
        """Send ``request`` on the connection of ``slot``; returns (status, body bytes received).

        Raises ``TimeoutError``, ``OSError`` (refused, reset), ``asyncio.IncompleteReadError``
        (closed mid-response) or ``WireError``; the connection is dropped on any of them.
        """
        data = self.encode(request)
        conn, self._conns[slot] = self._conns[slot], None  # never shared, even if misused
        try:
            async with asyncio.timeout(self.timeout_s):
                if conn is None or not conn.reusable():
                    if conn is not None:
                        conn.close()
                    reader, writer = await asyncio.open_connection(self.host, self.port, limit=HEADER_LIMIT)
                    conn = _Conn(reader, writer)
                conn.writer.write(data)
                if conn.writer.transport.get_write_buffer_size():
                    await conn.writer.drain()
                status, nbytes, keep = await read_response(conn.reader, request.method)
        except BaseException:  # incl. cancellation: a half-read response must not be reused
            if conn is not None:
                conn.close()
            raise
        if keep and not self._closed and self._conns[slot] is None:
            self._conns[slot] = conn
        else:
            conn.close()
        return status, nbytes

    def encode(self, request: RequestSpec) -> bytes:
        """The request as bytes on the wire (request line, headers, JSON body as httpx encodes it)."""
        path, _, query = request.path.partition("?")
        target = self._prefix + quote(path, safe=_PATH_SAFE)
        extra = urlencode([(k, _text(v)) for k, v in request.params]) if request.params else ""
        query = "&".join(q for q in (quote(query, safe=_QUERY_SAFE), extra) if q)
        if query:
            target += "?" + query
        headers = dict(self._defaults)
        body = b""
        if request.json is not None:
            body = json.dumps(request.json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            headers["content-type"] = ("Content-Type", "application/json")
        for name, value in request.headers.items():
            headers[name.lower()] = (_checked(name), _checked(value))
        method = request.method.upper()
        if body or method in _BODY_METHODS:
            headers["content-length"] = ("Content-Length", str(len(body)))
        else:
            headers.pop("content-length", None)
        headers.pop("transfer-encoding", None)  # the framing is ours to decide
        lines = [f"{_checked(method)} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in headers.values())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def aclose(self) -> None:
        """Close the idle connections; in-flight ones are closed when their request ends."""
        self._closed = True
        conns = [c for c in self._conns if c is not None]
        self._conns = [None] * len(self._conns)
        for conn in conns:
            conn.close()
        await asyncio.gather(*(c.writer.wait_closed() for c in conns), return_exceptions=True)


def parse_head(head: bytes) -> tuple[int, bool, dict[bytes, bytes]]:
    """(status, HTTP/1.1?, lower-case headers) of a response head ending in CRLF CRLF."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or len(parts[1]) != 3 \
            or not parts[1].isdigit():
        raise WireError(f"bad status line {lines[0][:100]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise WireError(f"bad header line {line[:100]!r}")
        key = name.lower()
        headers[key] = headers[key] + b", " + value.strip() if key in headers else value.strip()
    return int(parts[1]), parts[0] == b"HTTP/1.1", headers


def _tokens(value: bytes | None) -> list[bytes]:
    return [t.strip().lower() for t in value.split(b",")] if value else []


async def read_response(reader: asyncio.StreamReader, method: str) -> tuple[int, int, bool]:
    """Read one response; (status, body bytes, connection reusable). Skips 1xx interim responses."""
    while True:
        status, http11, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
        if not 100 <= status < 200 or status == 101:
            break
    conn_tokens = _tokens(headers.get(b"connection"))
    keep = b"close" not in conn_tokens and (http11 or b"keep-alive" in conn_tokens)
    if method.upper() == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        return status, 0, keep and status != 101
    coding = _tokens(headers.get(b"transfer-encoding"))
    if coding:
        if coding[-1] == b"chunked":
            return status, await _read_chunked(reader), keep
        return status, await _read_to_close(reader), False
    length = headers.get(b"content-length")
    if length is None:
        return status, await _read_to_close(reader), False
    values = set(_tokens(length))
    if len(values) != 1 or not (n := values.pop()).isdigit():
        raise WireError(f"bad Content-Length {length[:100]!r}")
    await _skip(reader, int(n))
    return status, int(n), keep


async def _skip(reader: asyncio.StreamReader, n: int) -> None:
    """Consume exactly ``n`` body bytes without holding more than a block in memory."""
    while n > 0:
        block = await reader.read(min(n, _BLOCK))
        if not block:
            raise asyncio.IncompleteReadError(b"", n)
        n -= len(block)


async def _read_chunked(reader: asyncio.StreamReader) -> int:
    total = 0
    while True:
        size_text = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        if not size_text or size_text.strip(_HEX):
            raise WireError(f"bad chunk size {size_text[:100]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        await _skip(reader, size)
        if await reader.readexactly(2) != b"\r\n":
            raise WireError("chunk not terminated by CRLF")
        total += size
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, ignored
        pass
    return total


async def _read_to_close(reader: asyncio.StreamReader) -> int:
    total = 0
    while block := await reader.read(_BLOCK):
        total += len(block)
    return total
