"""The lean wire client against a REAL uvicorn server, plus a raw socket server for broken peers.

uvicorn shows what a correct server does (status codes, Content-Length and chunked bodies,
keep-alive, ``Connection: close``, slow responses); the raw asyncio server plays the peers
uvicorn will not imitate: one that hangs up mid-body, drops an idle connection or answers
garbage. Request bytes are checked against what httpx builds for the same request.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from test_loadgen import serve

from agentload.measure.loadgen.clients import classify, uses_wire
from agentload.measure.loadgen.runner import run_load
from agentload.measure.loadgen.scenarios import RequestSpec, Scenario, mixed, project_id
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec
from agentload.measure.loadgen.wire import WireClient, WireError, read_response

LIMITS = LoadLimits(max_users=20, max_rate=500.0, max_duration_s=5.0)
CONTEXTS = [{"track": "bmad-method", "phase": "planning", "has_ui": True, "workflow_history": ["a", "b"]}]
Seen = list[tuple[str, str, str | None, Any]]


def make_app(seen: Seen) -> FastAPI:
    """/status/{code}, /chunked, /peer (records the client port per key), /sleep, and /api/* recording requests."""
    app = FastAPI()
    peers: dict[str, set[int]] = defaultdict(set)

    @app.api_route("/status/{code}", methods=["GET", "POST", "PUT"])
    async def status(code: int) -> Response:
        return Response(b"" if code in (204, 304) else b"0123456789", status_code=code)

    @app.get("/chunked")
    async def chunked(parts: int, size: int) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(parts):
                yield b"x" * size

        return StreamingResponse(body())  # no length known: uvicorn sends it chunked

    @app.get("/peer")
    async def peer(request: Request, key: str, close: bool = False) -> Response:
        assert request.client is not None
        peers[key].add(request.client.port)
        return Response(b"ok", headers={"Connection": "close"} if close else None)

    @app.get("/peers")
    async def peer_count(key: str) -> dict[str, int]:
        return {"connections": len(peers[key])}

    @app.get("/sleep")
    async def sleep(ms: float) -> dict[str, float]:
        await asyncio.sleep(ms / 1000)
        return {"slept_ms": ms}

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT"])
    async def api(request: Request, rest: str) -> dict[str, bool]:
        body = await request.body()
        seen.append((request.method, request.url.path, request.headers.get("authorization"),
                     json.loads(body) if body else None))
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []
    with serve(make_app(seen)) as url:
        yield url, seen


def get(path: str, *params: tuple[str, str]) -> RequestSpec:
    return RequestSpec("GET", path, "t", params=list(params))


async def connections(url: str, key: str) -> int:
    async with httpx.AsyncClient(base_url=url) as client:
        count: int = (await client.get("/peers", params={"key": key})).json()["connections"]
        return count


async def test_given_status_codes_when_sending_then_each_status_and_body_size_comes_back(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    async with WireClient(url, timeout_s=2.0, slots=1) as wire:
        for code in (200, 201, 204, 302, 304, 404, 500, 503):
            assert await wire.send(0, RequestSpec("GET", f"/status/{code}", "s")) == (
                code, 0 if code in (204, 304) else 10)
        assert await wire.send(0, RequestSpec("POST", "/status/201", "s", json={"a": 1})) == (201, 10)
        assert await wire.send(0, RequestSpec("PUT", "/status/200", "s")) == (200, 10)


async def test_given_chunked_and_sized_bodies_when_sending_then_body_bytes_are_counted(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    sized = len(httpx.get(f"{url}/sleep?ms=0").content)
    async with WireClient(url, timeout_s=2.0, slots=1) as wire:
        assert await wire.send(0, get("/chunked", ("parts", "3"), ("size", "1000"))) == (200, 3000)
        assert await wire.send(0, get("/chunked", ("parts", "40"), ("size", "10000"))) == (200, 400_000)
        assert await wire.send(0, get("/chunked", ("parts", "0"), ("size", "1"))) == (200, 0)
        assert await wire.send(0, get("/sleep", ("ms", "0"))) == (200, sized)


async def test_given_keep_alive_when_sending_then_each_slot_reuses_its_connection_until_closed(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    async with WireClient(url, timeout_s=2.0, slots=2) as wire:
        for _ in range(5):
            assert (await wire.send(0, get("/peer", ("key", "reuse"))))[0] == 200
        await wire.send(1, get("/peer", ("key", "reuse")))
        for _ in range(3):  # the server hangs up after each response; the client must reconnect
            assert (await wire.send(0, get("/peer", ("key", "close"), ("close", "true"))))[0] == 200

    assert await connections(url, "reuse") == 2
    assert await connections(url, "close") == 3


async def test_given_slow_server_when_timeout_passes_then_timeout_and_the_late_answer_is_never_read(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    loop = asyncio.get_running_loop()
    async with WireClient(url, timeout_s=0.2, slots=1) as wire:
        started = loop.time()
        with pytest.raises(TimeoutError) as info:
            await wire.send(0, get("/sleep", ("ms", "600")))
        took = loop.time() - started
        assert await wire.send(0, RequestSpec("GET", "/status/201", "s")) == (201, 10)

    assert classify(info.value) == "timeout"
    assert 0.2 <= took < 0.5


async def test_given_nothing_listening_when_sending_then_connection_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with WireClient(f"http://127.0.0.1:{port}", timeout_s=1.0, slots=1) as wire:
        with pytest.raises(OSError) as info:
            await wire.send(0, get("/"))
    assert classify(info.value) == "connection"


@asynccontextmanager
async def raw_server(accepted: list[int]) -> AsyncIterator[str]:
    """Misbehaves by path: /cut hangs up mid-body, /drop answers then closes, /silent closes, /junk is not HTTP."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1]
                if path == b"/cut":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                elif path == b"/junk":
                    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
                elif path in (b"/drop", b"/ok"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                if path != b"/ok":
                    break
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    finally:
        srv.close()


async def test_given_peer_hanging_up_when_sending_then_connection_errors_and_idle_drops_reconnect() -> None:
    accepted: list[int] = []
    async with raw_server(accepted) as url, WireClient(url, timeout_s=1.0, slots=1) as wire:
        kinds = []
        for path in ("/cut", "/silent", "/junk"):
            with pytest.raises(Exception) as info:
                await wire.send(0, get(path))
            kinds.append(classify(info.value))
        assert await wire.send(0, get("/drop")) == (200, 2)
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        assert await wire.send(0, get("/ok")) == (200, 2)
        assert await wire.send(0, get("/ok")) == (200, 2)

    assert kinds == ["connection"] * 3
    assert len(accepted) == 5  # one per failure, one for /drop, one kept for both /ok


@pytest.mark.parametrize(("raw", "method", "expected"), [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\n"
     b"X-Trailer: 1\r\n\r\n", "GET", (200, 14, True)),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok", "POST", (201, 2, True)),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", "HEAD", (200, 0, True)),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", "GET", (200, 3, False)),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", "GET", (200, 3, False)),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive\r\n\r\nabc", "GET", (200, 3, True)),
    (b"HTTP/1.1 200 OK\r\n\r\nuntil close", "GET", (200, 11, False)),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", "GET", (200, 2, True)),
])
async def test_given_response_framing_when_reading_then_body_size_and_reuse_follow_http11(
        raw: bytes, method: str, expected: tuple[int, int, bool]) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(raw + (b"HTTP/1.1 204 No Content\r\n\r\n" if expected[2] else b""))  # must be left intact
    reader.feed_eof()
    assert await read_response(reader, method) == expected
    if expected[2]:
        assert await read_response(reader, "GET") == (204, 0, True)


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/2 200\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+4\r\nabcd\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
])
async def test_given_malformed_response_when_reading_then_protocol_error(raw: bytes) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    with pytest.raises(WireError) as info:
        await read_response(reader, "GET")
    assert classify(info.value) == "connection"


def test_given_request_when_encoding_then_target_and_body_match_httpx() -> None:
    wire = WireClient("http://127.0.0.1:8000/base/", timeout_s=1.0, slots=1)
    spec = RequestSpec("PUT", "/p/x y", "l", params=[("a", "1 2"), ("b", "é"), ("b", "&=")],
                       json={"k": "é", "n": [1, 2.5, None]}, headers={"Authorization": "Bearer t"})
    reference = httpx.Client(base_url="http://127.0.0.1:8000/base/").build_request(
        "PUT", spec.path, params=list(spec.params), json=spec.json, headers=dict(spec.headers))

    head, body = wire.encode(spec).split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT " + reference.url.raw_path + b" HTTP/1.1"
    assert body == reference.content
    for name in ("Host", "Content-Type", "Content-Length", "Authorization"):
        assert f"{name}: {reference.headers[name]}".encode() in lines
    get_head = wire.encode(get("/q", ("x", "1"))).decode()
    post_head = wire.encode(RequestSpec("POST", "/q", "l")).decode()
    assert "Content-Length" not in get_head and "Content-Length: 0\r\n" in post_head
    assert get_head.startswith("GET /base/q?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n")


def test_given_unsafe_input_when_building_then_refused_before_any_socket() -> None:
    wire = WireClient("http://localhost", timeout_s=1.0, slots=1)
    with pytest.raises(ValueError, match="CR/LF") as info:
        wire.encode(RequestSpec("GET", "/", "l", headers={"X-A": "1\r\nX-Injected: 1"}))
    assert classify(info.value) == "other"
    assert b"Host: localhost\r\n" in wire.encode(get("/"))
    with pytest.raises(ValueError, match="http://"):
        WireClient("https://127.0.0.1", timeout_s=1.0, slots=1)
    assert uses_wire("http://127.0.0.1:1", None, "auto")
    assert not uses_wire("http://127.0.0.1:1", httpx.MockTransport(lambda r: httpx.Response(200)), "auto")
    assert not uses_wire("https://127.0.0.1:1", None, "auto") and not uses_wire("http://x", None, "httpx")
    with pytest.raises(ValueError, match="http_client='wire'"):
        uses_wire("https://127.0.0.1:1", None, "wire")
    with pytest.raises(ValueError, match="must be"):
        uses_wire("http://127.0.0.1:1", None, "curl")  # type: ignore[arg-type]


async def test_given_mixed_scenario_over_the_wire_when_running_then_the_api_gets_every_method_and_body(
        server: tuple[str, Seen]) -> None:
    url, seen = server
    spec = LoadSpec.with_limits(LIMITS, base_url=url, users=3, rate=150, duration_s=0.4, scenario="mixed")
    result = await run_load(spec, mixed(CONTEXTS, "tok", weights=(1, 1, 1), seed=1))

    assert result.completed == result.sent == 60 and result.errors == {}
    assert set(result.per_label) == {"selection", "preload", "workflow-state", "journey-selection"}
    assert result.bytes_received == 60 * len(b'{"ok":true}')
    methods = {m for m, *_ in seen}
    assert methods == {"GET", "POST", "PUT"} and all(auth == "Bearer tok" for _, _, auth, _ in seen)
    assert ("POST", "/api/v1/agents/preload", "Bearer tok", {"context": CONTEXTS[0]}) in seen
    puts = {path for method, path, _, body in seen if method == "PUT" and body == CONTEXTS[0]}
    assert puts and puts <= {f"/api/v1/projects/{project_id(u)}/workflow-state" for u in range(3)}


async def test_given_same_load_when_run_with_wire_or_httpx_then_counts_errors_and_bytes_agree(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    spec = LoadSpec.with_limits(LIMITS, base_url=url, users=1, rate=50, duration_s=0.2)
    codes = Scenario("codes", lambda u, s: RequestSpec("GET", f"/status/{(200, 404, 503)[s % 3]}", "c"))

    wire = await run_load(spec, codes, http_client="wire")
    via_httpx = await run_load(spec, codes, http_client="httpx")

    for result in (wire, via_httpx):
        assert result.sent == result.completed == 10 and result.errors == {"status_404": 3, "status_503": 3}
        assert result.bytes_received == 100
