"""Fault: catalog files changed half-way through a refresh, deleted, or replaced by garbage.

The refresh runs in process (the exact code a worker runs) against a private Redis and a copy of
the catalog in a temp dir. What must hold for every fault: the previous version keeps being
served whole, the error is recorded with the file's path (``keys.ERRORS``, ``keys.LAST_REFRESH``),
every published version is consistent with one state of each file, and the next good state
publishes. ``test_refresh_catalog.py`` covers a YAML syntax error and new broken files;
``tests/unit/test_catalog_hostile.py`` covers hostile files at the loader level.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from faults import BUNDLED, PM, RedisServer, redis_server, snapshot

from agentload import keys
from agentload.measure.synthetic import make_synthetic_catalog
from agentload.publish import refresh as refresh_mod
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.reader.shared import agent_value
from agentload.settings import Settings

LEVELS = "src/modules/bmm/workflows/workflow-status/project-levels.yaml"
PATH_FILE = "src/modules/bmm/workflows/workflow-status/paths/method-greenfield.yaml"
ROLE = "role: Product Manager"
MARK = re.compile(r"role: PM state (\w+)")
BILLION_LAUGHS = "agent: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"k{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as srv:
        yield srv


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "catalog"
    shutil.copytree(BUNDLED, dst)
    return dst


@pytest.fixture
def r(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client()
    yield client
    client.close()


def _settings(server: RedisServer, root: Path, **kw: Any) -> Settings:
    return Settings(env="test", redis_url=server.url, catalog_path=root, **kw)


def _replace(path: Path, text: str) -> None:
    """Atomic replacement (write + rename), as ``git checkout`` or ``rsync --delay-updates`` do."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _served_pm(r: redis.Redis) -> str:
    version = r.get(keys.CURRENT_VERSION).decode()
    return str(orjson.loads(agent_value(r, version, "pm") or b"null")["text"])


def _errors(r: redis.Redis) -> list[dict[str, Any]]:
    return [orjson.loads(e) for e in r.lrange(keys.ERRORS, 0, -1)]


def _assert_one_consistent_version(r: redis.Redis) -> None:
    """The live version is whole and its parts come from one parse (agent vs its selections)."""
    snap = snapshot(r)
    assert snap.whole() and snap.with_ttl == 0, snap
    full = orjson.loads(r.get(keys.selection_key(snap.version, "full")))
    tokens = {a["id"]: a["tokens"] for a in full["agents"]}
    pm = orjson.loads(agent_value(r, snap.version, "pm") or b"null")
    assert tokens["pm"] == pm["tokens"]


# ------------------------------------------------------------------------- changed half-way


@pytest.mark.parametrize("second_state", ["edited", "garbage"])
def test_given_file_changed_between_fingerprinting_and_parsing_when_refreshing_then_one_state_is_served(
    server: RedisServer, r: redis.Redis, root: Path, monkeypatch: pytest.MonkeyPatch, second_state: str
) -> None:
    settings, state = _settings(server, root), WorkerState()
    v0 = refresh_catalog(r, settings, state, force=True)["version"]
    pm = root / PM
    original = pm.read_text()
    _replace(pm, original.replace(ROLE, "role: PM state A"))  # what the refresh fingerprints...
    later = original.replace(ROLE, "role: PM state B") if second_state == "edited" else "agent: [unclosed\n"
    real_load = refresh_mod.load_catalog

    def change_then_load(*args: Any, **kwargs: Any) -> Any:
        _replace(pm, later)  # ...is not what it parses
        return real_load(*args, **kwargs)

    monkeypatch.setattr(refresh_mod, "load_catalog", change_then_load)
    first = refresh_catalog(r, settings, state)
    monkeypatch.undo()
    if second_state == "edited":
        assert first["published"] and MARK.findall(_served_pm(r)) == ["B"]
    else:  # the file turned to garbage under the refresh: held, previous version served
        assert first["held"] and [e["path"] for e in first["errors"]] == [PM]
        assert r.get(keys.CURRENT_VERSION).decode() == v0 and ROLE in _served_pm(r)
        assert _errors(r)[0]["path"] == PM and _errors(r)[0]["held"] is True
        _replace(pm, original.replace(ROLE, "role: PM state B"))  # the next good state...
    _assert_one_consistent_version(r)

    # ...is what the next refreshes converge to, and then they stop publishing
    for _ in range(2):
        refresh_catalog(r, settings, state)
    assert MARK.findall(_served_pm(r)) == ["B"]
    stored = r.hget(keys.FINGERPRINTS, PM).decode()
    assert stored.endswith(hashlib.sha256(pm.read_bytes()).hexdigest())  # Redis describes the disk again
    assert refresh_catalog(r, settings, state)["changed"] is False
    _assert_one_consistent_version(r)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_catalog(BUNDLED, tmp_path_factory.mktemp("synthetic") / "catalog", 200)


