"""The generator's HTTP clients against a REAL uvicorn server, plus a raw socket server for broken peers.

uvicorn shows what a correct server does (status codes, Content-Length and chunked bodies,
keep-alive, ``Connection: close``, slow responses); the raw asyncio server plays the peers
uvicorn will not imitate: one that hangs up mid-body, drops an idle connection, answers
garbage or frames its answers in the rarer ways HTTP/1.1 allows. What the server receives is
checked against what httpx sends for the same request, so either client loads it the same.
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

from agentload.measure.loadgen.clients import AiohttpSender, HttpClient, Sender, classify, open_sender, uses_aiohttp
from agentload.measure.loadgen.runner import run_load
from agentload.measure.loadgen.scenarios import RequestSpec, Scenario, mixed, project_id
from agentload.measure.loadgen.spec import LoadLimits, LoadSpec, TargetRefused

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


CLIENTS: list[HttpClient] = ["aiohttp", "httpx"]


@asynccontextmanager
async def sender(url: str, client: HttpClient = "aiohttp", *, users: int = 1,
                 timeout_s: float = 2.0) -> AsyncIterator[Sender]:
    spec = LoadSpec.with_limits(LIMITS, base_url=url, users=users, rate=10, duration_s=0.5, timeout_s=timeout_s)
    async with open_sender(spec, http_client=client) as opened:
        yield opened


@pytest.mark.parametrize("client", CLIENTS)
async def test_given_status_codes_when_sending_then_each_status_and_body_size_comes_back(
        server: tuple[str, Seen], client: HttpClient) -> None:
    url, _ = server
    async with sender(url, client) as http:
        for code in (200, 201, 204, 302, 304, 404, 500, 503):
            assert await http.send(0, RequestSpec("GET", f"/status/{code}", "s")) == (
                code, 0 if code in (204, 304) else 10)
        assert await http.send(0, RequestSpec("POST", "/status/201", "s", json={"a": 1})) == (201, 10)
        assert await http.send(0, RequestSpec("PUT", "/status/200", "s")) == (200, 10)


@pytest.mark.parametrize("client", CLIENTS)
async def test_given_chunked_and_sized_bodies_when_sending_then_body_bytes_are_counted(
        server: tuple[str, Seen], client: HttpClient) -> None:
    url, _ = server
    sized = len(httpx.get(f"{url}/sleep?ms=0").content)
    async with sender(url, client) as http:
        assert await http.send(0, get("/chunked", ("parts", "3"), ("size", "1000"))) == (200, 3000)
        assert await http.send(0, get("/chunked", ("parts", "40"), ("size", "10000"))) == (200, 400_000)
        assert await http.send(0, get("/chunked", ("parts", "0"), ("size", "1"))) == (200, 0)
        assert await http.send(0, get("/sleep", ("ms", "0"))) == (200, sized)


async def test_given_keep_alive_when_sending_then_connections_are_reused_until_the_server_closes(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    async with sender(url, users=2) as http:
        for _ in range(5):
            assert (await http.send(0, get("/peer", ("key", "reuse"))))[0] == 200
        both = await asyncio.gather(*(http.send(u, get("/peer", ("key", "reuse"))) for u in (0, 1)))
        assert [status for status, _ in both] == [200, 200]
        for _ in range(3):  # the server hangs up after each response; the client must reconnect
            assert (await http.send(0, get("/peer", ("key", "close"), ("close", "true"))))[0] == 200

    assert await connections(url, "reuse") == 2  # one for the five in a row, one more for the pair
    assert await connections(url, "close") == 3


async def test_given_slow_server_when_timeout_passes_then_timeout_and_the_next_request_is_answered(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    loop = asyncio.get_running_loop()
    async with sender(url, timeout_s=0.2) as http:
        started = loop.time()
        with pytest.raises(TimeoutError) as info:
            await http.send(0, get("/sleep", ("ms", "600")))
        took = loop.time() - started
        assert await http.send(0, RequestSpec("GET", "/status/201", "s")) == (201, 10)

    assert classify(info.value) == "timeout"
    assert 0.2 <= took < 0.5


async def test_given_nothing_listening_when_sending_then_connection_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with sender(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(Exception) as info:
            await http.send(0, get("/"))
    assert classify(info.value) == "connection"


FRAMES = {
    "/silent": b"",
    "/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    "/junk": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "/drop": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/ok-close": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "/chunk-ext": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\n"
                  b"X-Trailer: 1\r\n\r\n",
    "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
    "/http10": b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    "/until-close": b"HTTP/1.1 200 OK\r\n\r\nuntil close",
    "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "/negative-length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "/http2-line": b"HTTP/2 200\r\n\r\n",
    "/long-status": b"HTTP/1.1 2000 OK\r\n\r\n",
    "/no-colon": b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    "/bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+4\r\nabcd\r\n0\r\n\r\n",
    "/short-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n",
}


@asynccontextmanager
async def raw_server(accepted: list[int], requests: list[bytes] | None = None) -> AsyncIterator[str]:
    """Answers each path with ``FRAMES[path]`` (any other path as /ok-close), then hangs up, except
    after /ok; records each raw request (head and body) in ``requests``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                               if line.startswith(b"content-length:")), 0)
                if requests is not None:
                    requests.append(head + await reader.readexactly(length))
                path = head.split(b" ", 2)[1].decode()
                writer.write(FRAMES.get(path.split("?")[0], FRAMES["/ok-close"]))
                if path != "/ok":
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
    async with raw_server(accepted) as url, sender(url, timeout_s=1.0) as http:
        kinds = []
        for path in ("/cut", "/silent", "/junk"):
            with pytest.raises(Exception) as info:
                await http.send(0, get(path))
            kinds.append(classify(info.value))
        assert await http.send(0, get("/drop")) == (200, 2)
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        assert await http.send(0, get("/ok")) == (200, 2)
        assert await http.send(0, get("/ok")) == (200, 2)

    assert kinds == ["connection"] * 3
    assert len(accepted) == 5  # one per failure, one for /drop, one kept for both /ok


