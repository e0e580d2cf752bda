"""Tuned selection knobs stored in Redis, applied over the settings wherever a selector is built.

``run_optimize`` writes the free-text confidence rule it found (``keys.SELECTION_CONFIG``);
every process that builds a selector for publication or for a worker selection reads the
settings through ``tuned_settings`` so that they all agree on one configuration: the
catalog digest includes the config, and a worker whose config differed from the published
version's would refuse to write results under it (``StaleCatalog``). Only the knobs listed
in ``TUNABLE`` may be overridden; anything else in the stored document is ignored.
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis

from agentload import keys
from agentload.reader.codec import dumps, loads
from agentload.settings import Settings

TUNABLE = ("text_close_ratio", "text_min_score")


def _valid(name: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return 0 < value <= 1 if name == "text_close_ratio" else value >= 0


def load_tuned(r: redis.Redis) -> dict[str, Any] | None:
    """The stored tuning document, or None when nothing was tuned (or it is unreadable)."""
    try:
        doc = loads(r.get(keys.SELECTION_CONFIG))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def overrides(doc: dict[str, Any] | None) -> dict[str, float]:
    """The valid tunable values of a tuning document."""
    if not doc:
        return {}
    return {k: float(doc[k]) for k in TUNABLE if k in doc and _valid(k, doc[k])}


def tuned_settings(r: redis.Redis, settings: Settings) -> Settings:
    """``settings`` with the tuned knobs applied (the same object when nothing is tuned)."""
    update = overrides(load_tuned(r))
    return settings.model_copy(update=update) if update else settings


def store_tuned(r: redis.Redis, values: dict[str, float], *, optimization_version: int,
                evidence: dict[str, Any]) -> dict[str, Any]:
    """Store tuned knobs with their version and the figures that justified them."""
    bad = [k for k, v in values.items() if k not in TUNABLE or not _valid(k, v)]
    if bad:
        raise ValueError(f"cannot store tuned values for {bad}")
    doc = {**values, "optimization_version": optimization_version, "tuned_at": time.time(), "evidence": evidence}
    r.set(keys.SELECTION_CONFIG, dumps(doc))
    return doc