def test_given_a_writer_replacing_a_file_during_large_refreshes_then_each_version_holds_one_state_and_converges(
    server: RedisServer, r: redis.Redis, synthetic_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / "synthetic"
    shutil.copytree(synthetic_root, root)
    settings, state = _settings(server, root), WorkerState()
    refresh_catalog(r, settings, state, force=True)
    pm = root / PM
    original = pm.read_text()
    written: set[str] = set()
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            name = f"{i:05d}"
            _replace(pm, original.replace(ROLE, f"role: PM state {name}"))
            written.add(name)
            i += 1

    thread = threading.Thread(target=writer, name="catalog-writer", daemon=True)
    thread.start()
    try:
        published = 0
        for _ in range(3):
            result = refresh_catalog(r, settings, state)
            published += bool(result.get("published"))
            marks = MARK.findall(_served_pm(r))
            assert len(marks) <= 1 and (not marks or marks[0] in written), marks  # one real state, not a mix
            _assert_one_consistent_version(r)
        assert published >= 2 and len(written) > 10, (published, len(written))
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    _replace(pm, original.replace(ROLE, "role: PM state FINAL"))
    for _ in range(2):
        refresh_catalog(r, settings, state)
    assert MARK.findall(_served_pm(r)) == ["FINAL"]
    assert refresh_catalog(r, settings, state)["changed"] is False


# ------------------------------------------------------------------------- deleted


def _workflow_of_live_version(r: redis.Redis) -> str:
    return sorted(f.decode() for f in r.hkeys(keys.FINGERPRINTS)
                  if "/workflows/" in f.decode() and f.decode().endswith("workflow.md"))[0]


@pytest.mark.parametrize("victim", [PM, LEVELS, PATH_FILE, "workflow"])
def test_given_a_live_file_deleted_when_refreshing_then_held_with_its_path_until_restored_or_forced(
    server: RedisServer, r: redis.Redis, root: Path, victim: str
) -> None:
    settings, state = _settings(server, root), WorkerState()
    v0 = refresh_catalog(r, settings, state, force=True)["version"]
    victim = _workflow_of_live_version(r) if victim == "workflow" else victim
    data = (root / victim).read_bytes()
    (root / victim).unlink()

    held = refresh_catalog(r, settings, state)
    assert held["published"] is False and held["held"] is True
    assert [e["path"] for e in held["errors"]] == [victim] and "missing" in held["errors"][0]["reason"]
    assert r.get(keys.CURRENT_VERSION).decode() == v0  # the previous version keeps serving, whole
    _assert_one_consistent_version(r)
    assert [(e["path"], e["held"]) for e in _errors(r)] == [(victim, True)]
    last = orjson.loads(r.get(keys.LAST_REFRESH))
    assert last["held"] and last["errors"][0]["path"] == victim
    assert refresh_catalog(r, settings, state)["held"] and r.llen(keys.ERRORS) == 1  # recorded once

    (root / victim).write_bytes(data)  # back: the live version already matches, nothing to publish
    assert refresh_catalog(r, settings, state)["changed"] is False
    (root / victim).unlink()  # removed on purpose: a forced refresh publishes without it
    forced = refresh_catalog(r, settings, state, force=True)
    assert forced["published"] and forced["version"] != v0
    if victim == PM:
        assert forced["agents"] == 9 and agent_value(r, forced["version"], "pm") is None


# ------------------------------------------------------------------------- replaced by garbage


def _symlink_out(path: Path, text: str) -> None:
    outside = path.parents[5] / "outside-pm.agent.yaml"
    outside.write_text(text)
    path.unlink()
    path.symlink_to(outside)


def _directory(path: Path, _text: str) -> None:
    path.unlink()
    path.mkdir()


def _oversized(path: Path, text: str) -> None:
    _replace(path, text + "\n# " + "x" * 1_100_000 + "\n")


GARBAGE: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "binary": (lambda p, _t: p.write_bytes(b"\x00\xff\xfe garbage \x9c" * 64), "not UTF-8"),
    "empty": (lambda p, _t: p.write_bytes(b""), "agent"),
    "not-yaml": (lambda p, _t: p.write_text("agent: {persona: [unclosed\n\t: :\n"), ""),
    "yaml-bomb": (lambda p, _t: p.write_text(BILLION_LAUGHS), "aliases"),
    "deep-nesting": (lambda p, _t: p.write_text("agent: " + "[" * 5000 + "]" * 5000 + "\n"), "nesting"),
    "oversized": (_oversized, "over the"),
    "symlink-out": (_symlink_out, "leaves the catalog root"),
    "directory": (_directory, "not a regular file"),
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_given_a_live_file_replaced_by_garbage_when_refreshing_then_held_and_the_next_good_state_publishes(
    server: RedisServer, r: redis.Redis, root: Path, kind: str
) -> None:
    settings, state = _settings(server, root), WorkerState()
    v0 = refresh_catalog(r, settings, state, force=True)["version"]
    pm = root / PM
    original = pm.read_text()
    corrupt, reason = GARBAGE[kind]
    corrupt(pm, original.replace(ROLE, "role: PM state QZXVGARBAGEMARK"))

    held = refresh_catalog(r, settings, state)
    assert held["held"] is True and held["published"] is False
    assert [e["path"] for e in held["errors"]] == [PM] and reason in held["errors"][0]["reason"], held["errors"]
    assert r.get(keys.CURRENT_VERSION).decode() == v0 and ROLE in _served_pm(r)
    _assert_one_consistent_version(r)
    assert _errors(r)[0]["path"] == PM
    assert b"QZXVGARBAGEMARK" not in b"".join(r.get(k) or b"" for k in r.scan_iter(match=f"{keys.BASE}:cat:*")
                                      if r.type(k) == b"string")

    if pm.is_dir():
        pm.rmdir()
    elif pm.is_symlink():
        pm.unlink()
    _replace(pm, original.replace(ROLE, "role: PM state GOOD"))
    fixed = refresh_catalog(r, settings, state)
    assert fixed["published"] and MARK.findall(_served_pm(r)) == ["GOOD"]
    _assert_one_consistent_version(r)


# ------------------------------------------------------------------------- hostile new files


def test_given_hostile_new_files_when_refreshing_then_published_without_them_and_nothing_outside_is_read_or_stored(
    server: RedisServer, r: redis.Redis, root: Path, tmp_path: Path
) -> None:
    """Hostile files that were never part of the live version: the catalog publishes without
    them, each error names its file, and neither the refresh's scan nor the loader reads what
    they point at (a secret outside the root) or loads an oversized file into memory."""
    agents = root / Path(PM).parent
    secret = tmp_path / "secret.txt"
    secret.write_text("password: hunter2-do-not-leak\n")
    (agents / "escape.agent.yaml").symlink_to(secret)
    with (agents / "huge.agent.yaml").open("wb") as f:
        f.truncate(200_000_000)  # sparse: costs no disk, would cost 200 MB of memory if read whole
    (agents / "bomb.agent.yaml").write_text(BILLION_LAUGHS)
    (agents / "latin1.agent.yaml").write_bytes("agent:\n  metadata: {title: Caf\u00e9}\n".encode("latin-1"))
    (tmp_path / "secret.md").write_text("---\nname: hunter2-do-not-leak\n---\nhunter2-do-not-leak\n")
    climber = (root / PM).read_text().replace("role: Product Manager", "role: Climber").replace(
        "{project-root}/_bmad/bmm/workflows/2-plan-workflows/prd/workflow.md",
        "{project-root}/_bmad/bmm/../../../../secret.md")  # a workflow reference climbing out of the root
    assert "secret.md" in climber
    (agents / "climber.agent.yaml").write_text(climber.replace("name: ", "name: Climber-", 1)
                                               .replace('id: "_bmad/bmm/agents/pm.md"', 'id: "climber"'))

    tracemalloc.start()
    try:
        result = refresh_catalog(r, _settings(server, root), WorkerState(), force=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["published"] and result["agents"] == 11  # the climber is a valid agent...
    bad = {Path(e["path"]).name: e["reason"] for e in result["errors"]}
    assert set(bad) == {"escape.agent.yaml", "huge.agent.yaml", "bomb.agent.yaml", "latin1.agent.yaml",
                        "secret.md"}, bad  # ...whose reference out of the root is refused
    assert "leaves the catalog root" in bad["secret.md"] and "leaves the catalog root" in bad["escape.agent.yaml"]
    assert {Path(e["path"]).name for e in _errors(r)} == set(bad)
    assert peak < 50_000_000, f"refresh peaked at {peak / 1e6:.0f} MB: an oversized file was read whole"
    leaked = hashlib.sha256(secret.read_bytes()).hexdigest().encode()
    everything = b"".join((r.get(k) or b"") if r.type(k) == b"string" else b"".join(r.hvals(k))
                          for k in r.scan_iter() if r.type(k) in (b"string", b"hash"))
    assert b"hunter2" not in everything and leaked not in everything  # neither the secret nor its hash
