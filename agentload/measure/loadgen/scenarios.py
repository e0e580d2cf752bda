"""Scenario plug-ins: what request a virtual user sends next.

A scenario is any callable ``(user, seq) -> RequestSpec``; the runner calls it at each
intended send time. Keeping scenarios pure (no I/O, contexts passed in by the caller) lets
the same traffic shapes run from the CLI, a Celery task or a test, and be unit-tested
without a server. Users are deterministic: user ``u`` has project id ``{prefix}-{u:04d}``
and walks the context list from offset ``u``, so reruns send the same traffic.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SELECTION_PATH = "/api/v1/agents/optimized-loading"
PRELOAD_PATH = "/api/v1/agents/preload"
WORKFLOW_STATE_PATH = "/api/v1/projects/{project_id}/workflow-state"

# query parameters of the selection endpoint, in a stable order
QUERY_FIELDS = (
    "track", "field_type", "phase", "complexity_level", "has_ui",
    "user_role", "next_workflow", "workflow_history", "request",
)

Context = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One HTTP request relative to the run's base URL; ``label`` groups its latency."""

    method: str
    path: str
    label: str
    params: Sequence[tuple[str, str]] = ()
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a path that is not strictly relative could point the client at another host
        if not self.path.startswith("/") or self.path.startswith("//") or "://" in self.path:
            raise ValueError(f"request path must be relative to the base URL, got {self.path!r}")


ScenarioFn = Callable[[int, int], RequestSpec]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named scenario; calling it yields the next request for (user, seq)."""

    name: str
    make: ScenarioFn

    def __call__(self, user: int, seq: int) -> RequestSpec:
        return self.make(user, seq)


def project_id(user: int, prefix: str = "loadgen") -> str:
    """Each virtual user owns one project so writes do not contend on a single row/key."""
    return f"{prefix}-{user:04d}"


def context_params(ctx: Context) -> list[tuple[str, str]]:
    """Query parameters for the selection endpoint; lists repeat, booleans are 'true'/'false'."""
    params: list[tuple[str, str]] = []
    for name in QUERY_FIELDS:
        value = ctx.get(name)
        if value is None:
            continue
        items = value if isinstance(value, list | tuple) else [value]
        params.extend((name, _text(item)) for item in items)
    return params


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _checked(contexts: Sequence[Context]) -> list[Context]:
    if not contexts:
        raise ValueError("a scenario needs at least one context")
    return list(contexts)


def _pick(contexts: Sequence[Context], user: int, seq: int) -> Context:
    return contexts[(user + seq) % len(contexts)]


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def selection_reads(contexts: Sequence[Context], *, token: str | None = None) -> Scenario:
    """GET the optimized-loading selection with each context as query parameters."""
    ctxs = _checked(contexts)
    headers = _auth(token)

    def make(user: int, seq: int) -> RequestSpec:
        params = context_params(_pick(ctxs, user, seq))
        return RequestSpec("GET", SELECTION_PATH, "selection", params=params, headers=headers)

    return Scenario("selection_reads", make)


def preload_writes(contexts: Sequence[Context], token: str) -> Scenario:
    """POST ``{"context": ...}`` to the preload endpoint with a bearer token."""
    ctxs = _checked(contexts)
    headers = _auth(token)

    def make(user: int, seq: int) -> RequestSpec:
        body = {"context": dict(_pick(ctxs, user, seq))}
        return RequestSpec("POST", PRELOAD_PATH, "preload", json=body, headers=headers)

    return Scenario("preload_writes", make)


def journeys(
    contexts: Sequence[Context],
    token: str,
    *,
    project_prefix: str = "loadgen",
    state_body: Callable[[Context], Any] = dict,
) -> Scenario:
    """Per user: PUT the project's workflow state, then GET the selection for that project.

    Even ``seq`` writes the state (body ``state_body(context)``, by default the context
    itself), the following odd ``seq`` reads the selection for the same context plus
    ``project_id``. The runner never runs two requests of one user at once, so the read
    always follows its write.
    """
    ctxs = _checked(contexts)
    headers = _auth(token)

    def make(user: int, seq: int) -> RequestSpec:
        pid = project_id(user, project_prefix)
        ctx = _pick(ctxs, user, seq // 2)
        if seq % 2 == 0:
            path = WORKFLOW_STATE_PATH.format(project_id=pid)
            return RequestSpec("PUT", path, "workflow-state", json=state_body(ctx), headers=headers)
        params = [*context_params(ctx), ("project_id", pid)]
        return RequestSpec("GET", SELECTION_PATH, "journey-selection", params=params, headers=headers)

    return Scenario("journeys", make)


def weighted(parts: Sequence[tuple[ScenarioFn, float]], *, name: str = "mixed", seed: int = 0) -> Scenario:
    """Mix scenarios by weight; each part keeps its own per-user sequence.

    Per-part sequences keep multi-step parts (journeys) coherent inside a mix, and a
    per-user seeded RNG makes the mix reproducible run to run.
    """
    if not parts or any(w < 0 for _, w in parts) or sum(w for _, w in parts) <= 0:
        raise ValueError("weighted() needs at least one part and positive total weight")
    total = sum(w for _, w in parts)
    rngs: dict[int, random.Random] = {}
    seqs: dict[tuple[int, int], int] = {}

    def make(user: int, seq: int) -> RequestSpec:
        rng = rngs.setdefault(user, random.Random(seed * 1_000_003 + user))
        draw = rng.random() * total
        index = len(parts) - 1
        for i, (_, w) in enumerate(parts):
            if draw < w:
                index = i
                break
            draw -= w
        sub = seqs.get((user, index), 0)
        seqs[(user, index)] = sub + 1
        return parts[index][0](user, sub)

    return Scenario(name, make)


def mixed(
    contexts: Sequence[Context],
    token: str,
    *,
    weights: tuple[float, float, float] = (80.0, 15.0, 5.0),
    seed: int = 0,
) -> Scenario:
    """Reads / preload writes / journeys in the given proportions (default 80/15/5)."""
    reads, writes, walks = weights
    return weighted(
        [(selection_reads(contexts, token=token), reads), (preload_writes(contexts, token), writes),
         (journeys(contexts, token), walks)],
        name="mixed",
        seed=seed,
    )
