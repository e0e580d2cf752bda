"""The HTML report: every plot present with its stable id, offline (plotly inline), empty-safe."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from plotly.offline import get_plotlyjs

from agentload.reports import PLOT_IDS, TABLE_IDS, ReportData, render_report
from agentload.resources import ResourceSampler

USERS = [1, 5, 10, 25, 50, 100, 200]


def sample_data() -> dict[str, object]:
    with ResourceSampler({"api": os.getpid(), "worker-1": os.getpid()}, interval_s=0.02) as sampler:
        time.sleep(0.3)
    p99 = [20, 21, 22, 30, 50, 900, 2000]
    return {
        "title": "agentload <proof>",
        "generated_at": "2025-01-01T00:00:00Z",
        "notes": ["synthetic data for the test"],
        "headline": {"median token reduction": "72 %", "p99 at 50 users (ms)": 50.0, "max users": 200},
        "steps": [
            {"users": u, "rate": u * 10.0, "throughput_rps": min(u * 10.0, 300.0), "p50_ms": p / 2,
             "p90_ms": p * 0.8, "p99_ms": p, "error_rate": 0.05 if u == 200 else 0.0,
             "result": {"ignored": 1}}
            for u, p in zip(USERS, p99, strict=True)
        ],
        "resources": sampler.report().model_dump(mode="json"),
        "token_reductions": [0.5 + i / 200 for i in range(100)],
        "cache_hit_rate": [{"t": t, "hit_rate": min(1.0, t / 10)} for t in range(20)],
        "strategies": [
            {"strategy": "full", "tokens_per_request": 12000, "p50_ms": 4.0, "p99_ms": 12.0,
             "cpu_ms_per_request": 1.5, "bytes_per_request": 48000},
            {"strategy": "selective", "tokens_per_request": 3400, "p50_ms": 5.0, "p99_ms": 14.0,
             "cpu_ms_per_request": 1.9, "bytes_per_request": 9000},
            {"strategy": "cached", "tokens_per_request": 3400, "p50_ms": 1.2, "p99_ms": 4.0,
             "cpu_ms_per_request": 0.4, "bytes_per_request": 9000},
        ],
        "selection_quality": [
            {"suite": "greenfield", "cases": 40, "metrics": {"precision": 0.95, "recall": 0.9}},
            {"suite": "brownfield", "cases": 25, "metrics": {"precision": 0.88, "exact": 0.7}},
        ],
        "journey": [
            {"catalog": "bmm", "track": "method/greenfield", "step": 0, "workflow": "prd",
             "everything": 400000, "agents": 900, "progressive": 3500},
            {"catalog": "bmm", "track": "method/greenfield", "step": 1, "workflow": "architecture",
             "everything": 400000, "agents": 1100, "progressive": 4200},
        ],
    }


def test_given_full_report_data_when_rendering_then_every_plot_and_table_is_present(tmp_path: Path) -> None:
    out = render_report(sample_data(), tmp_path / "reports" / "report.html")

    page = out.read_text(encoding="utf-8")
    for plot_id in PLOT_IDS.values():
        assert f'id="{plot_id}"' in page, plot_id
    for table_id in TABLE_IDS.values():
        assert f'id="{table_id}"' in page, table_id
    assert "No data yet" not in page
    assert "knee: 50 users" in page
    assert "agentload &lt;proof&gt;" in page and "<proof>" not in page


def test_given_report_when_rendering_then_plotly_is_inline_and_nothing_loads_from_the_network(
    tmp_path: Path,
) -> None:
    page = render_report(sample_data(), tmp_path / "r.html").read_text(encoding="utf-8")

    assert get_plotlyjs()[:2000] in page
    assert not re.search(r"<script[^>]+src=", page)
    assert '<script src="http' not in page
    # plotly.js names its CDN only as the default topojson URL for geo maps, which no plot uses
    assert page.count("cdn.plot.ly") == get_plotlyjs().count("cdn.plot.ly")
    assert page.count(get_plotlyjs()[:2000]) == 1


def test_given_empty_report_data_when_rendering_then_each_section_says_no_data_yet(tmp_path: Path) -> None:
    page = render_report(ReportData(), tmp_path / "empty.html").read_text(encoding="utf-8")

    assert page.count("No data yet") == len(PLOT_IDS) + 4  # plots + headline, knee, quality, journey tables
    for plot_id in PLOT_IDS.values():
        assert f'id="{plot_id}"' not in page
        assert f'data-for="{plot_id}"' in page
    assert "run a step test" in page and "ResourceSampler" in page


def test_given_partial_data_when_rendering_then_only_missing_sections_show_notes(tmp_path: Path) -> None:
    data = ReportData(token_reductions=[0.6, 0.7, 0.8])
    page = render_report(data, tmp_path / "partial.html").read_text(encoding="utf-8")

    assert f'id="{PLOT_IDS["tokens"]}"' in page and 'id="table-token-reduction"' in page
    assert f'data-for="{PLOT_IDS["latency"]}"' in page
    assert not (tmp_path / "partial.html.tmp").exists()
