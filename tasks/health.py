"""``agentload.ping``: proves a worker is consuming and says which process answered."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from celery import Task, shared_task

from workers.base import AgentloadTask
from workers.queues import Queue, TaskName


def describe_process(hostname: str | None = None) -> dict[str, Any]:
    """JSON-safe identity of the answering process (readiness checks compare the hostname)."""
    return {
        "ok": True,
        "hostname": hostname or socket.gethostname(),
        "pid": os.getpid(),
        "time": time.time(),
    }


@shared_task(bind=True, name=TaskName.PING.value, queue=Queue.DEFAULT.value, base=AgentloadTask)
def ping(self: Task) -> dict[str, Any]:
    """No retry policy: a ping that needs a retry is exactly what a readiness check must see."""
    return describe_process(self.request.hostname)
