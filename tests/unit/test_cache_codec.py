"""Version ids, digests, codecs, fingerprints, key helpers and hot-path timings (no Redis)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from _fixtures import BUNDLED, bundled_catalog

from agentload import keys
from agentload.catalog import catalog_files
from agentload.publish import fingerprints as fp
from agentload.publish.digests import catalog_digest, fingerprint_digest, hash_mapping, new_version_id
from agentload.reader.codec import dumps, loads, text
from agentload.reader.counting import Timings
from agentload.selection.engine import SelectionConfig


def test_given_digest_when_making_version_ids_then_they_sort_by_time_and_carry_the_digest() -> None:
    first = new_version_id("abcdef0123456789", now=1_700_000_000.25)
    later = new_version_id("0000000000000000", now=1_700_000_000.5)
    assert re.fullmatch(r"\d{8}T\d{6}\d{6}-abcdef0123", first)
    assert first < later
    assert new_version_id("ff") != new_version_id("ff", now=1.0)


def test_given_same_contents_when_digesting_then_mtimes_do_not_matter_but_config_does() -> None:
    a = {"x.yaml": "1:10:aaa", "y.yaml": "2:20:bbb"}
    b = {"x.yaml": "9:10:aaa", "y.yaml": "8:20:bbb"}
    cfg = SelectionConfig()
    assert fingerprint_digest(a, cfg) == fingerprint_digest(b, cfg)
    assert fingerprint_digest(a, cfg) != fingerprint_digest({**a, "y.yaml": "2:20:ccc"}, cfg)
    assert fingerprint_digest(a, cfg) != fingerprint_digest(a, SelectionConfig(manifest_max_tokens=10))
    catalog = bundled_catalog()
    assert catalog_digest(catalog, cfg) == catalog_digest(catalog, cfg)


def test_given_values_when_encoding_then_json_roundtrips_and_replies_decode() -> None:
    catalog = bundled_catalog()
    agent = next(iter(catalog.agents.values()))
    assert loads(dumps(agent))["id"] == agent.id
    assert loads(dumps({1: "a"})) == {"1": "a"}
    assert loads(None) is None
    assert text(b"v1") == "v1" and text("v1") == "v1" and text(None) is None
    assert hash_mapping({"a": "b"}) == {"a": "b"}


def test_given_key_helpers_when_building_then_they_live_in_the_namespace() -> None:
    assert keys.version_index_key("v").startswith(keys.version_key("v"))
    assert keys.stats_flush_key("selections", "f1").startswith(keys.STATS)
    assert keys.stats_flush_key("selections", "f1") != keys.stats_key("selections")
    assert keys.history_seen_key("p1").startswith(keys.BASE)


def test_given_catalog_root_when_fingerprinting_then_unchanged_files_are_not_rehashed(tmp_path: Path) -> None:
    files = catalog_files(BUNDLED)
    first = fp.fingerprint_files(BUNDLED, files, {})
    assert set(first) == set(files)
    fake = {f: v.rsplit(":", 1)[0] + ":not-a-real-hash" for f, v in first.items()}
    again = fp.fingerprint_files(BUNDLED, files, fake)
    assert again == fake  # mtime and size match: the previous hash is trusted, nothing is read
    assert fp.changed(first, first) == [] and not fp.touched(first, dict(first))


def test_given_changes_when_comparing_then_content_changes_and_touches_are_told_apart(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("one")
    before = fp.fingerprint_files(tmp_path, ["a.yaml", "gone.yaml"], {})
    assert before["gone.yaml"] == fp.MISSING
    os.utime(f, ns=(1, 1))
    touched = fp.fingerprint_files(tmp_path, ["a.yaml", "gone.yaml"], before)
    assert fp.changed(touched, before) == [] and fp.touched(touched, before)
    f.write_text("two")
    (tmp_path / "gone.yaml").write_text("now here")
    edited = fp.fingerprint_files(tmp_path, ["a.yaml", "gone.yaml"], touched)
    assert fp.changed(edited, touched) == ["a.yaml", "gone.yaml"]
    assert fp.parse("garbage") is None and fp.parse(fp.MISSING) is None and fp.parse(None) is None


def test_given_reads_when_timing_then_times_wait_for_the_next_call_and_can_be_restored() -> None:
    t = Timings()
    t.add("selections", 0.001)
    t.add("selections", 0.002)
    assert t.take("selections") == (3000, 2)
    assert t.take("selections") == (0, 0)
    t.restore("selections", 500, 1)
    t.restore("selections", 0, 0)
    assert t.take("selections") == (500, 1)
