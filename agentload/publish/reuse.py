"""What the last publish wrote, so that the next one copies what did not change.

A refresh after a one-file edit of a 10,000-agent catalog publishes a version whose agent
definitions are all but one byte for byte those of the live version, and whose work items and
referenced files (read, counted and serialised again each time) are usually all the same.
Such values are stored once by content (``content``); ``version_items`` gives the publish each
unchanged one as its digest (a ``content.Shared`` without bytes) instead of the bytes:

* an agent definition when the agent equals the one published last (the loader shares the
  objects of unchanged files, so the comparison is mostly identity checks);
* every work item and file payload when the work items are equal and none of the files they
  were read from (entry files, referenced files, step files and their folders) changed size or
  modification time: the trust a non-forced refresh already puts in ``mtime:size``.

A forced refresh passes no memo and sends everything. The memo lives in the worker process.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import orjson

from agentload import keys
from agentload.catalog import Agent, Catalog
from agentload.publish.content import Shared
from agentload.publish.payloads import file_payloads, step_chains, work_item_payloads
from agentload.publish.writer import Item
from agentload.reader.codec import dumps

#: ("file", path) or ("work", work item id)
PayloadId = tuple[str, str]
RACY_NS = 2_000_000_000  # coarse file systems keep mtimes to a second or two


@dataclass
class PublishMemo:
    """One publish's reusable values: its version, its agents, its payloads' signature."""

    version: str
    agents: dict[str, tuple[Agent, Shared]] = field(default_factory=dict)  # id -> (agent, its digest)
    payload_signature: str = ""
    payload_files: list[str] = field(default_factory=list)  # files (and folders) the signature covers
    payloads: dict[PayloadId, Shared] = field(default_factory=dict)  # payload -> its digest


def _payload_entry(pid: PayloadId) -> str:
    return keys.file_entry(pid[1]) if pid[0] == "file" else keys.work_item_entry(pid[1])


def _digest_only(value: Shared, make: Callable[[], bytes]) -> Shared:
    return Shared(value.digest, value.size, None, make)


def payload_signature(catalog: Catalog, files: list[str], since_ns: int = 0) -> str:
    """Digest of the work items and of each file's (and folder's) size and mtime; "" when a
    file was modified at or after ``since_ns`` (less ``RACY_NS``): read while it may have been
    changing, its mtime cannot vouch for what was read (git's "racy" rule)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(orjson.dumps([w.model_dump(mode="json") for _, w in sorted(catalog.work_items.items())]))
    root = Path(catalog.root)
    for rel in files:
        try:
            st = os.stat(root / rel)
        except OSError:
            h.update(f"{rel}\0missing\n".encode())
            continue
        if since_ns and st.st_mtime_ns >= since_ns - RACY_NS:
            return ""
        h.update(f"{rel}\0{st.st_mtime_ns}:{st.st_size}\n".encode())
    return h.hexdigest()


def _read_files(catalog: Catalog, chains: dict[str, list[str]]) -> list[str]:
    """The files and folders a payload computation reads (see the module doc)."""
    files = {w.entry_file for w in catalog.work_items.values() if w.entry_file}
    files |= {f for w in catalog.work_items.values() for f in w.files}
    files |= {f for chain in chains.values() for f in chain}
    return sorted(files | {os.path.dirname(f) or "." for f in files})


def version_items(version: str, catalog: Catalog, memo: PublishMemo | None) -> tuple[Iterator[Item], PublishMemo]:
    """(cache type, refs entry, ``Shared`` value, its bytes or only its digest) of the
    version's agents and payloads, and the memo this publish leaves (filled as the items are
    consumed)."""
    new = PublishMemo(version=version)
    return _items(catalog, memo, new), new


def _items(catalog: Catalog, memo: PublishMemo | None, new: PublishMemo) -> Iterator[Item]:
    for agent_id, agent in catalog.agents.items():
        entry = keys.agent_entry(agent_id)
        last = memo.agents.get(agent_id) if memo is not None else None
        if last is not None and (last[0] is agent or last[0] == agent):
            new.agents[agent_id] = last
            yield "agent_definitions", entry, _digest_only(last[1], partial(dumps, agent))
            continue
        value = Shared.of(dumps(agent))
        new.agents[agent_id] = (agent, Shared(value.digest, value.size))
        yield "agent_definitions", entry, value
    if memo is not None and memo.payloads:
        signature = payload_signature(catalog, memo.payload_files)
        if signature == memo.payload_signature:
            computed = _lazy(catalog)
            new.payload_signature, new.payload_files, new.payloads = signature, memo.payload_files, memo.payloads
            for pid, stored in memo.payloads.items():
                yield "catalog", _payload_entry(pid), _digest_only(stored, partial(_one, computed, pid))
            return
    started = time.time_ns()
    chains = step_chains(catalog)
    tokens: dict[str, int] = {}
    values = [(("file", path), dumps(p)) for path, p in file_payloads(catalog, tokens, chains)]
    values += [(("work", wid), dumps(p)) for wid, p in work_item_payloads(catalog, tokens, chains)]
    new.payload_files = _read_files(catalog, chains)
    new.payload_signature = payload_signature(catalog, new.payload_files, since_ns=started)
    for pid, raw in values:
        value = Shared.of(raw)
        if new.payload_signature:  # "" (racy): nothing to reuse next time
            new.payloads[pid] = Shared(value.digest, value.size)
        yield "catalog", _payload_entry(pid), value


def _one(compute: Callable[[], dict[PayloadId, bytes]], pid: PayloadId) -> bytes:
    return compute()[pid]


def _lazy(catalog: Catalog) -> Callable[[], dict[PayloadId, bytes]]:
    """Every payload's value, computed on first call only (when a copy's source was gone)."""

    @lru_cache(maxsize=1)
    def compute() -> dict[PayloadId, bytes]:
        chains = step_chains(catalog)
        tokens: dict[str, int] = {}
        out = {("file", path): dumps(p) for path, p in file_payloads(catalog, tokens, chains)}
        out.update({("work", wid): dumps(p) for wid, p in work_item_payloads(catalog, tokens, chains)})
        return out

    return compute
