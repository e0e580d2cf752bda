"""Incremental builds: reusing the last build's selections gives exactly what selecting again gives.

Each case edits a copy of a catalog (a persona, a title, a path file, an agent removed), builds
once from the last build's memo and once from nothing, and compares every stored selection.
The figures a rebased selection gets without being counted again rest on a property of the
cl100k tokenizer that is checked here too (every 1-3 digit string is one token).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from _fixtures import BMM_AGENTS, BUNDLED, PATHS_DIR

from agentload.catalog import ParseCache, load_catalog
from agentload.measure.synthetic import make_synthetic_catalog
from agentload.publish.digests import dump_selection
from agentload.publish.rebuild import Build, BuildMemo, Entry, stored_form
from agentload.selection.accounting import count_masked, rebased
from agentload.selection.engine import Selector
from agentload.tokens import count_tokens


@pytest.fixture(scope="module")
def synthetic_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_catalog(BUNDLED, tmp_path_factory.mktemp("syn") / "cat", 200)


def _copy(source: Path, tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(source, root)
    return root


def _built(root: Path, cache: ParseCache, memo: BuildMemo | None = None,
           previous: Selector | None = None) -> tuple[dict[str, Any], Build, Selector]:
    selector = Selector(load_catalog(root, cache), previous=previous)
    build = Build(selector, memo)
    return dict(build), build, selector


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _check(root: Path, cache: ParseCache, memo: BuildMemo | None, previous: Selector
           ) -> tuple[Build, Selector]:
    incremental, build, selector = _built(root, cache, memo, previous)
    fresh, _, _ = _built(root, ParseCache())
    assert incremental == fresh
    assert build.reused + build.selected == len(fresh) - 1  # every structured key, then full
    return build, selector


def test_given_a_persona_edit_when_rebuilding_then_only_selections_showing_the_agent_are_selected_again(
    synthetic_source: Path, tmp_path: Path
) -> None:
    root = _copy(synthetic_source, tmp_path)
    cache = ParseCache()
    _, first, selector = _built(root, cache)
    _edit(root / BMM_AGENTS / "pm-0004.agent.yaml", "role: ", "role: Edited ")
    build, selector = _check(root, cache, first.memo, selector)
    assert build.reused > build.selected > 0
    assert selector.resolver is first.selector.resolver  # the resolver's inputs did not change


def test_given_a_title_edit_when_rebuilding_then_manifests_listing_it_are_refigured(
    synthetic_source: Path, tmp_path: Path
) -> None:
    root = _copy(synthetic_source, tmp_path)
    cache = ParseCache()
    _, first, selector = _built(root, cache)
    _edit(root / BMM_AGENTS / "architect-0001.agent.yaml", "title: ", "title: Chief ")
    build, _ = _check(root, cache, first.memo, selector)
    # the manifests that list its reworded line are refigured, only those loading it selected again
    assert build.reused > build.selected > 0


@pytest.mark.parametrize("change", ["remove an agent", "edit a path file"])
def test_given_a_change_every_selection_depends_on_when_rebuilding_then_nothing_is_reused(
    synthetic_source: Path, tmp_path: Path, change: str
) -> None:
    root = _copy(synthetic_source, tmp_path)
    cache = ParseCache()
    _, first, selector = _built(root, cache)
    if change == "remove an agent":
        (root / BMM_AGENTS / "sm-0006.agent.yaml").unlink()
    else:
        _edit(root / PATHS_DIR / "method-greenfield.yaml", 'agent: "pm"', 'agent: "analyst"')
    build, rebuilt = _check(root, cache, first.memo, selector)
    assert build.reused == 0 and rebuilt.resolver is not selector.resolver


def test_given_the_bundled_catalog_when_rebuilding_after_edits_then_whole_manifests_stay_exact(tmp_path: Path) -> None:
    root = _copy(BUNDLED, tmp_path)
    cache = ParseCache()
    _, first, selector = _built(root, cache)
    assert not selector.manifest.bounded
    _edit(root / BMM_AGENTS / "pm.agent.yaml", "role: Product Manager", "role: Edited Product Manager")
    build, selector = _check(root, cache, first.memo, selector)
    assert build.reused > 0  # the edit left every manifest line as it was
    _edit(root / BMM_AGENTS / "pm.agent.yaml", "title: Product Manager", "title: Product Lead")
    again, _ = _check(root, cache, build.memo, selector)
    assert again.reused == 0  # pm's line moved: every whole manifest lists it


def test_given_templates_when_rebasing_then_figures_equal_counting_again(synthetic_source: Path) -> None:
    selector = Selector(load_catalog(synthetic_source))
    build = Build(selector)
    list(build)
    assert build.memo is not None
    rng = random.Random(3)
    for entry in rng.sample(list(build.memo.entries.values()), 60):
        stored, served, template = entry.stored, entry.served, entry.template
        assert template is not None and entry.form is not None
        for baseline, full in ((selector.baseline + 7, selector.full_context + 9), (9, 10**7), (10**9, 999)):
            fast, _ = rebased(stored, served, template, baseline, full)
            slow, _ = rebased(stored, served, None, baseline, full)
            assert fast == slow
            for delta in (0, 5):
                _, spliced = entry.rebased(baseline, full, delta)  # the stored bytes, spliced
                assert spliced == dump_selection(rebased(stored, served, None, baseline, full, delta)[0])


def test_given_digits_when_counting_masked_then_the_count_is_exact() -> None:
    assert all(count_tokens(str(i).zfill(n)) == 1 for n in (1, 2, 3) for i in range(10 ** n))
    rng = random.Random(11)
    words = ["tokens", '":', ",", "0.", "1e-05", "-3", "x²", "Ⅻ", "١٢٣", " ", "\n", "{", "}", "agent", "-"]
    for _ in range(300):
        parts = [rng.choice(words) if rng.random() < 0.6 else str(rng.randrange(10 ** rng.randrange(1, 12)))
                 for _ in range(rng.randrange(1, 40))]
        text = "".join(parts)
        assert count_masked(text) == count_masked(text, large=False) == count_tokens(text), text


def test_given_a_text_holding_a_figure_mark_when_rebasing_then_the_whole_selection_is_dumped(
        synthetic_source: Path) -> None:
    selector = Selector(load_catalog(synthetic_source))
    build = Build(selector)
    list(build)
    assert build.memo is not None
    entry = next(iter(build.memo.entries.values()))
    stored = {**entry.stored, "notes": ["\0reduction\0"]}  # what the splice looks for, in a text
    odd = Entry(stored, entry.served, entry.template, stored_form(stored))
    assert odd.form is None and entry.form is not None
    baseline, full = selector.baseline + 3, selector.full_context + 4
    _, value = odd.rebased(baseline, full, 0)
    assert value == dump_selection(rebased(stored, entry.served, entry.template, baseline, full)[0])
