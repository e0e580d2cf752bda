"""The HTML report: every plot present with its stable id, offline (plotly inline), empty-safe."""

from __future__ import annotations

import html
import os
import re
import time
from pathlib import Path

from hdrh.histogram import HdrHistogram
from plotly.offline import get_plotlyjs

from agentload.measure.analysis import degradation_analysis
from agentload.measure.report.data import PLOT_IDS, TABLE_IDS, ReportData, StepPoint, StrategyRow
from agentload.measure.report.explain import strategy_notes, tail_rank
from agentload.measure.report.figures import errors_vs_users
from agentload.measure.report.html import render_report
from agentload.measure.resources import ResourceSampler

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
    hints = re.findall(r'<div class="no-data"[^>]*>(.*?)</div>', page)
    assert len(hints) == len(PLOT_IDS) + 4
    for hint in hints:  # each names a command to run, never a Python module or class
        assert "`agentload " in hint or "`make demo`" in hint, hint
        assert not re.search(r"agentload\.\w|ResourceSampler|step_test", hint), hint


def test_given_partial_data_when_rendering_then_only_missing_sections_show_notes(tmp_path: Path) -> None:
    data = ReportData(token_reductions=[0.6, 0.7, 0.8])
    page = render_report(data, tmp_path / "partial.html").read_text(encoding="utf-8")

    assert f'id="{PLOT_IDS["tokens"]}"' in page and 'id="table-token-reduction"' in page
    assert f'data-for="{PLOT_IDS["latency"]}"' in page
    assert not (tmp_path / "partial.html.tmp").exists()


def _cells(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body) if "<td>" in row]


# the rows of a real `make demo` benchmark: 40 requests a strategy, selective larger on the wire
DEMO_ROWS = [
    {"strategy": "full", "tokens_per_request": 5870.0, "requests": 40, "p50_ms": 3.655, "p99_ms": 5.011,
     "cpu_ms_per_request": 3.4975, "bytes_per_request": 1720.35},
    {"strategy": "selective", "tokens_per_request": 859.936, "requests": 40, "p50_ms": 3.715, "p99_ms": 10.687,
     "cpu_ms_per_request": 3.5, "bytes_per_request": 2551.875},
    {"strategy": "cached", "tokens_per_request": 859.936, "requests": 40, "p50_ms": 3.813, "p99_ms": 9.775,
     "cpu_ms_per_request": 3.97, "bytes_per_request": 2551.875},
]


def test_given_token_and_byte_counts_when_rendering_then_whole_numbers_with_thousands_separators(
    tmp_path: Path,
) -> None:
    data = ReportData.model_validate({**sample_data(), "strategies": DEMO_ROWS})
    page = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    rows = _cells(page, TABLE_IDS["strategies"])
    assert [(r[0], r[1], r[5], r[6]) for r in rows] == [
        ("full", "5,870", "1,720", "40"), ("selective", "860", "2,552", "40"), ("cached", "860", "2,552", "40")]
    assert "859.936" not in page
    assert ["bmm", "method/greenfield", "2", "800,000", "2,000", "7,700", "99.037"] in _cells(
        page, TABLE_IDS["journey"])


def test_given_selective_larger_and_slower_at_p99_when_rendering_then_the_report_says_why_from_the_rows(
    tmp_path: Path,
) -> None:
    notes = strategy_notes([StrategyRow.model_validate(r) for r in DEMO_ROWS])
    assert len(notes) == 2
    assert notes[0].startswith("Bytes: a selective answer is larger on the wire than a full one (2,552 against "
                               "1,720 bytes a request) although it puts fewer tokens in the model's context (860 "
                               "against 5,870 a request).")
    assert "carries the manifest, one line for each agent it does not load" in notes[0]
    assert notes[1].startswith("p99: each strategy's latency comes from 40 requests, and the p99 of 40 requests is "
                               "set by its slowest request: selective's p99 of 10.69 ms against full's 5.01 ms is 1 "
                               "request, while the p50s (3.71 against 3.65 ms)")
    page = render_report(ReportData(strategies=DEMO_ROWS), tmp_path / "r.html").read_text(encoding="utf-8")
    assert all(f'<p class="note">{html.escape(n, quote=True)}</p>' in page for n in notes)


def test_given_rows_without_the_effects_when_explaining_then_no_note() -> None:
    smaller = [{**DEMO_ROWS[0]}, {**DEMO_ROWS[1], "bytes_per_request": 900.0, "p99_ms": 4.0}]
    assert strategy_notes([StrategyRow.model_validate(r) for r in smaller]) == []
    many = [{**DEMO_ROWS[0], "requests": 400}, {**DEMO_ROWS[1], "requests": 400, "bytes_per_request": 900.0}]
    assert strategy_notes([StrategyRow.model_validate(r) for r in many]) == []  # a p99 over 400 requests
    assert strategy_notes([StrategyRow.model_validate(DEMO_ROWS[1])]) == []  # nothing to compare with


def test_given_a_histogram_of_n_requests_when_ranking_its_p99_then_hdrhistogram_agrees() -> None:
    for n in (1, 40, 50, 51, 99, 150):
        hist = HdrHistogram(1, 60_000_000, 3)
        for i in range(1, n + 1):
            hist.record_value(i * 1000)
        assert n - round(hist.get_value_at_percentile(99.0) / 1000) + 1 == tail_rank(n), n
    assert (tail_rank(40), tail_rank(60)) == (1, 2)


def test_given_no_errors_at_any_step_when_plotting_then_each_step_shows_a_marker_labelled_0_errors() -> None:
    steps = [StepPoint(users=u, throughput_rps=10.0 * u, p50_ms=2.0, p99_ms=5.0) for u in (1, 10, 50)]
    fig = errors_vs_users(ReportData(steps=steps))
    trace = fig.data[0]
    assert trace.type == "scatter" and "markers" in trace.mode and list(trace.y) == [0.0, 0.0, 0.0]
    assert list(trace.text) == ["0 errors"] * 3
    low, high = fig.layout.yaxis.range
    assert low < 0 < 1.0 < high  # the points sit above the axis' floor, the 1 % limit line is in view
    assert fig.layout.title.text == "Error rate vs users: no errors at any step"


def test_given_cache_counts_when_rendering_then_the_hit_rate_is_a_number(tmp_path: Path) -> None:
    points = [{"t": 0, "hit_rate": 0.9, "hits": 90, "misses": 10}, {"t": 30, "hit_rate": 0.99, "hits": 99, "misses": 1}]
    page = render_report(ReportData(cache_hit_rate=points), tmp_path / "r.html").read_text(encoding="utf-8")
    assert _cells(page, TABLE_IDS["cache"]) == [["hits", "189"], ["misses", "11"], ["hit rate %", "94.5"],
                                                 ["intervals", "2"]]


def test_given_a_breach_when_rendering_the_knee_table_then_it_is_said_in_words(tmp_path: Path) -> None:
    steps = [{"users": u, "throughput_rps": 10.0 * u, "p50_ms": 2.0, "p99_ms": p, "error_rate": 0.0}
             for u, p in ((1, 5.0), (50, 1200.0))]
    page = render_report(ReportData(steps=steps, degradation=degradation_analysis(steps)), tmp_path / "r.html")
    rows = _cells(page.read_text(encoding="utf-8"), TABLE_IDS["knee"])
    assert ["first_breach", "at 50 users: p99 1200.0 ms &gt; 1000 ms"] in rows
