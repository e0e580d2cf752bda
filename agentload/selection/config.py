"""The selector's knobs, kept apart from the engine so each stays small.

Every field is part of each published catalog version's digest (``cache.codec.config_blob``):
a change of any knob (or of the scorer's code) publishes a new version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentload.selection.version import scorer_version
from agentload.settings import Settings


@dataclass
class SelectionConfig:
    """Tunable knobs (from settings); the defaults are what the benchmarks report.

    ``manifest_budget_tokens`` bounds the manifest of every selective answer (cl100k tokens):
    a catalog whose whole manifest fits gets it whole, a larger one gets at most
    ``manifest_candidates`` relevant lines and a per-module summary (``selection.manifest``),
    and its answers load at most ``max_selected_agents`` agents (``rules.capped``).
    """

    manifest_max_tokens: int = 30
    manifest_budget_tokens: int = 1500
    manifest_candidates: int = 10
    max_selected_agents: int = 3  # agents a selective answer loads at most when its manifest is bounded
    text_close_ratio: float = 0.72
    text_tie_ratio: float = 0.85  # a close runner-up is loaded when this near the best, or a signal's own best
    text_min_score: float = 1.0
    text_max_agents: int = 3
    semantic_weight: float = 0.25  # share of the best lexical score the semantic winner adds (0: off)
    orchestrator_agent: str | None = None
    scorer: str = field(default_factory=scorer_version)  # code + model version: in every digest
    level_tracks: dict[int, str] = field(
        default_factory=lambda: {0: "quick-flow", 1: "quick-flow", 2: "bmad-method",
                                 3: "bmad-method", 4: "enterprise-bmad-method"}
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> SelectionConfig:
        """The knobs as configured for this deployment (``AGENTLOAD_*``)."""
        return cls(
            manifest_max_tokens=settings.manifest_max_tokens,
            manifest_budget_tokens=settings.manifest_budget_tokens,
            manifest_candidates=settings.manifest_candidates,
            max_selected_agents=settings.max_selected_agents,
            text_close_ratio=settings.text_close_ratio,
            text_tie_ratio=settings.text_tie_ratio,
            text_min_score=settings.text_min_score,
            text_max_agents=settings.text_max_agents,
            semantic_weight=settings.semantic_weight,
            orchestrator_agent=settings.orchestrator_agent,
            level_tracks=dict(settings.level_tracks),
        )
