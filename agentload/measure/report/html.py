"""Renders ``ReportData`` into ONE self-contained HTML file that works offline.

plotly.js is inlined once (no CDN), so the report can be attached to an issue, mailed or
opened on an air-gapped machine years later and still show every plot. Sections without
data render a "no data yet — run X" note instead of failing, so a partial report is
still useful while the measurements are being collected.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from plotly.offline import get_plotlyjs

from agentload.measure.analysis import breach_text, degradation_analysis, percentile
from agentload.measure.report import figures
from agentload.measure.report.data import PLOT_IDS, TABLE_IDS, ReportData
from agentload.measure.report.explain import strategy_notes

FigureFn = Callable[[ReportData], Any]
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} section{margin:2rem 0;border-top:1px solid #ddd;padding-top:1rem}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f4f4f4} .no-data{background:#fff8e1;border:1px dashed #e0a800;padding:.8rem;margin:.5rem 0}
.meta{color:#666} .note{max-width:60rem;color:#333}
"""
# what to run to fill each section: commands, never module names (the reader runs the CLI)
_HOW = {
    "steps": "run `agentload loadtest --mode steps --steps 1,5,10,25,50` against a running API",
    "resources": "run `agentload loadtest` (it samples its own process; add `--pid api=PID` for the API's)",
    "tokens": "serve selections through the API or MCP while a worker and beat run (`agentload serve --project "
              "PATH`, or `agentload loadtest` against a running stack): each served selection is stored",
    "cache": "serve selections while beat runs (`agentload loadtest` against a running stack): beat stores the "
             "hit and miss counts every AGENTLOAD_STATS_FLUSH_INTERVAL_S",
    "strategies": "run `agentload benchmark` against a running stack",
    "quality": "add `--scenarios SUITE.jsonl` (files, folders or globs) to `agentload report`",
    "journey": "run `agentload journey --tokens --store` (delivered tokens per step, three strategies)",
    "headline": "run `agentload benchmark` and `agentload loadtest --mode steps` against a running stack, or "
                "`make demo`",
}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _no_data(key: str, what: str, target_id: str) -> str:
    return (f'<div class="no-data" data-for="{_e(target_id)}">No data yet for {_e(what)} — '
            f"{_e(_HOW[key])}.</div>")


def _table(table_id: str, header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{_e(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _plot(data: ReportData, key: str, build: FigureFn, how: str, what: str) -> str:
    fig = build(data)
    plot_id = PLOT_IDS[key]
    if fig is None:
        return _no_data(how, what, plot_id)
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=plot_id,
                           default_height=f"{figures.HEIGHT}px",
                           config={"displaylogo": False, "responsive": True}))


def _section(sid: str, title: str, *parts: str) -> str:
    return f'<section id="{_e(sid)}"><h2>{_e(title)}</h2>{"".join(parts)}</section>'


def _headline(data: ReportData) -> str:
    if not data.headline:
        return _no_data("headline", "headline figures", TABLE_IDS["headline"])
    return _table(TABLE_IDS["headline"], ["figure", "value"], [[k, v] for k, v in data.headline.items()])


def _knee(data: ReportData) -> str:
    deg = data.degradation
    if deg is None:
        return _no_data("steps", "the knee / degradation analysis", TABLE_IDS["knee"])
    fields = ["knee_users", "saturation_throughput_rps", "saturation_users", "plateau_users", "p50_cv",
              "p99_p50_ratio", "error_rates"]
    rows = [[f, deg.get(f)] for f in fields] + [["first_breach", breach_text(deg.get("first_breach"))]]
    return _table(TABLE_IDS["knee"], ["measure", "value"], rows)


def _resource_table(data: ReportData) -> str:
    if data.resources is None or not data.resources.summary:
        return ""
    rows = [[n, s.cpu_mean, s.cpu_max, s.cpu_seconds,
             None if s.rss_max_bytes is None else s.rss_max_bytes / 2**20, s.missing]
            for n, s in data.resources.summary.items()]
    return _table("table-resources", ["process", "CPU % mean", "CPU % max", "CPU seconds", "RSS max MiB",
                                      "samples missing"], rows)


def _token_table(data: ReportData) -> str:
    r = data.token_reductions
    if not r:
        return ""
    rows = [["requests", len(r)], *[[f"p{q} reduction %", percentile(r, q) * 100] for q in (10, 50, 90)],
            ["mean reduction %", sum(r) / len(r) * 100]]
    return _table("table-token-reduction", ["measure", "value"], rows)


def _count(value: float | None) -> int | None:
    """Tokens and bytes are counts: shown whole, with thousands separators (``_fmt``)."""
    return None if value is None else round(value)


def _strategy_table(data: ReportData) -> str:
    if not data.strategies:
        return ""
    cols = ["strategy", "tokens_per_request", "p50_ms", "p99_ms", "cpu_ms_per_request", "bytes_per_request",
            "requests"]
    rows = [[r.strategy, _count(r.tokens_per_request), r.p50_ms, r.p99_ms, r.cpu_ms_per_request,
             _count(r.bytes_per_request), r.requests] for r in data.strategies]
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in strategy_notes(data.strategies))
    return _table(TABLE_IDS["strategies"], cols, rows) + notes


