"""Who asked and for which project: the two tables metrics rows point at.

Callers (API, MCP server, load tests) only know *external* ids such as a user handle or a
repository slug; the UUID keys are internal. ``external_id`` is unique so that
``get_or_create`` can be an idempotent upsert even when many workers see the same user at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.types import UTCDateTime, utcnow


class User(Base):
    """A person or client identity; ``role`` is the BMad role last declared (dev, architect...)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    external_id: Mapped[str] = mapped_column(Text(), unique=True)
    role: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())


class Project(Base):
    """A project being worked on; ``track``/``field_type`` drive agent selection."""

    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True, default=uuid.uuid4)
    external_id: Mapped[str] = mapped_column(Text(), unique=True)
    name: Mapped[str | None] = mapped_column(Text())
    track: Mapped[str | None] = mapped_column(Text())
    field_type: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
