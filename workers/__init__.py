"""Celery plumbing: the app, queues, base task and signal handlers.

Kept import-light on purpose: ``workers.app`` imports ``beat_schedule`` and the ``tasks``
modules, which import ``workers.base``, so this package must not import the app. Task and
queue names are not here but in ``agentload.tasknames``, which the API shares.
"""

import os

# One BLAS thread per worker process, set before anything imports numpy. Worker processes
# already run in parallel (prefork: one per core); OpenBLAS's own threads on top of them spin
# for cores the other processes hold. Measured on the 2-core development machine, two processes
# embedding the bundled catalog at once: 12.7-31.2 s each with OpenBLAS's default threads,
# 6.9-7.7 s with one (the 67 passages, on a machine loaded by other work). An operator's
# own value wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