def _cache_table(data: ReportData) -> str:
    """The hit rate as numbers: over every counted interval (hits / all), else the mean of the points."""
    points = data.cache_hit_rate
    if not points:
        return ""
    counted = [p for p in points if p.hits is not None and p.misses is not None]
    hits, misses = sum(p.hits or 0 for p in counted), sum(p.misses or 0 for p in counted)
    rate = hits / (hits + misses) if hits + misses else sum(p.hit_rate for p in points) / len(points)
    counts: list[list[Any]] = [["hits", hits], ["misses", misses]] if counted else []
    rows = [*counts, ["hit rate %", rate * 100], ["intervals", len(points)]]
    return _table(TABLE_IDS["cache"], ["measure", "value"], rows)


def _quality(data: ReportData) -> str:
    if not data.selection_quality:
        return _no_data("quality", "selection quality", TABLE_IDS["quality"])
    names = sorted({m for row in data.selection_quality for m in row.metrics})
    rows = [[r.suite, r.cases, *[r.metrics.get(m) for m in names]] for r in data.selection_quality]
    return _table(TABLE_IDS["quality"], ["suite", "cases", *names], rows)


def _journey_table(data: ReportData) -> str:
    if not data.journey:
        return _no_data("journey", "journey accounting", TABLE_IDS["journey"])
    totals: dict[tuple[str, str], list[int]] = {}
    for s in data.journey:
        row = totals.setdefault((s.catalog, s.track), [0, 0, 0, 0])
        row[0] += 1
        row[1] += s.everything
        row[2] += s.agents
        row[3] += s.progressive
    rows = [[c, t, n, e, a, p, (1 - p / e) * 100 if e else None] for (c, t), (n, e, a, p) in totals.items()]
    return _table(TABLE_IDS["journey"], ["catalog", "track", "steps", "everything", "agents only",
                                         "progressive", "progressive cut %"], rows)


def build_html(data: ReportData) -> str:
    """The full HTML document as a string."""
    if data.degradation is None and data.steps:
        data = data.model_copy(update={"degradation": degradation_analysis(data.steps)})
    f = figures
    notes = "".join(f"<li>{_e(n)}</li>" for n in data.notes)
    body = [
        f"<h1>{_e(data.title)}</h1>",
        f'<p class="meta">Generated {_e(data.generated_at or "—")}</p>',
        f"<ul>{notes}</ul>" if notes else "",
        _section("section-headline", "Headline figures", _headline(data)),
        _section("section-scalability", "Scalability: latency, throughput and errors vs users",
                 _plot(data, "latency", f.latency_vs_users, "steps", "latency vs users"),
                 _plot(data, "throughput", f.throughput_vs_users, "steps", "throughput vs users"),
                 _plot(data, "errors", f.errors_vs_users, "steps", "error rate vs users"),
                 "<h3>Knee and degradation</h3>", _knee(data)),
        _section("section-resources", "Resource use over time",
                 _plot(data, "cpu", f.cpu_over_time, "resources", "CPU per process"),
                 _plot(data, "memory", f.memory_over_time, "resources", "memory per process"),
                 _resource_table(data)),
        _section("section-tokens", "Token reduction",
                 _plot(data, "tokens", f.token_reduction, "tokens", "token reduction"), _token_table(data)),
        _section("section-cache", "Cache hit rate",
                 _plot(data, "cache", f.cache_hit_rate, "cache", "cache hit rate"), _cache_table(data)),
        _section("section-strategies", "Before vs after: loading strategies",
                 _plot(data, "strategies", f.strategy_comparison, "strategies", "strategy comparison"),
                 _strategy_table(data)),
        _section("section-quality", "Selection quality per suite", _quality(data)),
        _section("section-journey", "Progressive disclosure over whole journeys (delivered tokens)",
                 _plot(data, "journey", f.journey_tokens, "journey", "journey tokens"), _journey_table(data)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(data.title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f"<body>{''.join(body)}</body></html>\n"
    )


def render_report(data: ReportData | Mapping[str, Any], out_path: Path) -> Path:
    """Validate ``data`` as ``ReportData``, write the HTML atomically, return the path."""
    report = data if isinstance(data, ReportData) else ReportData.model_validate(data)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(build_html(report), encoding="utf-8")
    os.replace(tmp, out)
    return out
