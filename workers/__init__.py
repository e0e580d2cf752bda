"""Celery plumbing: the app, queues, base task and signal handlers.

Kept import-light on purpose: ``beat_schedule`` imports ``workers.queues`` and
``workers.app`` imports ``beat_schedule``, so this package must not import the app.
"""
