"""Measurement tools: everything that measures agentload rather than serves it.

Nothing here is on the request path or needed to publish a catalog; product code imports
from it only at its edges (the CLI registers the measurement commands, the API validates a
perf job's parameters with ``measure.params``, the Celery tasks call ``measure.jobs``).

* ``loadgen``: the open-model HTTP load generator;
* ``resources``: CPU/memory/Redis sampling of the processes under load;
* ``analysis``: percentiles, knee point, before/after comparisons;
* ``evaluation``: scenario suites run through the selector (recall, token reduction);
* ``journey``, ``journey_tokens``: a project walked through a BMad path over the API and MCP;
* ``synthetic``: large catalogs made from a real one, for scale runs;
* ``jobs``: the long jobs (load test, benchmark, optimize) and their parameters;
* ``report``: the offline HTML report built from stored results;
* ``demo``: ``make demo``'s driver; ``cli``: ``agentload report | loadtest | benchmark``.

This ``__init__`` imports nothing: importing one tool never loads the others.
"""
