"""The parse cache a forced rebuild keeps (``load_catalog(rehash=True)``): reuse only what a
fresh parse would reproduce, so the catalog always equals one loaded with an empty cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from _fixtures import BMM_AGENTS, copy_catalog, minimal_agent_yaml

from agentload.catalog import Catalog, ParseCache, load_catalog

PM = f"{BMM_AGENTS}/pm.agent.yaml"
COURSE = "src/modules/bmm/workflows/4-implementation/correct-course"


def _fresh(root: Path) -> Catalog:
    return load_catalog(root, cache=ParseCache())


def test_given_unchanged_tree_when_rehashing_then_only_workflows_are_read_again(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    first = load_catalog(root, cache=cache)
    again = load_catalog(root, cache=cache, rehash=True)
    workflows = sum(w.exists for w in first.workflows.values())
    assert (cache.parsed, cache.reused) == (workflows, len(cache.entries) - workflows)
    assert again == first == _fresh(root)


def test_given_same_size_same_mtime_edit_when_rehashing_then_the_new_bytes_are_parsed(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    pm = root / PM
    st = pm.stat()
    pm.write_bytes(pm.read_bytes().replace(b"role: Product Manager", b"role: Product Mxnager"))
    os.utime(pm, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert "Mxnager" not in load_catalog(root, cache=cache).agents["pm"].persona.role  # mtime+size trusted
    rehashed = load_catalog(root, cache=cache, rehash=True)
    assert "Mxnager" in rehashed.agents["pm"].persona.role and rehashed == _fresh(root)


def test_given_touched_file_when_rehashing_then_its_parse_is_kept_and_the_new_stat_remembered(
    tmp_path: Path,
) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    before = cache.entries[PM]
    os.utime(root / PM, ns=(10**18, 10**18))
    load_catalog(root, cache=cache, rehash=True)
    after = cache.entries[PM]
    assert after.result is before.result and after.fingerprint.mtime_ns == 10**18
    load_catalog(root, cache=cache)
    assert cache.parsed == 0  # the plain check that follows is cheap again


def test_given_instruction_edit_when_rehashing_then_the_workflow_is_read_again(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    instructions = root / COURSE / "instructions.md"
    instructions.write_text("Rehash marker\n" + instructions.read_text())
    rehashed = load_catalog(root, cache=cache, rehash=True)
    assert "Rehash marker" in rehashed.workflows[f"{COURSE}/workflow.yaml"].body_excerpt
    assert rehashed == _fresh(root)


def test_given_new_module_when_loading_then_agents_referring_to_it_are_parsed_again(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    menu = ('  menu:\n    - trigger: XT or fuzzy match on extra-thing\n'
            '      workflow: "{project-root}/_bmad/extra/workflows/thing/workflow.yaml"\n'
            '      description: "[XT] Extra thing"\n')
    (root / BMM_AGENTS / "solo.agent.yaml").write_text(minimal_agent_yaml("Solo", menu))
    caches = {True: ParseCache(), False: ParseCache()}
    for cache in caches.values():
        first = load_catalog(root, cache=cache)
        assert [m.workflow_file for m in first.agents["solo"].menu] == [None]
    target = root / "src/modules/extra/workflows/thing/workflow.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(root / COURSE / "workflow.yaml", target)
    fresh = _fresh(root)
    for rehash, cache in caches.items():
        loaded = load_catalog(root, cache=cache, rehash=rehash)
        assert [m.workflow_file for m in loaded.agents["solo"].menu] == [
            "src/modules/extra/workflows/thing/workflow.yaml"]
        assert loaded == fresh


def test_given_broken_then_fixed_file_when_rehashing_then_it_is_reported_then_parsed(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    pm = root / PM
    original = pm.read_text()
    pm.write_text("agent: [unclosed\n")
    broken = load_catalog(root, cache=cache, rehash=True)
    assert [e.path for e in broken.errors] == [PM] and PM not in cache.entries and "pm" not in broken.agents
    pm.write_text(original)
    fixed = load_catalog(root, cache=cache, rehash=True)
    assert fixed.errors == [] and fixed == _fresh(root)


def test_given_a_referenced_file_that_is_a_symlink_out_of_the_catalog_when_publishing_then_it_is_not_served(
    tmp_path: Path,
) -> None:
    """Level 3 serves only what the catalog reader accepts: a step file replaced by a symlink to
    a file outside the root is left out of the published files (and of the work item's list)."""
    from agentload.publish.payloads import file_payloads, step_chains, work_item_payloads

    root = copy_catalog(tmp_path)
    cat = load_catalog(root)
    item = next(w for w in cat.work_items.values() if len(w.files) >= 2)
    secret = tmp_path / "secret.md"
    secret.write_text("outside the catalog")
    victim = root / item.files[0]
    victim.unlink()
    victim.symlink_to(secret)
    tokens: dict[str, int] = {}
    chains = step_chains(cat)
    published = dict(file_payloads(cat, tokens, chains))
    assert item.files[0] not in published and item.files[1] in published
    assert all("outside the catalog" not in str(p["text"]) for p in published.values())
    listed = dict(work_item_payloads(cat, tokens, chains))[item.id]["files"]
    assert item.files[0] not in [f["path"] for f in listed]  # type: ignore[union-attr]
