"""The long measurement jobs the Celery ``long`` queue runs: load test, benchmark, optimize.

Plain functions, JSON-safe dicts in and out, each given a ``progress`` callback (the task
turns it into Celery ``PROGRESS`` state): ``loadtest.run_load_test``,
``benchmark.run_benchmark``, ``optimize.run_optimize``. ``params`` validates their parameters
for the API, the CLI and the jobs alike and does no I/O; ``support`` is what they share
(cancel flags, the catalog's contexts, run records).

This ``__init__`` imports nothing: the API imports ``params`` without SQL, psutil or the worker.
"""
