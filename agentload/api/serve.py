"""Serve the API under uvicorn with the limits a listener open to many clients needs.

``python -m agentload.api.serve [--host H] [--port P] [--workers N]`` is what compose, the
Dockerfile and the demo run instead of the bare ``uvicorn`` command, because of the limits
uvicorn's command line cannot set (the second is the app's own and holds under any server):

* **Connections that never send a request are closed.** uvicorn starts its keep-alive timer
  only after a response, so a client that opens a connection and stays silent holds a file
  descriptor forever; 1,100 such connections exhausted a 1,024 fd limit and every request
  failed. The protocol classes below start the same timer when the connection is made
  (``AGENTLOAD_API_IDLE_TIMEOUT_S``); data from the client cancels it, as after a response.
* **Bounded concurrency.** ``AGENTLOAD_API_LIMIT_CONCURRENCY`` requests in flight per
  process: past it a request is answered 503 "overloaded" at once. The app enforces it
  (``api.admission``: JSON, ``Retry-After``, counted in ``/metrics``), not uvicorn's
  ``limit_concurrency``, which counts idle keep-alive connections too and answers plain text.
* **The fd limit.** The soft ``RLIMIT_NOFILE`` is raised to the hard limit at start, and
  both are logged; ``docs/operations.md`` says what to set.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from agentload.settings import get_settings

logger = logging.getLogger("agentload.api")
APP = "agentload.api.app:app"


class _SilentConnectionTimeout:
    """Starts uvicorn's keep-alive timer when a connection is made, not only after a response."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        proto: Any = self
        proto.timeout_keep_alive_task = proto.loop.call_later(proto.timeout_keep_alive,
                                                              proto.timeout_keep_alive_handler)


class H11Idle(_SilentConnectionTimeout, H11Protocol):
    """h11 (pure Python) with the silent-connection timeout."""


class HttpToolsIdle(_SilentConnectionTimeout, HttpToolsProtocol):
    """httptools (uvicorn's faster parser) with the silent-connection timeout."""


def raise_fd_limit() -> tuple[int, int]:
    """Soft ``RLIMIT_NOFILE`` raised to the hard limit; returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # pragma: no cover - refused by the platform
            logger.warning("could not raise the open-file limit from %d: %s", soft, exc)
    return soft, hard


def limits() -> dict[str, Any]:
    """uvicorn keyword arguments carrying the limits from settings (the concurrency limit is
    the app's own, ``api.admission``)."""
    settings = get_settings()
    return {"http": HttpToolsIdle, "timeout_keep_alive": int(max(1, round(settings.api_idle_timeout_s)))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m agentload.api.serve", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=get_settings().api_workers,
                    help="API processes (uvicorn workers; default AGENTLOAD_API_WORKERS, 1)")
    ap.add_argument("--log-level", default="info")
    args = ap.parse_args(argv)
    soft, hard = raise_fd_limit()
    settings = get_settings()
    logging.basicConfig(level=args.log_level.upper())
    logger.info("open-file limit %d (hard %d); idle connections closed after %.0f s; concurrency limit %d",
                soft, hard, settings.api_idle_timeout_s, settings.api_limit_concurrency)
    uvicorn.run(APP, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level, **limits())


if __name__ == "__main__":
    main()
