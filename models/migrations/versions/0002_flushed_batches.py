"""Flushed batches: the idempotency record of the served-selection event flush.

Revision ID: 0002_flushed_batches
Revises: 0001_initial
Create Date: 2026-12-01

A flush writes a batch's rows and its id here in one transaction; a batch left behind by a
worker killed mid-flush is then either known written (dropped) or given back (written once).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_flushed_batches"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flushed_batches",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name="pk_flushed_batches"),
    )
    op.create_index("ix_flushed_batches_recorded_at", "flushed_batches", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("flushed_batches")