@pytest.mark.parametrize(("path", "method", "expected"), [
    ("/chunk-ext", "GET", (200, 14)),  # chunk extensions and trailer fields
    ("/continue", "POST", (201, 2)),  # an interim 1xx is skipped
    ("/http10", "GET", (200, 3)),
    ("/until-close", "GET", (200, 11)),  # no length: the body ends with the connection
])
async def test_given_response_framing_when_sending_then_the_body_bytes_are_counted(
        path: str, method: str, expected: tuple[int, int]) -> None:
    async with raw_server([]) as url, sender(url) as http:
        assert await http.send(0, RequestSpec(method, path, "f")) == expected


@pytest.mark.parametrize("path", ["/two-lengths", "/negative-length", "/http2-line", "/long-status", "/no-colon",
                                  "/bad-chunk", "/short-chunk"])
async def test_given_malformed_response_when_sending_then_connection_error(path: str) -> None:
    async with raw_server([]) as url, sender(url) as http:
        with pytest.raises(Exception) as info:
            await http.send(0, get(path))
    assert classify(info.value) == "connection"


async def test_given_request_when_sent_then_the_server_receives_what_httpx_sends() -> None:
    spec = RequestSpec("PUT", "/p/x y", "l", params=[("a", "1 2"), ("b", "é"), ("b", "&=")],
                       json={"k": "é", "n": [1, 2.5, None]}, headers={"Authorization": "Bearer t"})
    received: list[bytes] = []
    async with raw_server([], received) as url:
        for client in CLIENTS:  # aiohttp's three requests, then httpx's
            async with sender(url + "/base/", client) as http:
                await http.send(0, spec)
                await http.send(0, get("/q", ("x", "1"), ("flag", "true")))
                await http.send(0, RequestSpec("POST", "/q", "l"))

    def parts(raw: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        fields = dict(line.split(b": ", 1) for line in lines[1:])
        return lines[0], {k.lower(): v for k, v in fields.items()}, body

    ours, reference = [parts(r) for r in received[:3]], [parts(r) for r in received[3:]]
    for (line, fields, body), (ref_line, ref_fields, ref_body) in zip(ours, reference, strict=True):
        assert line == ref_line and body == ref_body
        for name in (b"host", b"content-type", b"content-length", b"authorization", b"accept", b"accept-encoding"):
            assert fields.get(name) == ref_fields.get(name), name
    assert ours[1][0] == b"GET /base/q?x=1&flag=true HTTP/1.1" and b"content-length" not in ours[1][1]
    assert ours[2][1][b"content-length"] == b"0"


async def test_given_unsafe_input_when_sending_then_refused_before_any_socket() -> None:
    accepted: list[int] = []
    async with raw_server(accepted) as url, sender(url) as http:
        with pytest.raises(ValueError, match="CR/LF") as info:
            await http.send(0, RequestSpec("GET", "/", "l", headers={"X-A": "1\r\nX-Injected: 1"}))
        assert classify(info.value) == "other"
        escaping = get("/ok")
        object.__setattr__(escaping, "path", "@evil.example/x")  # what RequestSpec itself refuses
        assert isinstance(http, AiohttpSender)
        with pytest.raises(TargetRefused):
            await http.send(0, escaping)
    assert accepted == []
    assert uses_aiohttp(None, "auto") and uses_aiohttp(None, "aiohttp")
    assert not uses_aiohttp(httpx.MockTransport(lambda r: httpx.Response(200)), "auto")
    assert not uses_aiohttp(None, "httpx")
    with pytest.raises(ValueError, match="http_client='aiohttp'"):
        uses_aiohttp(httpx.MockTransport(lambda r: httpx.Response(200)), "aiohttp")
    with pytest.raises(ValueError, match="must be"):
        uses_aiohttp(None, "curl")  # type: ignore[arg-type]


async def test_given_mixed_scenario_when_running_then_the_api_gets_every_method_and_body(
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


async def test_given_same_load_when_run_with_aiohttp_or_httpx_then_counts_errors_and_bytes_agree(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    spec = LoadSpec.with_limits(LIMITS, base_url=url, users=1, rate=50, duration_s=0.2)
    codes = Scenario("codes", lambda u, s: RequestSpec("GET", f"/status/{(200, 404, 503)[s % 3]}", "c"))

    via_aiohttp = await run_load(spec, codes, http_client="aiohttp")
    via_httpx = await run_load(spec, codes, http_client="httpx")

    for result in (via_aiohttp, via_httpx):
        assert result.sent == result.completed == 10 and result.errors == {"status_404": 3, "status_503": 3}
        assert result.bytes_received == 100
