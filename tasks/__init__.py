"""Thin Celery tasks, each declared ``@agentload_task(TaskName.X)`` (name here, queue from
``agentload.tasknames.ROUTES``); the work is in ``agentload.jobs``. ``workers.app`` registers
every module of this package, so a new module needs no list updated."""
