"""Thin Celery task wrappers: name, queue and retry policy here; the work is in ``agentload.jobs``."""
