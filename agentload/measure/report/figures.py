"""Plotly figures for the report, one function per plot; None means "no data for it".

Figures are built from ``ReportData`` only, so the report is reproducible from the stored
JSON long after the run, and each figure can be checked on its own.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from agentload.measure.report.data import ReportData

HEIGHT = 420
_STRATEGY_METRICS = (
    ("tokens_per_request", "tokens / request"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("cpu_ms_per_request", "CPU ms / request"),
    ("bytes_per_request", "bytes / request"),
)
_COUNTS = frozenset({"tokens_per_request", "bytes_per_request"})


def _layout(
    fig: Any, title: str, x: str, y: str, *, x_type: str = "linear", ticks: list[int] | None = None
) -> Any:
    fig.update_layout(title=title, height=HEIGHT, template="plotly_white", margin={"t": 60, "b": 50},
                      legend={"orientation": "h", "y": -0.2}, bargap=0.05)
    fig.update_xaxes(title_text=x, type=x_type)
    if ticks is not None:
        fig.update_xaxes(tickvals=ticks, ticktext=[str(t) for t in ticks])
    fig.update_yaxes(title_text=y)
    return fig


def _users_log(data: ReportData) -> bool:
    """Step users are usually geometric (1, 5, 10 .. 200): a log axis keeps them legible."""
    users = [s.users for s in data.steps]
    return len(users) > 2 and min(users) > 0 and max(users) / min(users) >= 20


def _users_axis(fig: Any, data: ReportData, title: str, y: str) -> Any:
    ticks = [s.users for s in data.steps]
    return _layout(fig, title, "users", y, x_type="log" if _users_log(data) else "linear", ticks=ticks)


def latency_vs_users(data: ReportData) -> Any | None:
    if not data.steps:
        return None
    users = [s.users for s in data.steps]
    fig = go.Figure()
    fig.add_scatter(x=users, y=[s.p50_ms for s in data.steps], mode="lines+markers", name="p50")
    if all(s.p90_ms is not None for s in data.steps):
        fig.add_scatter(x=users, y=[s.p90_ms for s in data.steps], mode="lines+markers", name="p90")
    fig.add_scatter(x=users, y=[s.p99_ms for s in data.steps], mode="lines+markers", name="p99")
    knee = (data.degradation or {}).get("knee_users")
    if knee is not None:  # a trace, not a shape: shapes disagree across plotly.js versions on log axes
        top = max(s.p99_ms for s in data.steps)
        fig.add_scatter(x=[knee, knee], y=[0, top], mode="lines", name=f"knee: {knee} users",
                        line={"dash": "dash", "color": "#555"})
    return _users_axis(fig, data, "Latency percentiles vs users", "ms")


def throughput_vs_users(data: ReportData) -> Any | None:
    if not data.steps:
        return None
    fig = go.Figure()
    users = [s.users for s in data.steps]
    fig.add_scatter(x=users, y=[s.throughput_rps for s in data.steps], mode="lines+markers", name="achieved")
    if all(s.rate is not None for s in data.steps):
        fig.add_scatter(x=users, y=[s.rate for s in data.steps], mode="lines", name="offered",
                        line={"dash": "dot"})
    return _users_axis(fig, data, "Throughput vs users", "requests / s")


def errors_vs_users(data: ReportData) -> Any | None:
    """Markers with their value written beside them, on an axis that always shows the 1 % limit:
    a bar of height 0 draws nothing, and a step without errors must still be seen measured."""
    if not data.steps:
        return None
    rates = [s.error_rate * 100 for s in data.steps]
    fig = go.Figure()
    fig.add_scatter(x=[str(s.users) for s in data.steps], y=rates, mode="lines+markers+text", name="error rate",
                    marker={"size": 10}, text=[f"{r:.2f} %" if r else "0 errors" for r in rates],
                    textposition="top center")
    fig.add_hline(y=1.0, line_dash="dash", annotation_text="1 % limit")
    title = "Error rate vs users" + ("" if any(rates) else ": no errors at any step")
    fig = _layout(fig, title, "users", "% of requests", x_type="category")
    fig.update_yaxes(range=[-0.1, max(2.0, max(rates) * 1.15)])
    return fig


def _resource_series(data: ReportData, metric: str) -> Any | None:
    res = data.resources
    if res is None or not res.samples:
        return None
    fig = go.Figure()
    for name in res.summary:
        xs, ys = [], []
        for s in res.samples:
            proc = s.processes.get(name)
            value = None if proc is None else getattr(proc, metric)
            xs.append(s.t)
            ys.append(None if value is None else (value / 2**20 if metric == "rss_bytes" else value))
        fig.add_scatter(x=xs, y=ys, mode="lines+markers" if len(xs) <= 60 else "lines", name=name)
    if metric == "rss_bytes":
        return _layout(fig, "Memory (RSS) per process over time", "seconds", "MiB")
    return _layout(fig, "CPU per process over time", "seconds", "% of one core")


def cpu_over_time(data: ReportData) -> Any | None:
    return _resource_series(data, "cpu_percent")


def memory_over_time(data: ReportData) -> Any | None:
    return _resource_series(data, "rss_bytes")


def token_reduction(data: ReportData) -> Any | None:
    if not data.token_reductions:
        return None
    fig = go.Figure()
    fig.add_histogram(x=[r * 100 for r in data.token_reductions], nbinsx=20, name="requests")
    return _layout(fig, "Token reduction per request", "% fewer tokens than loading every agent", "requests")


def cache_hit_rate(data: ReportData) -> Any | None:
    if not data.cache_hit_rate:
        return None
    fig = go.Figure()
    fig.add_scatter(x=[p.t for p in data.cache_hit_rate], y=[p.hit_rate * 100 for p in data.cache_hit_rate],
                    mode="lines+markers", name="hit rate")
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, "Cache hit rate over time", "seconds", "% hits")


def strategy_comparison(data: ReportData) -> Any | None:
    """One small bar chart per metric so tokens, ms, CPU and bytes never share an axis."""
    strategies = data.strategies
    metrics = [(k, t) for k, t in _STRATEGY_METRICS if any(getattr(r, k) is not None for r in strategies)]
    if not metrics:
        return None
    cols = min(3, len(metrics))
    rows = (len(metrics) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for _, t in metrics])
    names = [r.strategy for r in data.strategies]
    for i, (key, title) in enumerate(metrics):
        values = [getattr(r, key) for r in data.strategies]
        if key in _COUNTS:  # tokens and bytes are counts: whole numbers in the bars and their hover
            values = [None if v is None else round(v) for v in values]
        fig.add_bar(x=names, y=values, name=title, showlegend=False, row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(title="Before vs after: cost per request by loading strategy", template="plotly_white",
                      height=HEIGHT * rows * 0.8 + 80)
    return fig


def journey_tokens(data: ReportData) -> Any | None:
    """Per step of each journey: delivered tokens per strategy (log axis: everything is ~100x)."""
    if not data.journey:
        return None
    fig = go.Figure()
    labels = [f"{s.catalog} · {s.track} · {s.step + 1:02d} {s.workflow}" for s in data.journey]
    for name in ("everything", "agents", "progressive"):
        fig.add_bar(x=labels, y=[getattr(s, name) for s in data.journey], name=name)
    fig.update_yaxes(type="log")
    fig.update_xaxes(tickangle=-60, automargin=True)
    return _layout(fig, "Delivered tokens per journey step", "catalog · track · step", "tokens (log)")
