"""Hostile or broken catalog files: each is skipped with an error naming it; the rest loads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _fixtures import BMM_AGENTS, copy_catalog, minimal_agent_yaml

from agentload.catalog import Catalog, load_catalog
from agentload.catalog.files import (
    DEFAULT_MAX_BYTES,
    CatalogFileError,
    fingerprint,
    inside_root,
    read_bytes,
    read_text,
)
from agentload.catalog.safeyaml import MAX_ALIASES, MAX_DEPTH, UnsafeYaml, safe_load

REAL_AGENTS = 10

BILLION_LAUGHS = """\
agent: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
c: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
d: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
e: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
f: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
g: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
h: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
i: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
"""
DEEP_FLOW = "agent: " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_BLOCK = "agent:\n" + "".join(" " * (2 * i + 2) + f"k{i}:\n" for i in range(120)) + " " * 242 + "v\n"

HOSTILE: dict[str, bytes] = {
    "malformed.agent.yaml": b"agent:\n  metadata: [unclosed\n  persona: {\n",
    "not-an-agent.agent.yaml": b"just: a mapping\nwithout: agent\n",
    "latin1.agent.yaml": minimal_agent_yaml("Caf\u00e9").encode("latin-1"),
    "huge.agent.yaml": minimal_agent_yaml().encode() + b"# " + b"x" * (DEFAULT_MAX_BYTES + 10) + b"\n",
    "bomb.agent.yaml": BILLION_LAUGHS.encode(),
    "deep-flow.agent.yaml": DEEP_FLOW.encode(),
    "deep-block.agent.yaml": DEEP_BLOCK.encode(),
}
OUTSIDE_NAME = "escape.agent.yaml"


@pytest.fixture(scope="module")
def hostile_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the bundled tree with one hostile file of each kind, plus a symlink out."""
    base = tmp_path_factory.mktemp("hostile")
    root = copy_catalog(base)
    agents = root / BMM_AGENTS
    for name, data in HOSTILE.items():
        (agents / name).write_bytes(data)
    outside = base / "outside-secret.agent.yaml"
    outside.write_text(minimal_agent_yaml("Outside"))
    (agents / OUTSIDE_NAME).symlink_to(outside)
    return root, outside


@pytest.fixture(scope="module")
def hostile_catalog(hostile_tree: tuple[Path, Path]) -> Catalog:
    return load_catalog(hostile_tree[0])


def _reason(cat: Catalog, name: str) -> str:
    hits = [e for e in cat.errors if e.path == f"{BMM_AGENTS}/{name}"]
    assert len(hits) == 1, f"expected one error naming {name}, got {cat.errors}"
    return hits[0].reason


def test_given_hostile_files_when_loading_then_every_real_agent_still_loads(hostile_catalog: Catalog) -> None:
    assert len(hostile_catalog.agents) == REAL_AGENTS
    assert len(hostile_catalog.paths) == 4
    assert len(hostile_catalog.errors) == len(HOSTILE) + 1
    assert all(e.path.startswith(BMM_AGENTS) for e in hostile_catalog.errors)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("malformed.agent.yaml", ""),
        ("not-an-agent.agent.yaml", "no top-level 'agent' mapping"),
        ("latin1.agent.yaml", "not UTF-8"),
        ("huge.agent.yaml", "over the"),
        ("bomb.agent.yaml", "aliases"),
        ("deep-flow.agent.yaml", "nesting deeper"),
        ("deep-block.agent.yaml", "nesting deeper"),
        (OUTSIDE_NAME, "leaves the catalog root"),
    ],
)
def test_given_hostile_file_when_loading_then_it_is_skipped_with_error_naming_the_path(
    hostile_catalog: Catalog, name: str, needle: str
) -> None:
    reason = _reason(hostile_catalog, name)
    assert needle in reason
    assert name.removesuffix(".agent.yaml") not in hostile_catalog.agents


def test_given_symlink_leaving_root_when_loading_then_outside_content_is_not_in_the_catalog(
    hostile_catalog: Catalog,
) -> None:
    assert all("Outside" not in a.title for a in hostile_catalog.agents.values())


