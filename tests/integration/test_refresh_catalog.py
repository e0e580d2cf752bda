"""Background refresh against a real Redis and a copy of the catalog in a temp dir."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from agentload import keys
from agentload.measure.synthetic import make_synthetic_catalog
from agentload.publish import refresh as refresh_mod
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.reader.shared import agent_value
from agentload.settings import Settings

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
BMM_AGENTS = "src/modules/bmm/agents"
PM = f"{BMM_AGENTS}/pm.agent.yaml"
LEVELS = "src/modules/bmm/workflows/workflow-status/project-levels.yaml"
CORRECT_COURSE = "src/modules/bmm/workflows/4-implementation/correct-course/workflow.yaml"
INSTRUCTIONS = "src/modules/bmm/workflows/4-implementation/correct-course/instructions.md"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dst = tmp_path / "catalog"
    shutil.copytree(BUNDLED, dst)
    return dst


@pytest.fixture
def settings(root: Path, redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, catalog_path=root, version_ttl_s=60, refresh_lock_timeout_s=10)


def _agent(r: redis.Redis, agent_id: str) -> dict[str, Any]:
    v = r.get(keys.CURRENT_VERSION)
    raw = agent_value(r, v, agent_id)
    assert raw is not None
    return dict(orjson.loads(raw))


def test_given_unchanged_catalog_when_refreshing_then_nothing_is_published(
    redis_client: redis.Redis, settings: Settings
) -> None:
    state = WorkerState()
    first = refresh_catalog(redis_client, settings, state)
    assert first["published"] and first["changed"]
    again = refresh_catalog(redis_client, settings, state)
    assert again["changed"] is False and again["version"] == first["version"]
    assert redis_client.zcard(keys.VERSIONS) == 1
    last = orjson.loads(redis_client.get(keys.LAST_REFRESH))
    assert last["ok"] and last["changed"] is False and last["duration_ms"] >= 0
    # a fresh process (empty state) agrees: fingerprints live in Redis
    assert refresh_catalog(redis_client, settings, WorkerState())["changed"] is False


def test_given_touched_file_when_refreshing_then_fingerprints_update_without_publishing(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    state = WorkerState()
    v = refresh_catalog(redis_client, settings, state)["version"]
    os.utime(root / PM, ns=(10**18, 10**18))
    result = refresh_catalog(redis_client, settings, state)
    assert result["changed"] is False and result["version"] == v
    assert redis_client.hget(keys.FINGERPRINTS, PM).startswith(str(10**18))


def test_given_edited_agent_when_refreshing_then_the_new_text_is_served_and_one_file_is_parsed(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    state = WorkerState()
    old = refresh_catalog(redis_client, settings, state)
    pm = root / PM
    pm.write_text(pm.read_text().replace("role: Product Manager", "role: Refreshed Product Manager"))
    new = refresh_catalog(redis_client, settings, state)
    assert new["published"] and new["version"] != old["version"] and new["previous"] == old["version"]
    assert new["changed_files"] == [PM] and new["parsed"] == 1
    # selections that neither load nor list pm kept (figures refreshed), the other agents copied server-side
    assert 0 < new["reused_selections"] < new["selections"] and new["selected"] > 0
    assert new["reused_values"] >= new["agents"] - 1 > 0
    agent = _agent(redis_client, "pm")
    assert "Refreshed Product Manager" in agent["text"] and agent["tokens"] > 0
    v = new["version"]
    full = orjson.loads(redis_client.get(keys.selection_key(v, "full")))
    assert {a["id"]: a["tokens"] for a in full["agents"]}["pm"] == agent["tokens"]


def test_given_reverted_edit_when_refreshing_then_the_live_digest_matches_and_nothing_is_published(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    state = WorkerState()
    v = refresh_catalog(redis_client, settings, state)["version"]
    pm = root / PM
    original = pm.read_text()
    pm.write_text(original + "\n# scratch\n")
    redis_client.hset(keys.FINGERPRINTS, PM, "1:1:stale")  # as if an edit had been seen half-way
    pm.write_text(original)
    result = refresh_catalog(redis_client, settings, state)
    assert result["changed"] is False and result.get("same_digest") and result["version"] == v


def test_given_force_when_refreshing_then_a_full_rebuild_is_published(
    redis_client: redis.Redis, settings: Settings
) -> None:
    state = WorkerState()
    first = refresh_catalog(redis_client, settings, state)
    forced = refresh_catalog(redis_client, settings, state, force=True)
    assert forced["published"] and forced["version"] != first["version"]
    assert forced["reused_selections"] == 0 and forced["reused_values"] == 0 and forced["parsed"] > 10
    assert forced["digest"] == first["digest"]
    # every file was re-hashed: byte-identical agent, path and level files kept their parse,
    # workflows (whose parse also reads their instruction files) were read again
    workflows = state.selectors[forced["version"]].catalog.workflows.values()
    assert forced["parsed"] == sum(w.exists for w in workflows)
    assert forced["reused_parses"] == first["parsed"] - forced["parsed"] > 10


def _published(r: redis.Redis, version: str) -> dict[str, Any]:
    """Every key of a version by its version-free name; meta without what differs per publish."""
    prefix = keys.version_key(version, "")
    out: dict[str, Any] = {}
    for entry, digest in r.hgetall(keys.refs_key(version)).items():
        out[f"refs:{entry}"] = orjson.loads(r.get(keys.content_key(digest)))
    for key in r.smembers(keys.version_index_key(version)):
        if key == keys.refs_key(version):
            continue
        value = orjson.loads(r.get(key))
        if key == keys.meta_key(version):
            value = {k: v for k, v in value.items() if k not in {"version", "published_at", "build_ms"}}
        out[key[len(prefix):]] = value
    return out


def test_given_warm_worker_when_forcing_then_it_publishes_exactly_what_a_fresh_process_does(
    redis_client: redis.Redis, settings: Settings
) -> None:
    """Reused parses and sliced manifests are optimisations only: every key is the same."""
    state = WorkerState()
    refresh_catalog(redis_client, settings, state)
    warm = refresh_catalog(redis_client, settings, state, force=True)
    cold = refresh_catalog(redis_client, settings, WorkerState(), force=True)
    assert warm["reused_parses"] > 0 and cold["reused_parses"] == 0
    published = _published(redis_client, warm["version"])
    stored = [k for k in published if not k.startswith("refs:")]  # keys but the index and the refs hash
    assert len(stored) == warm["keys"] - 2 and published == _published(redis_client, cold["version"])


def test_given_large_catalog_when_one_agent_changes_then_it_alone_is_sent_and_the_version_equals_a_rebuild(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Incremental refresh of a catalog with a bounded manifest: the edited agent is published
    with its new text and the version digest moves; every other agent definition is the live
    version's stored value, listed again by a copy of its refs and not sent (one whose value
    was lost is sent by the republish the next integrity check makes), most selections are
    rebased instead of selected again; and the whole version equals what a forced rebuild in a
    fresh process publishes."""
    root = make_synthetic_catalog(BUNDLED, tmp_path / "synthetic", 300)
    settings = Settings(redis_url=redis_url, catalog_path=root, version_ttl_s=60, refresh_lock_timeout_s=30)
    state = WorkerState()
    first = refresh_catalog(redis_client, settings, state)
    v1 = first["version"]
    agent = root / BMM_AGENTS / "pm-0004.agent.yaml"
    agent.write_text(agent.read_text().replace("role: ", "role: Incrementally edited ", 1))
    lost = redis_client.hget(keys.refs_key(v1), keys.agent_entry("architect-0001"))
    redis_client.delete(keys.content_key(lost))  # lost to eviction: must be sent again
    second = refresh_catalog(redis_client, settings, state)
    v2 = second["version"]
    assert second["published"] and second["changed_files"] == [f"{BMM_AGENTS}/pm-0004.agent.yaml"]
    assert second["digest"] != first["digest"] and second["parsed"] == 1
    assert "Incrementally edited" in _agent(redis_client, "pm-0004")["text"]
    assert second["reused_values"] >= second["agents"] - 1 and second["reused_selections"] > second["selected"] > 0
    assert agent_value(redis_client, v2, "architect-0001") is None  # listed from the live version, still lost
    repaired = refresh_catalog(redis_client, settings, state)  # the integrity check finds it and republishes
    assert repaired["repaired_missing_keys"] == 1 and repaired["published"]
    assert _agent(redis_client, "architect-0001")["id"] == "architect-0001"
    v2 = repaired["version"]
    others = [a for a in orjson.loads(redis_client.get(keys.manifest_key(v2)))["lines"]
              if a not in ("pm-0004", "architect-0001") and not a.startswith("bmad")]
    for agent_id in others[::25]:
        entry = keys.agent_entry(agent_id)  # one stored value, listed by both versions
        assert redis_client.hget(keys.refs_key(v2), entry) == redis_client.hget(keys.refs_key(v1), entry)
    rebuilt = refresh_catalog(redis_client, settings, WorkerState(), force=True)
    assert rebuilt["reused_values"] == 0 and rebuilt["reused_selections"] == 0
    assert _published(redis_client, v2) == _published(redis_client, rebuilt["version"])


