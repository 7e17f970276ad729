"""A workflow app run as its own process by the crash tests, so that it can be `kill -9`ed.

Usage: python -m tests.sidecar.crash_worker PORT
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Generator
from typing import Any

import dapr.ext.workflow as wf

STEPS = 10


def build(port: int) -> wf.WorkflowRuntime:
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(port))

    @runtime.activity(name="slow_increment")
    def slow_increment(ctx: wf.WorkflowActivityContext, value: int) -> int:
        time.sleep(0.1)
        return value + 1

    @runtime.workflow(name="crash_chain")
    def crash_chain(ctx: wf.DaprWorkflowContext, value: int) -> Generator[Any, Any, int]:
        for _ in range(STEPS):
            value = yield ctx.call_activity(slow_increment, input=value)
        return value

    return runtime


def main() -> None:
    runtime = build(int(sys.argv[1]))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime.start()
    print("worker ready", flush=True)
    stop.wait()
    runtime.shutdown()


if __name__ == "__main__":
    main()
