"""The publish side: build, publish and refresh immutable catalog versions in Redis.

Run by workers (``agentload.jobs`` and the Celery tasks), never by the API or MCP server:
``refresh`` decides what changed, ``publish`` and ``writer`` write a version and switch the
pointer atomically, ``rebuild``/``reuse`` carry unchanged values over, ``stats`` flushes the
read side's counters to SQL, ``predict`` warms likely next selections. Imports nothing eagerly.
"""
