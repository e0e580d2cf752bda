"""The Celery application (PostHog-style: tiny; config, routing and signals live elsewhere).

``celery -A workers.app worker|beat|flower`` finds ``app`` here. Tasks live in the
``tasks`` package and are registered by name via ``include``.
"""

from __future__ import annotations

from celery import Celery

import workers.signals  # noqa: F401  (registers signal handlers)
from agentload.settings import get_settings
from beat_schedule import build_schedule
from workers.config import build_config

TASK_MODULES = ["tasks.health", "tasks.catalog", "tasks.selection", "tasks.metrics", "tasks.perf"]

settings = get_settings()
app = Celery("agentload", include=TASK_MODULES)
app.conf.update(build_config(settings))
app.conf.beat_schedule = build_schedule(settings)
