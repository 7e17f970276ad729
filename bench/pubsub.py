"""`make bench`, pub/sub part: one sidecar with a durable `pubsub.sqlite`, one subscriber app.

Three processes on one host, all talking real gRPC:

- the embedded sidecar (`python -m sidecar`, a `pubsub.sqlite` component with the durable
  defaults: SQLite WAL, synchronous=normal, every publish committed before it returns);
- a subscriber app, a real `dapr.ext.grpc.App` (`python -m bench.pubsub subscriber PORT
  FILE`), whose handler answers SUCCESS after appending one line per message: phase,
  sequence number, the publish time carried in the payload, and the `time.time()` at
  which its handler started (received) and returned (acknowledged);
- this process, publishing with the real sync `DaprClient` against the same sidecar.

P1, throughput: `THROUGHPUT_MESSAGES` `publish_event` calls back to back from one thread
(each returns once the sidecar committed the message, so the publisher never runs ahead
of durability); messages/s from the first publish to the last acknowledgement the app
saw. P1b publishes the same number with `publish_events` (bulk, `BULK_SIZE` a call), so
publishing is cheap and the figure is the sidecar's delivery rate to the app.

P2, latency: `LATENCY_MESSAGES` messages published one at a time every
`LATENCY_INTERVAL_S` (the sidecar is idle when each arrives); publish -> handler latency
from the payload's timestamp, same host clock. The measuring process does not poll while
publishing, so it takes no CPU from the sidecar or the app.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dapr.clients import DaprClient
from dapr.ext.grpc import App, SubscriptionMessage, TopicEventResponse

from bench import grpc_floor
from bench.report import format_table
from bench.workloads import cpu_seconds
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ManagedProcess
from testkit.resources import component, write_resources
from testkit.sidecar import HOST, SidecarProcess, dapr_client

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / ".data" / "bench" / "pubsub"
PUBSUB = "pubsub"
TOPIC = "bench"
WARMUP_MESSAGES = 50
THROUGHPUT_MESSAGES = 2000
BULK_SIZE = 100
LATENCY_MESSAGES = 300
LATENCY_INTERVAL_S = 0.02
THROUGHPUT_TARGET = 1000.0  # messages/s publish -> app ack, at least
P50_TARGET_MS = 5.0  # idle publish -> app, at most
WAIT_S = 120

Figures = dict[str, Any]


# --- the subscriber app (its own process) --------------------------------------------------


def run_subscriber(port: int, records: Path) -> None:
    """Serves `OnTopicEvent` for TOPIC until killed, one record line per message."""
    lock = threading.Lock()
    out = records.open("a")
    app = App()

    @app.subscribe(PUBSUB, TOPIC)
    def on_message(event: SubscriptionMessage) -> TopicEventResponse:
        received = time.time()
        body = event.data()
        line = f"{body['phase']} {body['seq']} {body['sent']!r} {received!r}"
        with lock:
            out.write(f"{line} {time.time()!r}\n")
            out.flush()
        return TopicEventResponse("success")

    app.run(port, listen_address="127.0.0.1")


# --- the measuring side ----------------------------------------------------------------------


class Records:
    """The subscriber's record file, read incrementally: {phase: {seq: first record}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self.by_phase: dict[str, dict[int, tuple[float, float, float]]] = {}
        self.duplicates = 0

    def refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            file.seek(self._offset)
            chunk = file.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written waits
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            phase, seq, sent, received, acked = line.split()
            seen = self.by_phase.setdefault(phase, {})
            if int(seq) in seen:
                self.duplicates += 1
                continue
            seen[int(seq)] = (float(sent), float(received), float(acked))

    def wait_for(self, phase: str, count: int) -> dict[int, tuple[float, float, float]]:
        def probe() -> dict[int, tuple[float, float, float]] | None:
            self.refresh()
            seen = self.by_phase.get(phase, {})
            return seen if len(seen) >= count else None

        return wait_until(
            probe, timeout=WAIT_S, interval=0.01, what=f"{count} '{phase}' messages at the app"
        )


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class PubSubBench:
    def __init__(self, work: Path) -> None:
        self.records = Records(work / "records.txt")
        self.app_port = free_port()
        resources = write_resources(
            work / "resources", {"pubsub.yaml": component(PUBSUB, "pubsub.sqlite")}
        )
        self.sidecar = SidecarProcess(
            data_dir=work / "data",
            app_id="bench-subscriber",
            # warn: no log line per message, as in the workflow figures.
            extra_args=[
                "--resources-path",
                str(resources),
                "--app-port",
                str(self.app_port),
                "--log-level",
                "warn",
            ],
        )
        self.app = ManagedProcess(
            "subscriber app",
            (
                sys.executable,
                "-m",
                "bench.pubsub",
                "subscriber",
                str(self.app_port),
                str(self.records.path),
            ),
            work / "subscriber.log",
            ready=lambda: bool(self.sidecar.metadata().get("subscriptions")),
        )
        self.client: DaprClient | None = None

    def start(self) -> None:
        self.app.start(wait=False)
        self.sidecar.start()
        self.app.wait_ready()
        self.client = dapr_client(HOST, self.sidecar.grpc_port, self.sidecar.http_port)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.app.kill()
        self.sidecar.stop()

    @staticmethod
    def _body(phase: str, seq: int) -> str:
        return json.dumps({"phase": phase, "seq": seq, "sent": time.time()})

    def publish(self, phase: str, seq: int) -> None:
        assert self.client is not None
        self.client.publish_event(
            PUBSUB, TOPIC, self._body(phase, seq), data_content_type="application/json"
        )

    def warm_up(self) -> None:
        for seq in range(WARMUP_MESSAGES):
            self.publish("warmup", seq)
        self.records.wait_for("warmup", WARMUP_MESSAGES)

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far of the three processes."""
        assert self.sidecar.process is not None
        return {
            "sidecar": cpu_seconds(self.sidecar.process.pid),
            "app": cpu_seconds(self.app.pid),
            "publisher": time.process_time(),
        }

    def _cpu_per_message(self, before: dict[str, float], count: int) -> dict[str, float]:
        """Milliseconds of CPU per message in each process since `before`: with three
        processes on two cores, their sum bounds the throughput."""
        after = self._cpu()
        return {name: (after[name] - before[name]) * 1000 / count for name in before}

    def throughput(self, count: int = THROUGHPUT_MESSAGES) -> Figures:
        cpu = self._cpu()
        started = time.time()
        for seq in range(count):
            self.publish("single", seq)
        published = time.time()
        seen = self.records.wait_for("single", count)
        last_ack = max(acked for _, _, acked in seen.values())
        return {
            "messages": count,
            "publisher": "1 thread, DaprClient.publish_event back to back "
            "(each call returns once the message is committed)",
            "publishes_per_s": count / (published - started),
            "seconds": last_ack - started,
            "messages_per_s": count / (last_ack - started),
            "cpu_ms_per_message": self._cpu_per_message(cpu, count),
        }

    def bulk_throughput(self, count: int = THROUGHPUT_MESSAGES) -> Figures:
        assert self.client is not None
        cpu = self._cpu()
        started = time.time()
        for first in range(0, count, BULK_SIZE):
            batch = range(first, min(first + BULK_SIZE, count))
            self.client.publish_events(
                PUBSUB,
                TOPIC,
                [self._body("bulk", seq) for seq in batch],
                data_content_type="application/json",
            )
        published = time.time()
        seen = self.records.wait_for("bulk", count)
        last_ack = max(acked for _, _, acked in seen.values())
        return {
            "messages": count,
            "publisher": f"1 thread, DaprClient.publish_events, {BULK_SIZE} messages a call",
            "publishes_per_s": count / (published - started),
            "seconds": last_ack - started,
            "messages_per_s": count / (last_ack - started),
            "cpu_ms_per_message": self._cpu_per_message(cpu, count),
        }

    def latency(self, count: int = LATENCY_MESSAGES) -> Figures:
        next_at = time.monotonic()
        for seq in range(count):
            self.publish("latency", seq)
            next_at += LATENCY_INTERVAL_S
            time.sleep(max(0.0, next_at - time.monotonic()))
        seen = self.records.wait_for("latency", count)
        millis = [(received - sent) * 1000 for sent, received, _ in seen.values()]
        return {
            "messages": count,
            "interval_ms": LATENCY_INTERVAL_S * 1000,
            "p50_ms": percentile(millis, 0.50),
            "p99_ms": percentile(millis, 0.99),
            "mean_ms": statistics.fmean(millis),
            "max_ms": max(millis),
        }


def measure(work: Path = OUT_DIR) -> Figures:
    shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]  # the host is shared: say how busy it was
    floor = grpc_floor.measure(work / "grpc-floor.log")
    bench = PubSubBench(work)
    try:
        bench.start()
        bench.warm_up()
        single = bench.throughput()
        bulk = bench.bulk_throughput()
        latency = bench.latency()
    finally:
        bench.stop()
    return {
        "setup": "1 sidecar (pubsub.sqlite, SQLite WAL synchronous=normal), "
        "1 dapr.ext.grpc.App subscriber answering SUCCESS, 1 DaprClient publisher; "
        "3 processes on one host",
        "throughput": single,
        "bulk_throughput": bulk,
        "latency": latency,
        "redelivered": bench.records.duplicates,
        "grpc_floor": floor,
        "host_load_average_1m": load,
        "targets": {
            "messages_per_s_at_least": THROUGHPUT_TARGET,
            "throughput_met": single["messages_per_s"] >= THROUGHPUT_TARGET,
            "p50_ms_at_most": P50_TARGET_MS,
            "p50_met": latency["p50_ms"] <= P50_TARGET_MS,
        },
    }


def _cpu_split(figures: Figures) -> str:
    return " + ".join(f"{name} {ms:.2f}" for name, ms in figures["cpu_ms_per_message"].items())


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(figures: Figures) -> str:
    single, bulk = figures["throughput"], figures["bulk_throughput"]
    latency, targets = figures["latency"], figures["targets"]
    floor = figures["grpc_floor"]
    rows = [
        ("", "ours", "target"),
        (
            f"P1 {single['messages']} x publish_event -> app ack: messages/s",
            f"{single['messages_per_s']:.0f}",
            f">= {THROUGHPUT_TARGET:.0f} ({_met(targets['throughput_met'])})",
        ),
        ("P1 publish calls alone: publishes/s", f"{single['publishes_per_s']:.0f}", ""),
        ("P1 CPU per message: ms", _cpu_split(single), ""),
        (
            f"P1b {bulk['messages']} via publish_events x{BULK_SIZE} -> app ack: messages/s",
            f"{bulk['messages_per_s']:.0f}",
            "",
        ),
        ("P1b CPU per message: ms", _cpu_split(bulk), ""),
        (
            f"P2 idle publish -> app latency p50 (1 every {latency['interval_ms']:.0f} ms): ms",
            f"{latency['p50_ms']:.1f}",
            f"<= {P50_TARGET_MS:.0f} ({_met(targets['p50_met'])})",
        ),
        (f"P2 p99 ({latency['messages']} messages): ms", f"{latency['p99_ms']:.1f}", ""),
        (
            "host floor, 1 no-op gRPC unary call (aio server, sync client): CPU ms",
            f"server {floor['server_cpu_ms_per_call']:.2f} + client "
            f"{floor['client_cpu_ms_per_call']:.2f}",
            "",
        ),
        ("host load average (1 min) before the run", f"{figures['host_load_average_1m']:.1f}", ""),
    ]
    return format_table(rows)


def main(argv: list[str]) -> None:
    """`python -m bench.pubsub`: the pub/sub figures alone (`make bench` runs them too)."""
    if len(argv) == 4 and argv[1] == "subscriber":
        run_subscriber(int(argv[2]), Path(argv[3]))
        return
    figures = measure()
    print(figures["setup"])
    print(table(figures))


if __name__ == "__main__":
    main(sys.argv)
