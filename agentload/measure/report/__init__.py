"""Reports that turn stored measurements into something a person can read offline."""

from agentload.reports.html import build_html, render_report
from agentload.reports.model import (
    PLOT_IDS,
    TABLE_IDS,
    CachePoint,
    QualityRow,
    ReportData,
    StepPoint,
    StrategyRow,
)

__all__ = [
    "PLOT_IDS", "TABLE_IDS", "CachePoint", "QualityRow", "ReportData", "StepPoint", "StrategyRow",
    "build_html", "render_report",
]
