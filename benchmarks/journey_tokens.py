"""Delivered tokens over whole BMad journeys: everything vs agents only vs progressive loading.

For the bundled catalog and each installed tree (v4, v6 compiled, v6.12 skills), every track
is walked through the real MCP tools (a private Redis holds the published catalog) and each
step's delivered tokens are summed per strategy (``agentload.measure.journey_tokens``).

    .venv/bin/python benchmarks/journey_tokens.py [--json] [--store]

Target (issue 13): progressive loading >= 90 % below "everything" on a whole journey, with
every step's agent loaded (recall 1.0).
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import BUNDLED_CATALOG, LAYOUTS_DIR

from agentload.measure.journey_tokens import journey_tokens_main

TREES = [BUNDLED_CATALOG, *(LAYOUTS_DIR / name for name in
                            ("v4.44.3-installed", "v6.0.4-installed", "v6.12.0-installed"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--store", action="store_true", help="write the rows to token_optimization")
    args = parser.parse_args()
    started = time.perf_counter()
    code = journey_tokens_main([t for t in TREES if t.is_dir()], as_json=args.json, store=args.store)
    print(f"({time.perf_counter() - started:.1f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