def test_given_symlink_out_or_oversized_file_when_loading_then_their_bytes_are_never_read(
    hostile_tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = hostile_tree
    read: list[Path] = []
    original = Path.read_bytes

    def spy(self: Path) -> bytes:
        read.append(self.resolve())
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    load_catalog(root)
    assert outside.resolve() not in read
    assert (root / BMM_AGENTS / "huge.agent.yaml").resolve() not in read


def test_given_symlinked_module_dir_when_discovering_then_it_is_not_followed(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "agents").mkdir(parents=True)
    (elsewhere / "agents" / "intruder.agent.yaml").write_text(minimal_agent_yaml("Intruder"))
    os.symlink(elsewhere, root / "src/modules/evil")
    cat = load_catalog(root)
    assert "intruder" not in cat.agents and len(cat.agents) == REAL_AGENTS


def test_given_small_size_limit_when_loading_then_larger_files_are_reported_not_parsed(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    sizes = {p.name: p.stat().st_size for p in (root / BMM_AGENTS).glob("*.agent.yaml")}
    limit = sorted(sizes.values())[len(sizes) // 2]
    cat = load_catalog(root, max_file_bytes=limit)
    too_big = {n.removesuffix(".agent.yaml") for n, s in sizes.items() if s > limit}
    assert too_big and too_big.isdisjoint(cat.agents)
    assert {e.path.rsplit("/", 1)[-1].removesuffix(".agent.yaml") for e in cat.errors} >= too_big


# --- the safe YAML loader and file helpers, directly ------------------------------------------


def test_given_billion_laughs_when_safe_loading_then_unsafe_yaml_is_raised_quickly() -> None:
    with pytest.raises(UnsafeYaml, match=f"more than {MAX_ALIASES} aliases"):
        safe_load(BILLION_LAUGHS)


def test_given_few_anchors_when_safe_loading_then_document_parses_like_safe_load() -> None:
    doc = "base: &b {x: 1}\nuse: *b\nother: [*b, *b]\n"
    assert safe_load(doc) == {"base": {"x": 1}, "use": {"x": 1}, "other": [{"x": 1}, {"x": 1}]}


@pytest.mark.parametrize("doc", [DEEP_FLOW, DEEP_BLOCK, "{a: " * (MAX_DEPTH + 5) + "1" + "}" * (MAX_DEPTH + 5)])
def test_given_deep_nesting_when_safe_loading_then_unsafe_yaml_is_raised(doc: str) -> None:
    with pytest.raises(UnsafeYaml, match="nesting deeper"):
        safe_load(doc)


def test_given_plain_document_when_safe_loading_then_fast_path_gives_the_same_data() -> None:
    assert safe_load("a: 1\nb: [x, y]\nc: {d: true}\n") == {"a": 1, "b": ["x", "y"], "c": {"d": True}}


def test_given_file_helpers_when_reading_outside_oversize_or_binary_then_catalog_file_error(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    ok = root / "ok.txt"
    ok.write_text("hello")
    assert read_text(root, ok) == "hello"
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    with pytest.raises(CatalogFileError, match="leaves the catalog root"):
        read_text(root, root / ".." / "outside.txt")
    assert not inside_root(root, outside)
    with pytest.raises(CatalogFileError, match="over the 3-byte limit"):
        read_bytes(root, ok, max_bytes=3)
    binary = root / "bin.txt"
    binary.write_bytes(b"ok\xff\xfe")
    with pytest.raises(CatalogFileError, match=r"not UTF-8 text \(byte 2\)"):
        read_text(root, binary)
    with pytest.raises(CatalogFileError, match="cannot stat"):
        read_bytes(root, root / "missing.txt")
    folder = root / "folder"
    folder.mkdir()
    with pytest.raises(CatalogFileError, match="cannot read|not a regular file"):
        read_bytes(root, folder)


def test_given_unchanged_file_when_fingerprinting_then_previous_is_reused_and_changes_are_seen(
    tmp_path: Path,
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("one")
    first = fingerprint(f)
    assert fingerprint(f, first) is first
    f.write_text("three")
    second = fingerprint(f, first)
    assert second != first and second.size == 5 and second.sha256 != first.sha256
    assert second.as_str().endswith(second.sha256)
