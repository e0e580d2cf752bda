"""Which contexts a version precomputes, and the manifest carry between builds."""

from __future__ import annotations

import shutil
from pathlib import Path

from _fixtures import BMM_AGENTS, BUNDLED, bundled_selector

from agentload.cache.contexts import (
    FULL_KEY,
    CarriedManifest,
    SlicedManifest,
    compute_selections,
    enumerate_contexts,
    structured_resolved,
)
from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.selection.engine import Selector


def test_given_bundled_catalog_when_enumerating_then_every_path_workflow_has_a_key_per_path_file() -> None:
    selector = bundled_selector()
    resolved = list(structured_resolved(selector).values())
    for track in selector.resolver.tracks:
        for phase in track.phases:
            for wid in phase.all:
                assert any(r.next_workflow == wid and r.files == [track.file] and r.phase == phase.phase
                           for r in resolved), (track.file, wid)


def test_given_bundled_catalog_when_enumerating_then_every_phase_has_ui_and_no_ui_keys() -> None:
    selector = bundled_selector()
    resolved = list(structured_resolved(selector).values())
    for track in selector.resolver.tracks:
        for phase in track.phases:
            here = [r for r in resolved if r.files == [track.file] and r.phase == phase.phase
                    and r.next_workflow is None]
            expected = {False, True} if phase.ui else {None}
            assert {r.has_ui for r in here} == expected, (track.file, phase.phase)


def test_given_bundled_catalog_when_enumerating_then_menu_workflows_and_wildcards_are_covered() -> None:
    selector = bundled_selector()
    keys = structured_resolved(selector)
    contexts = list(enumerate_contexts(selector.resolver))
    assert {c.next_workflow for c in contexts if c.track is None and c.field_type is None} >= set(
        selector.resolver.menu_owners)
    for wid in selector.resolver.menu_owners:
        assert selector.resolve(Context(next_workflow=wid)).key() in keys
    wildcard = [Context(track="bmad-method"), Context(field_type="brownfield", phase=2), Context()]
    assert all(selector.resolve(c).key() in keys for c in wildcard)


def test_given_scenario_like_contexts_when_resolving_then_their_keys_are_precomputed() -> None:
    """Contexts as clients send them (history, level, role) map onto enumerated keys."""
    selector = bundled_selector()
    keys = structured_resolved(selector)
    for track in selector.resolver.tracks:
        done: list[str] = []
        for phase in track.phases:
            for wid in phase.all:
                ctx = Context(track=track.track, field_type=track.field_type, phase=phase.phase,
                              complexity_level=4 if "enterprise" in (track.track or "") else 3,
                              has_ui=True, user_role="developer", workflow_history=list(done),
                              next_workflow=wid)
                assert selector.resolve(ctx).key() in keys, (track.file, wid)
                done.append(wid)
            phase_ctx = Context(track=track.track, field_type=track.field_type, phase=phase.phase,
                                has_ui=False, workflow_history=list(done))
            assert selector.resolve(phase_ctx).key() in keys


def test_given_selector_when_computing_then_selections_are_keyed_by_resolved_key_plus_full() -> None:
    selector = bundled_selector()
    selections, carried, reused = compute_selections(selector)
    assert reused == 0
    assert selections[FULL_KEY].strategy == "full"
    assert len(selections[FULL_KEY].agents) == len(selector.catalog.agents)
    for key, sel in selections.items():
        if key != FULL_KEY:
            assert sel.key == key and sel.strategy == "selective"
            assert carried[frozenset(sel.agent_ids)] == (sel.manifest, sel.manifest_tokens)


def _dumps(selector: Selector, previous: tuple[dict[str, str], dict[frozenset[str], tuple[str, int]]] | None
           ) -> tuple[dict[str, object], int]:
    selections, _, reused = compute_selections(selector, previous)
    return {k: s.model_dump(mode="json") for k, s in selections.items()}, reused


