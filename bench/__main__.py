"""`make bench`: our sidecar against durabletask's in-memory backend, same workloads, one run.

Each engine runs in its own process and its SDK's worker and client in another, so neither side
gets the other's GIL for free. Ours keeps durability on (SQLite WAL, synchronous=normal); the
peer keeps nothing, which is the bar it sets. Then the pub/sub figures (`bench/pubsub.py`):
publish -> app throughput and idle latency through a durable `pubsub.sqlite`, against fixed
targets. Last the end-to-end figures (`bench/e2e.py`): orders/s and order latency through
the whole platform, on the embedded sidecars (`dapr.yaml`) and on daprd with Redis
(`dapr.daprd.yaml`), with 1, 2 and 4 replicas of each service app and a capacity model
(`bench/scaling.py`), with tracing off and on (`bench/tracing.py`), then the same saga on
Temporal's dev server, durable and in memory (`bench/temporal/`), with our ratio to each
and each process's CPU per order; the web console's runs page with 10,000 runs in the
store (`bench/console.py`). Last, the chaos run (`bench/chaos.py`): orders through the API
while the whole platform is killed together, several times; then the books. Results go
to `.data/bench/latest.json` for docs.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf

from bench import chaos, pubsub, scaling
from bench import console as console_bench
from bench import e2e as e2e_bench
from bench import tracing as tracing_bench
from bench.report import format_table
from bench.temporal import peer as temporal_peer
from bench.venvs import ensure_venv
from bench.workloads import (
    CHAIN_LENGTH,
    W1_WORKFLOWS,
    W2_FAN_OUT,
    W3_RUNS,
    Orchestrator,
    define_workflows,
    noop,
    run_all,
)
from testkit.ports import free_port, port_open
from testkit.process import ManagedProcess
from testkit.sidecar import SidecarProcess

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / ".venv-peer"
PEER_LOCK = ROOT / "bench" / "peer-requirements.lock"
OUT_DIR = ROOT / ".data" / "bench"
W1_TARGET = 1.5  # our workflows/s over the peer's, at least
W2_TARGET = 0.7  # our fan-out seconds over the peer's, at most
PEER_TIMEOUT_S = 240

Figures = dict[str, Any]


class OurEngine:
    def __init__(self, client: wf.DaprWorkflowClient) -> None:
        self._client = client

    def schedule(self, workflow: Orchestrator) -> str:
        return str(self._client.schedule_new_workflow(workflow))

    def wait(self, instance_id: str, timeout_s: float) -> str | None:
        state = self._client.wait_for_workflow_completion(
            instance_id, timeout_in_seconds=math.ceil(timeout_s)
        )
        return None if state is None else str(state.runtime_status.name)


def measure_ours() -> Figures:
    data_dir = OUT_DIR / "sidecar"
    shutil.rmtree(data_dir, ignore_errors=True)
    # warn: the peer's backend logs nothing per work item either.
    sidecar = SidecarProcess(data_dir=data_dir, app_id="bench", extra_args=["--log-level", "warn"])
    sidecar.start()
    assert sidecar.process is not None
    try:
        port = str(sidecar.grpc_port)
        runtime = wf.WorkflowRuntime(host="127.0.0.1", port=port)
        flows = define_workflows(wf.when_all)
        runtime.register_workflow(flows.chain)
        runtime.register_workflow(flows.fan_out)
        runtime.register_activity(noop)
        runtime.start()
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=port)
        try:
            figures = run_all(OurEngine(client), flows, sidecar.process.pid)
        finally:
            client.close()
            runtime.shutdown()
    finally:
        sidecar.stop()
    engine = "embedded sidecar, SQLite WAL synchronous=normal"
    return {"engine": engine, **figures}


def measure_peer() -> Figures:
    python = str(ensure_venv(PEER_VENV, PEER_LOCK, ROOT))
    port = free_port()
    module = [python, "-m", "bench.peer_workloads"]
    backend = ManagedProcess(
        "peer backend",
        [*module, "serve", "--port", str(port)],
        OUT_DIR / "peer-backend.log",
        ready=lambda: port_open("127.0.0.1", port),
    ).start()
    try:
        run = subprocess.run(
            [*module, "measure", "--port", str(port), "--backend-pid", str(backend.pid)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=PEER_TIMEOUT_S,
        )
    finally:
        backend.stop()
    if run.returncode != 0:
        raise RuntimeError(f"peer workloads failed ({run.returncode}):\n{run.stderr}")
    # Only stdout's last line is the figures; the peer worker's shutdown chatter is on stderr.
    figures: Figures = json.loads(run.stdout.strip().splitlines()[-1])
    return figures


def ratios(ours: Figures, peer: Figures) -> dict[str, float]:
    return {
        "w1_throughput": ours["w1"]["workflows_per_s"] / peer["w1"]["workflows_per_s"],
        "w2_time": ours["w2"]["seconds"] / peer["w2"]["seconds"],
        "w3_p50": ours["w3"]["p50_ms"] / peer["w3"]["p50_ms"],
        "w3_p99": ours["w3"]["p99_ms"] / peer["w3"]["p99_ms"],
    }


def table(ours: Figures, peer: Figures, ratio: dict[str, float]) -> str:
    w1_met = "met" if ratio["w1_throughput"] >= W1_TARGET else "MISSED"
    w2_met = "met" if ratio["w2_time"] <= W2_TARGET else "MISSED"
    rows = [
        ("", "ours", "peer", "ours/peer", "target"),
        (
            f"W1 {W1_WORKFLOWS} x chain-{CHAIN_LENGTH}: workflows/s",
            f"{ours['w1']['workflows_per_s']:.1f}",
            f"{peer['w1']['workflows_per_s']:.1f}",
            f"{ratio['w1_throughput']:.2f}x",
            f">= {W1_TARGET}x ({w1_met})",
        ),
        (
            "W1 activities/s",
            f"{ours['w1']['activities_per_s']:.0f}",
            f"{peer['w1']['activities_per_s']:.0f}",
            "",
            "",
        ),
        (
            f"W2 fan-out {W2_FAN_OUT} (when_all): s",
            f"{ours['w2']['seconds']:.2f}",
            f"{peer['w2']['seconds']:.2f}",
            f"{ratio['w2_time']:.2f}x",
            f"<= {W2_TARGET}x ({w2_met})",
        ),
        *(
            (
                f"{workload} CPU s, {label}",
                f"{ours[key][field]:.2f}",
                f"{peer[key][field]:.2f}",
                f"{ours[key][field] / peer[key][field]:.2f}x",
                "",
            )
            for key, workload in (("w1", "W1"), ("w2", "W2"))
            for field, label in (
                ("engine_cpu_s", "engine process"),
                ("worker_client_cpu_s", "SDK worker + client process"),
            )
        ),
        (
            f"W3 idle chain-{CHAIN_LENGTH} latency p50: ms",
            f"{ours['w3']['p50_ms']:.1f}",
            f"{peer['w3']['p50_ms']:.1f}",
            f"{ratio['w3_p50']:.2f}x",
            "",
        ),
        (
            f"W3 p99 ({W3_RUNS} runs): ms",
            f"{ours['w3']['p99_ms']:.1f}",
            f"{peer['w3']['p99_ms']:.1f}",
            f"{ratio['w3_p99']:.2f}x",
            "",
        ),
    ]
    return format_table(rows)


def main() -> None:
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    print(f"ours: {W1_WORKFLOWS=} {CHAIN_LENGTH=} {W2_FAN_OUT=} {W3_RUNS=} ...", flush=True)
    ours = measure_ours()
    print("peer ...", flush=True)
    peer = measure_peer()
    ratio = ratios(ours, peer)
    print("pub/sub ...", flush=True)
    pubsub_figures = pubsub.measure()
    print("end to end ...", flush=True)
    e2e_figures = e2e_bench.measure()
    print("end to end, 1, 2 and 4 replicas of each service app ...", flush=True)
    scaling_figures = scaling.measure()
    print("end to end, tracing off and on ...", flush=True)
    tracing_figures = tracing_bench.measure()
    print("end to end on Temporal ...", flush=True)
    temporal_figures = temporal_peer.measure()
    print("the console's runs page ...", flush=True)
    console_figures = console_bench.measure()
    print("chaos ...", flush=True)
    chaos_figures = chaos.measure()
    print()
    print(f"ours: {ours['engine']}")
    print(f"peer: {peer['engine']}")
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"1-minute load {load_at_start:.1f} at the start"
    )
    print()
    print(table(ours, peer, ratio))
    print()
    print(f"pub/sub: {pubsub_figures['setup']}")
    print()
    print(pubsub.table(pubsub_figures))
    print()
    print(f"end to end:\n{e2e_bench.describe(e2e_figures)}")
    print()
    print(e2e_bench.table(e2e_figures))
    print()
    print(scaling.table(scaling_figures))
    print()
    print("capacity model, from the daprd run's CPU per order (bench/scaling.py):")
    print(scaling.capacity_table(e2e_figures["daprd"]["burst"]["cpu_ms_per_order"]))
    print()
    print(f"tracing: {tracing_figures['setup']}")
    print()
    print(tracing_bench.table(tracing_figures))
    print()
    print("against Temporal:")
    for mode, figures in temporal_figures.items():
        print(f"{mode}: {figures['setup']}")
    print()
    print(temporal_peer.table(temporal_figures, e2e_figures))
    print()
    print(temporal_peer.cpu_table(temporal_figures, e2e_figures))
    print()
    print(f"console: {console_figures['setup']}")
    print()
    print(console_bench.table(console_figures))
    print()
    print(f"chaos: {chaos_figures['setup']}")
    print(chaos.table(chaos_figures))
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            # The 1-minute load at the start and the end: other work on the host is noise.
            "load_average": {"start": load_at_start, "end": os.getloadavg()[0]},
        },
        "ours": ours,
        "peer": peer,
        "ratios": ratio,
        "targets": {
            "w1_throughput_at_least": W1_TARGET,
            "w1_met": ratio["w1_throughput"] >= W1_TARGET,
            "w2_time_at_most": W2_TARGET,
            "w2_met": ratio["w2_time"] <= W2_TARGET,
        },
        "pubsub": pubsub_figures,
        "e2e": e2e_figures,
        "scaling": scaling_figures,
        "tracing": tracing_figures,
        "temporal": temporal_figures,
        "e2e_over_temporal": temporal_peer.ratios(temporal_figures, e2e_figures),
        "console": console_figures,
        "chaos": chaos_figures,
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "latest.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)} in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
