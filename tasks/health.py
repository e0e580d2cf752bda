"""``agentload.ping``: proves a worker is consuming and says which process answered."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from agentload.tasknames import TaskName
from workers.base import AgentloadTask, agentload_task


def describe_process(hostname: str | None = None) -> dict[str, Any]:
    """JSON-safe identity of the answering process (readiness checks compare the hostname)."""
    return {
        "ok": True,
        "hostname": hostname or socket.gethostname(),
        "pid": os.getpid(),
        "time": time.time(),
    }


@agentload_task(TaskName.PING, bind=True, retry=False)
def ping(self: AgentloadTask) -> dict[str, Any]:
    """No retry policy: a ping that needs a retry is exactly what a readiness check must see."""
    return describe_process(self.request.hostname)