def test_given_changes_the_scan_cannot_see_when_forcing_then_the_rebuild_reads_them(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    """Same size, same mtime: a plain refresh trusts the stored hash; a forced one re-hashes.

    A workflow's instruction file is read into the catalog but not fingerprinted: only a
    forced refresh (which always re-reads workflows) picks up its edits.
    """
    state = WorkerState()
    first = refresh_catalog(redis_client, settings, state)
    pm = root / PM
    st = pm.stat()
    original = pm.read_bytes()
    edited = original.replace(b"role: Product Manager", b"role: Product Mxnager")
    assert edited != original and len(edited) == len(original)
    pm.write_bytes(edited)
    os.utime(pm, ns=(st.st_atime_ns, st.st_mtime_ns))
    instructions = root / INSTRUCTIONS
    instructions.write_text("Refreshed instructions marker\n" + instructions.read_text())
    assert refresh_catalog(redis_client, settings, state)["changed"] is False
    assert "Product Mxnager" not in _agent(redis_client, "pm")["text"]

    forced = refresh_catalog(redis_client, settings, state, force=True)
    assert forced["published"] and "Product Mxnager" in _agent(redis_client, "pm")["text"]
    excerpt = state.selectors[forced["version"]].catalog.workflows[CORRECT_COURSE].body_excerpt
    assert "Refreshed instructions marker" in excerpt
    # the fingerprints stored with the version are the fresh hashes, not the trusted ones
    assert forced["digest"] != first["digest"]
    stored = redis_client.hget(keys.FINGERPRINTS, PM)
    assert stored.endswith(hashlib.sha256(edited).hexdigest())
    assert refresh_catalog(redis_client, settings, state)["changed"] is False


def test_given_new_module_folder_when_forcing_then_unchanged_agents_resolve_against_it(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    """A parse depends on the module map too: identical bytes are re-parsed when it changes."""
    state = WorkerState()
    pm = root / PM
    pm.write_text(pm.read_text().replace("_bmad/bmm/workflows/workflow-status/", "_bmad/extra/workflows/status/"))
    refresh_catalog(redis_client, settings, state)
    target = "src/modules/extra/workflows/status/workflow.yaml"
    assert target not in [m["workflow_file"] for m in _agent(redis_client, "pm")["menu"]]
    (root / target).parent.mkdir(parents=True)
    shutil.copy(root / "src/modules/bmm/workflows/workflow-status/workflow.yaml", root / target)

    forced = refresh_catalog(redis_client, settings, state, force=True)
    assert forced["published"] and PM not in forced["changed_files"]
    assert target in [m["workflow_file"] for m in _agent(redis_client, "pm")["menu"]]
    assert target in state.selectors[forced["version"]].catalog.workflows


def test_given_running_refresh_when_another_starts_then_it_is_skipped(
    redis_client: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, release = threading.Event(), threading.Event()
    real = refresh_mod._refresh_locked  # noqa: SLF001

    def slow(*args: Any, **kwargs: Any) -> dict[str, Any]:
        inside.set()
        assert release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(refresh_mod, "_refresh_locked", slow)
    results: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: results.append(refresh_catalog(redis_client, settings, WorkerState())))
    first.start()
    assert inside.wait(10)
    second = refresh_catalog(redis_client, settings, WorkerState())
    release.set()
    first.join(10)
    assert second["skipped"] == "locked"
    assert results[0]["published"] is True
    assert redis_client.zcard(keys.VERSIONS) == 1


def test_given_broken_agent_when_refreshing_then_previous_version_is_served_until_fixed(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    state = WorkerState()
    good = refresh_catalog(redis_client, settings, state)
    pm = root / PM
    original = pm.read_text()
    pm.write_text("agent: [unclosed\n")
    held = refresh_catalog(redis_client, settings, state)
    assert held["published"] is False and held["held"] is True
    assert held["version"] == good["version"] == redis_client.get(keys.CURRENT_VERSION)
    assert [e["path"] for e in held["errors"]] == [PM]
    errors = [orjson.loads(e) for e in redis_client.lrange(keys.ERRORS, 0, -1)]
    assert [(e["path"], e["held"]) for e in errors] == [(PM, True)] and errors[0]["reason"]
    last = orjson.loads(redis_client.get(keys.LAST_REFRESH))
    assert last["held"] and last["errors"][0]["path"] == PM
    assert _agent(redis_client, "pm")["id"] == "pm"  # still served from the previous version
    again = refresh_catalog(redis_client, settings, state)
    assert again["held"] and redis_client.llen(keys.ERRORS) == 1  # same error is not re-recorded
    pm.write_text(original.replace("role: Product Manager", "role: Fixed Product Manager"))
    fixed = refresh_catalog(redis_client, settings, state)
    assert fixed["published"] and fixed["version"] != good["version"]
    assert "Fixed Product Manager" in _agent(redis_client, "pm")["text"]


def test_given_new_broken_file_when_refreshing_then_it_is_published_with_the_error_recorded(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    state = WorkerState()
    refresh_catalog(redis_client, settings, state)
    bad = "src/modules/bmm/agents/broken.agent.yaml"
    (root / bad).write_text("not: [an agent\n")
    result = refresh_catalog(redis_client, settings, state)
    assert result["published"] and [e["path"] for e in result["errors"]] == [bad]
    meta = orjson.loads(redis_client.get(keys.meta_key(result["version"])))
    assert meta["errors"][0]["path"] == bad and meta["agents"] == 10
    assert orjson.loads(redis_client.lindex(keys.ERRORS, 0))["held"] is False


def test_given_missing_catalog_when_refreshing_then_it_is_refused_recorded_and_nothing_published(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    shutil.rmtree(root)
    result = refresh_catalog(redis_client, settings, WorkerState())
    assert result["published"] is False and "FileNotFoundError" in result["refused"]
    last = orjson.loads(redis_client.get(keys.LAST_REFRESH))
    assert last["ok"] is False and "not a directory" in last["refused"]
    assert redis_client.get(keys.CURRENT_VERSION) is None
    assert any("FileNotFoundError" in str(e) for e in redis_client.lrange(keys.ERRORS, 0, -1))
    assert redis_client.get(keys.REFRESH_LOCK) is None  # released


def test_given_lock_lost_during_refresh_when_releasing_then_the_refresh_still_reports(
    redis_client: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = refresh_mod._refresh_locked  # noqa: SLF001

    def lose_lock(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = real(*args, **kwargs)
        redis_client.delete(keys.REFRESH_LOCK)
        return result

    monkeypatch.setattr(refresh_mod, "_refresh_locked", lose_lock)
    result = refresh_catalog(redis_client, settings, WorkerState())
    assert result["published"]
    assert "refresh lock expired" in caplog.text


def test_given_new_workflow_file_when_refreshing_then_it_is_noticed(
    redis_client: redis.Redis, settings: Settings, root: Path
) -> None:
    state = WorkerState()
    first = refresh_catalog(redis_client, settings, state)
    refs = redis_client.hgetall(keys.FINGERPRINTS)
    workflow = next(f for f in refs if "/workflows/" in f and f.endswith(("workflow.yaml", "workflow.md"))
                    and f != LEVELS)
    path = root / workflow
    path.write_text(path.read_text() + "\n")
    result = refresh_catalog(redis_client, settings, state)
    assert result["changed"] and workflow in result["changed_files"]
    assert result["version"] != first["version"]


def test_given_changed_selection_config_when_refreshing_then_unchanged_files_are_republished(
    redis_client: redis.Redis, settings: Settings
) -> None:
    state = WorkerState()
    first = refresh_catalog(redis_client, settings, state)
    retuned = settings.model_copy(update={"text_close_ratio": 0.5})
    result = refresh_catalog(redis_client, retuned, state)
    assert result["published"] and result["digest"] != first["digest"]
    assert refresh_catalog(redis_client, retuned, state)["changed"] is False
