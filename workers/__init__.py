"""Celery plumbing: the app, queues, base task and signal handlers.

Kept import-light on purpose: ``workers.app`` imports ``beat_schedule`` and the ``tasks``
modules, which import ``workers.base``, so this package must not import the app. Task and
queue names are not here but in ``agentload.tasknames``, which the API shares.
"""
