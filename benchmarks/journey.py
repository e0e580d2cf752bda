"""End-to-end journey benchmark: every workflow of each BMad path, through the API and MCP.

Starts a private Redis (or uses ``--redis-url``), publishes the repository's catalog, starts
the API with uvicorn (1 worker) and walks ``agentload.measure.journey.run_journey`` over every path
file (track x field type), ``--repeat`` times, with the MCP server over stdio (default) or
streamable HTTP (``--mcp http``). Prints each journey's per-step times and the p50/p99 of:
storing the state (PUT), the selection GET, each ``load_agent`` over MCP, and a whole step.

    .venv/bin/python benchmarks/journey.py [--repeat 3] [--mcp stdio|http]

Targets: journey step p99 < 50 ms; ``load_agent`` over MCP p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (SIGTERM runs this script's cleanup: see _common)
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentload.measure.journey import (  # noqa: E402
    default_mcp_command,
    format_report,
    mcp_target,
    run_journey,
    summarize,
)
from tests.harness import (  # noqa: E402
    RedisProcess,
    free_port,
    publish_real_catalog,
    start_uvicorn,
    stop_process,
    wait_http,
)

TOKEN = "journey-benchmark-token-0123456789"
PATHS = [("bmad-method", "greenfield"), ("bmad-method", "brownfield"),
         ("enterprise-bmad-method", "greenfield"), ("enterprise-bmad-method", "brownfield")]


async def walk(api: str, mcp: str | list[str], redis_url: str, repeat: int, verbose: bool) -> dict[str, Any]:
    """One MCP client session for every journey (an AI client keeps its session open); one
    discarded warm-up journey first, so first-connection costs are not counted as steps."""
    results = []
    async with Client(mcp_target(mcp, redis_url)) as session:
        await run_journey(api, session, *PATHS[0], TOKEN, redis_url=redis_url)
        for _ in range(repeat):
            for track, field in PATHS:
                result = await run_journey(api, session, track, field, TOKEN, redis_url=redis_url)
                results.append(result)
                if verbose:
                    print(format_report(result), "\n", flush=True)
    steps = [s for r in results for s in r["steps"]]
    return {"journeys": len(results), "steps": len(steps),
            "errors": sum(r["errors"] for r in results), "hits": sum(r["hits"] for r in results),
            "put_ms": summarize([s["put_ms"] for s in steps]),
            "select_ms": summarize([s["select_ms"] for s in steps]),
            "load_agent_ms": summarize([ms for s in steps for ms in s["load_ms"]]),
            "step_ms": summarize([s["step_ms"] for s in steps])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="walks of every path file")
    parser.add_argument("--mcp", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    args = parser.parse_args(argv)
    redis_proc = None if args.redis_url else RedisProcess().start()
    redis_url = args.redis_url or (redis_proc.url if redis_proc else "")
    env = {"AGENTLOAD_REDIS_URL": redis_url, "AGENTLOAD_API_TOKEN": TOKEN}
    procs = []
    try:
        publish_real_catalog(redis_url)
        api_port = free_port()
        procs.append(start_uvicorn("agentload.api.app:app", api_port, env))
        mcp: str | list[str] = default_mcp_command()
        if args.mcp == "http":
            import os
            import subprocess

            mcp_port = free_port()
            procs.append(subprocess.Popen([*default_mcp_command()[:3], "--transport", "http", "--port",
                                           str(mcp_port)], env={**os.environ, **env}))
            wait_http(f"http://127.0.0.1:{mcp_port}/mcp", proc=procs[-1])
            mcp = f"http://127.0.0.1:{mcp_port}/mcp"
        summary = asyncio.run(walk(f"http://127.0.0.1:{api_port}", mcp, redis_url, args.repeat, not args.quiet))
    finally:
        for proc in procs:
            stop_process(proc)
        if redis_proc is not None:
            redis_proc.stop()
    print(f"{summary['journeys']} journeys, {summary['steps']} steps, {summary['hits']} hits, "
          f"{summary['errors']} errors (MCP over {args.mcp})")
    for kind in ("put_ms", "select_ms", "load_agent_ms", "step_ms"):
        s = summary[kind]
        print(f"{kind:>14}: n={s['n']:>4} p50 {s['p50_ms']:7.2f} ms  p99 {s['p99_ms']:7.2f} ms  "
              f"max {s['max_ms']:7.2f} ms")
    print(f"targets: step p99 {summary['step_ms']['p99_ms']:.2f} ms (< 50 ms); load_agent p99 "
          f"{summary['load_agent_ms']['p99_ms']:.2f} ms (< 20 ms)")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
