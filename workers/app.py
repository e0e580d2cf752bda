"""The Celery application (PostHog-style: tiny; config, routing and signals live elsewhere).

``celery -A workers.app worker|beat|flower`` finds ``app`` here. Tasks live in the
``tasks`` package; every module of it is listed in ``include`` (found with ``pkgutil``, so a
new task module is registered without editing this file).
"""

from __future__ import annotations

import pkgutil

from celery import Celery

import tasks
import workers.signals  # noqa: F401  (registers signal handlers)
from agentload.settings import get_settings
from beat_schedule import build_schedule
from workers.config import build_config

TASK_MODULES = sorted(f"{tasks.__name__}.{module.name}" for module in pkgutil.iter_modules(tasks.__path__))

settings = get_settings()
app = Celery("agentload", include=TASK_MODULES)
app.conf.update(build_config(settings))
app.conf.beat_schedule = build_schedule(settings)