def test_given_edited_catalog_when_carrying_manifests_then_result_equals_a_fresh_build(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    shutil.copytree(BUNDLED, root)
    before = Selector(load_catalog(root))
    _, carried, _ = compute_selections(before)
    lines = dict(before.manifest.lines)
    pm = root / BMM_AGENTS / "pm.agent.yaml"
    pm.write_text(pm.read_text().replace("role: Product Manager", "role: Edited Product Manager"))
    after = Selector(load_catalog(root))
    carried_result, reused = _dumps(after, (lines, carried))
    fresh_result, _ = _dumps(Selector(load_catalog(root)), None)
    assert carried_result == fresh_result
    assert reused > 0  # a role edit leaves every manifest line unchanged
    # a title edit changes pm's line: manifests that list pm must be re-counted, and still equal
    pm.write_text(pm.read_text().replace("title: Product Manager", "title: Product Lead"))
    edited = Selector(load_catalog(root))
    carried_result, reused_after_title = _dumps(edited, (dict(after.manifest.lines), carried))
    assert carried_result == _dumps(Selector(load_catalog(root)), None)[0]
    assert reused_after_title < reused


def test_given_agent_set_changed_when_carrying_then_nothing_is_reused(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    shutil.copytree(BUNDLED, root)
    before = Selector(load_catalog(root))
    _, carried, _ = compute_selections(before)
    (root / BMM_AGENTS / "tech-writer.agent.yaml").unlink()
    after = Selector(load_catalog(root))
    manifest = CarriedManifest(after.manifest, dict(before.manifest.lines), carried)
    assert manifest.text(frozenset({"pm"})) == after.manifest.text(frozenset({"pm"}))
    assert manifest.reused == 0


def _plain_selections(selector: Selector) -> dict[str, object]:
    """What the selector itself answers for every enumerated key (its own ``Manifest``)."""
    out: dict[str, object] = {k: selector.select_resolved(r).model_dump(mode="json")
                              for k, r in structured_resolved(selector).items()}
    out[FULL_KEY] = selector.select_resolved(selector.resolve(Context()), "full").model_dump(mode="json")
    return out


def test_given_selector_when_computing_then_selections_equal_the_selectors_own_and_it_is_untouched() -> None:
    selector = bundled_selector()
    manifest = selector.manifest
    selections, _, _ = compute_selections(selector)
    assert selector.manifest is manifest  # a shared selector is never modified, even for a while
    assert {k: s.model_dump(mode="json") for k, s in selections.items()} == _plain_selections(selector)


def test_given_excluded_sets_when_slicing_the_manifest_then_text_and_tokens_equal_the_manifest() -> None:
    manifest = bundled_selector().manifest
    sliced = SlicedManifest(manifest)
    ids = manifest.order
    sets = [frozenset(), frozenset(ids), frozenset(ids[:1]), frozenset(ids[-1:]), frozenset(ids[-3:]),
            frozenset(ids[::2]), frozenset(ids[1::3]), frozenset(ids[:-1]), frozenset({"nobody", ids[0]}),
            frozenset({"nobody"})]
    sets += [frozenset({a}) for a in ids] + [frozenset({a, b}) for a in ids for b in ids if a < b]
    for excluded in sets:
        assert sliced.text(excluded) == manifest.text(excluded), sorted(excluded)
    assert sliced.text(frozenset(ids)) == ("", 0)


def test_given_manifest_without_additive_counts_when_slicing_then_every_text_comes_from_it() -> None:
    fresh = Selector(bundled_selector().catalog).manifest
    fresh._additive = False  # noqa: SLF001 - as if a line could merge tokens with the next one
    sliced = SlicedManifest(fresh)
    ids = fresh.order
    for excluded in (frozenset(), frozenset(ids[:2]), frozenset(ids[-1:])):
        assert sliced.text(excluded) == fresh.text(excluded)
    assert not sliced._sliced  # noqa: SLF001


def test_given_synthetic_catalog_when_computing_then_selections_equal_the_selectors_own(tmp_path: Path) -> None:
    """At scale (hundreds of agents, long manifests) the sliced texts are still exact."""
    from agentload.measure.synthetic import make_synthetic_catalog

    selector = Selector(load_catalog(make_synthetic_catalog(BUNDLED, tmp_path / "syn", 200)))
    selections, carried, _ = compute_selections(selector)
    assert {k: s.model_dump(mode="json") for k, s in selections.items()} == _plain_selections(selector)
    assert len(carried) > 50  # many distinct manifests of ~200 lines each
