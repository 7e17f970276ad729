"""The benchmark's workloads, defined once for both engines.

Imported by our side (dapr SDK) and by `peer_workloads.py` (durabletask SDK, other venv), so it
must import nothing but the standard library: the SDK-specific bits come in as arguments.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

W1_WORKFLOWS = 500
CHAIN_LENGTH = 5
W2_FAN_OUT = 500
W3_RUNS = 50
WORKLOAD_TIMEOUT_S = 150.0

Orchestrator = Callable[[Any, Any], Generator[Any, Any, int]]


def noop(ctx: Any, value: Any) -> Any:
    """The activity: no work, so the figures measure the engine, not the app."""
    return value


@dataclass(frozen=True)
class Workflows:
    chain: Orchestrator
    fan_out: Orchestrator


def define_workflows(when_all: Callable[[list[Any]], Any]) -> Workflows:
    """Both SDKs run the same generator code; only `when_all` lives in SDK-specific modules."""

    def bench_chain(ctx: Any, _: Any) -> Generator[Any, Any, int]:
        for step in range(CHAIN_LENGTH):
            yield ctx.call_activity(noop, input=step)
        return CHAIN_LENGTH

    def bench_fan_out(ctx: Any, _: Any) -> Generator[Any, Any, int]:
        results = yield when_all([ctx.call_activity(noop, input=i) for i in range(W2_FAN_OUT)])
        return len(results)

    return Workflows(chain=bench_chain, fan_out=bench_fan_out)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, all threads (Linux `/proc`)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Engine(Protocol):
    """One SDK's client, reduced to what the workloads need."""

    def schedule(self, workflow: Orchestrator) -> str: ...

    def wait(self, instance_id: str, timeout_s: float) -> str | None:
        """Blocks until the instance ends; returns its status name (None if not found)."""
        ...


def _finish(engine: Engine, instance_id: str, deadline: float) -> None:
    status = engine.wait(instance_id, max(1.0, deadline - time.perf_counter()))
    if status != "COMPLETED":
        raise RuntimeError(f"workflow {instance_id} ended {status}, not COMPLETED")


def w1_throughput(engine: Engine, flows: Workflows) -> dict[str, float]:
    """All chains are scheduled back to back, then awaited: first schedule → last completion."""
    start = time.perf_counter()
    deadline = start + WORKLOAD_TIMEOUT_S
    ids = [engine.schedule(flows.chain) for _ in range(W1_WORKFLOWS)]
    for instance_id in ids:
        _finish(engine, instance_id, deadline)
    seconds = time.perf_counter() - start
    return {
        "workflows": W1_WORKFLOWS,
        "activities": W1_WORKFLOWS * CHAIN_LENGTH,
        "seconds": seconds,
        "workflows_per_s": W1_WORKFLOWS / seconds,
        "activities_per_s": W1_WORKFLOWS * CHAIN_LENGTH / seconds,
    }


def w2_fan_out(engine: Engine, flows: Workflows) -> dict[str, float]:
    start = time.perf_counter()
    _finish(engine, engine.schedule(flows.fan_out), start + WORKLOAD_TIMEOUT_S)
    return {"activities": W2_FAN_OUT, "seconds": time.perf_counter() - start}


def percentile(samples: list[float], pct: float) -> float:
    """Nearest rank, so every reported figure is a latency that was actually observed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def w3_latency(engine: Engine, flows: Workflows) -> dict[str, float]:
    """One chain at a time on an otherwise idle engine: schedule → completion seen by the client."""
    deadline = time.perf_counter() + WORKLOAD_TIMEOUT_S
    samples = []
    for _ in range(W3_RUNS):
        start = time.perf_counter()
        _finish(engine, engine.schedule(flows.chain), deadline)
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "runs": W3_RUNS,
        "p50_ms": percentile(samples, 50),
        "p99_ms": percentile(samples, 99),
    }


def _with_cpu(
    workload: Callable[[Engine, Workflows], dict[str, float]], engine_pid: int
) -> Callable[[Engine, Workflows], dict[str, float]]:
    """Adds the CPU seconds each side spent: where the time goes, not only how much."""

    def measured(engine: Engine, flows: Workflows) -> dict[str, float]:
        engine_before, ours_before = cpu_seconds(engine_pid), time.process_time()
        figures = workload(engine, flows)
        figures["engine_cpu_s"] = cpu_seconds(engine_pid) - engine_before
        figures["worker_client_cpu_s"] = time.process_time() - ours_before
        return figures

    return measured


def run_all(engine: Engine, flows: Workflows, engine_pid: int) -> dict[str, dict[str, float]]:
    """A warm-up chain first, so connection setup and first-call costs stay out of W1.

    `engine_pid` is the process serving the engine; this process runs the worker and client.
    """
    _finish(engine, engine.schedule(flows.chain), time.perf_counter() + WORKLOAD_TIMEOUT_S)
    return {
        "w1": _with_cpu(w1_throughput, engine_pid)(engine, flows),
        "w2": _with_cpu(w2_fan_out, engine_pid)(engine, flows),
        "w3": w3_latency(engine, flows),
    }
