"""The thin request path: FastAPI routes that only read Redis and enqueue Celery tasks by name.

Nothing in this package imports ``workers`` or ``tasks``: a web process must start and
answer without the task code (and its heavier imports) present, and enqueuing by *name*
keeps the API deployable independently of the workers. ``create_app`` lives in
``agentload.api.app``; this ``__init__`` stays empty so the MCP server can reuse the
framework-free helpers (``service``, ``enqueue``, ``livestats``) without importing FastAPI.
"""
