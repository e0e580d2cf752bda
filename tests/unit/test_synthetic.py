"""Synthetic scale catalogs generated from the bundled tree."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from _fixtures import BUNDLED, bundled_catalog

from agentload.catalog import Catalog, load_catalog
from agentload.context import Context
from agentload.measure.synthetic import make_synthetic_catalog
from agentload.selection.engine import Selector
from agentload.tokens import count_tokens


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    dest = make_synthetic_catalog(BUNDLED, tmp_path_factory.mktemp("syn") / "cat50", n_agents=50)
    return load_catalog(dest)


@pytest.fixture(scope="module")
def with_copies(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    dest = make_synthetic_catalog(BUNDLED, tmp_path_factory.mktemp("syn") / "cat230", n_agents=230)
    return load_catalog(dest)


def test_given_n50_when_generating_then_catalog_loads_with_50_unique_agents(small: Catalog) -> None:
    assert small.errors == []
    assert len(small.agents) == 50
    assert len({a.id for a in small.agents.values()}) == 50
    assert len({a.title for a in small.agents.values()}) == 50
    assert set(bundled_catalog().agents) <= set(small.agents)
    assert all(a.tokens > 0 and a.menu for a in small.agents.values())


def test_given_n50_when_generating_then_synthetic_menus_are_distinct_from_their_originals(small: Catalog) -> None:
    real = bundled_catalog()
    synth = [a for aid, a in small.agents.items() if aid not in real.agents]
    assert len(synth) == 40
    for a in synth:
        base = a.id.rsplit("-", 1)[0]
        assert base in real.agents
        assert {m.name for m in a.menu}.isdisjoint({m.name for m in real.agents[base].menu})


def test_given_n50_when_generating_then_no_path_copies_below_one_hundred_extra_agents(small: Catalog) -> None:
    assert len(small.paths) == len(bundled_catalog().paths)


def test_given_more_agents_when_generating_then_path_copies_reference_existing_agents(with_copies: Catalog) -> None:
    real = bundled_catalog()
    copies = [p for p in with_copies.paths if p.track and "-s0" in p.track]
    assert len(copies) == 2 * len(real.paths)
    for pf in copies:
        agents = {w.agent for ph in pf.phases for w in ph.workflows if w.agent}
        assert agents and agents <= set(with_copies.agents), (pf.file, agents - set(with_copies.agents))
        assert agents.isdisjoint(real.agents)  # re-pointed at synthetic agents


def test_given_synthetic_catalog_when_selecting_by_copied_track_then_synthetic_owner_is_loaded(
    with_copies: Catalog,
) -> None:
    sel = Selector(with_copies)
    copy = next(p for p in with_copies.paths if p.track == "bmad-method-s001" and p.field_type == "greenfield")
    owner = next(w.agent for ph in copy.phases for w in ph.workflows if w.id == "prd")
    result = sel.select(Context(track="bmad-method-s001", field_type="greenfield", next_workflow="prd"))
    assert result.agent_ids == [owner]


def test_given_synthetic_catalog_when_selecting_by_real_track_then_only_the_real_owner(with_copies: Catalog) -> None:
    sel = Selector(with_copies)
    assert sel.select(Context(track="bmad-method", field_type="greenfield", next_workflow="prd")).agent_ids == ["pm"]


def test_given_existing_destination_when_generating_then_it_is_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "cat"
    (dest / "stale").mkdir(parents=True)
    (dest / "stale" / "x.txt").write_text("old")
    make_synthetic_catalog(BUNDLED, dest, n_agents=12)
    assert not (dest / "stale").exists()
    assert len(load_catalog(dest).agents) == 12


def test_given_synthetic_catalog_when_building_manifests_then_token_counts_are_exact(small: Catalog) -> None:
    sel = Selector(small)
    ids = sorted(small.agents)
    rng = random.Random(5)
    for size in (0, 1, 2, 7, 25, 49):
        excluded = frozenset(rng.sample(ids, size))
        text, tokens = sel.manifest.text(excluded)
        assert tokens == count_tokens(text)
        assert len(text.splitlines()) == len(ids) - size + 1
