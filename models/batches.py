"""The idempotency record of the event flush (``flushed_batches``): written, known, pruned.

Kept apart from ``repository`` (row inserts and reports) because it answers one question for
one job: was this batch of served-selection events already written?
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.metrics import FlushedBatch


def record_batch(session: Session, batch_id: str, events: int) -> None:
    """Mark ``batch_id`` written, inside the transaction that writes its rows."""
    session.add(FlushedBatch(batch_id=batch_id, events=events))


def written_batches(session: Session, batch_ids: Iterable[str]) -> set[str]:
    """Which of ``batch_ids`` were committed."""
    ids = list(batch_ids)
    if not ids:
        return set()
    return set(session.scalars(select(FlushedBatch.batch_id).where(FlushedBatch.batch_id.in_(ids))))


def prune_batches(session: Session, before: datetime) -> int:
    """Forget batches recorded before ``before`` (their taken keys expired long ago)."""
    result = session.execute(delete(FlushedBatch).where(FlushedBatch.recorded_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
