"""`make run` and `make demo` as real processes: `python -m demo.run` and `python -m demo`,
each running the platform of the real `dapr.yaml` through the runner (free app and API
ports, so they run beside anything else), plus the launcher's plan of the ports and the
generator's pure parts (the mix, the orders, the judging, the stock check)."""

from __future__ import annotations

import collections
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rich.console import Console

from demo.launcher import Launcher, Options
from demo.orders import UNKNOWN_SKU, DemoOrder, build_orders
from demo.outcomes import judge
from demo.run import READY_BANNER
from demo.scenarios import EXPECTED, Kind, mix
from demo.stock import Stock
from demo.summary import StockReport, Summary, render_summary, stock_problems, stock_reports
from demo.tracking import Progress, Tracked
from demo.view import LiveView, PlainView, make_view, render_frame
from services.contracts.topology import DECLINING_TEST_CARD
from sidecar.runner import plan
from sidecar.runner.template import load
from testkit.polling import wait_until
from testkit.process import processes_mentioning
from testkit.runner import RunnerProcess

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "dapr.yaml"
# The runner's line for an app that came up, with the ports it runs on.
APP_UP = re.compile(
    r"^runner: app '(?P<app>[^']+)' is up \(dapr grpc (?P<grpc>\d+), dapr http (?P<http>\d+), "
    r"app port (?P<app_port>\d+)\)"
)


@pytest.fixture
def children() -> Iterator[list[RunnerProcess]]:
    started: list[RunnerProcess] = []
    yield started
    for child in started:
        child.stop()


def sagactl(command: str, shell: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command exactly as the instructions print it, run from the repository root in a
    shell holding the variables the instructions set (`$NAME` expanded, as a shell would)."""
    for name, value in shell.items():
        command = command.replace(f"${name}", value)
    return subprocess.run(
        shlex.split(command),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "SAGACTL_CONFIG": os.devnull, **shell},
    )


def variables(banner: list[str]) -> dict[str, str]:
    """The shell variables the instructions set (`export NAME=value`, `NAME=value`)."""
    found = (ASSIGNMENT.match(line.strip()) for line in banner)
    return {m["name"]: m["value"] for m in found if m}


ASSIGNMENT = re.compile(r"^(export )?(?P<name>[A-Z_]+)=(?P<value>\S+)$")


def _verb(command: str) -> str:
    """`orders place` of `sagactl [--api-url URL] orders place ...`."""
    words = shlex.split(command)[1:]
    if words[0] == "--api-url":
        words = words[2:]
    return " ".join(words[:2])


def _flag(command: str, flag: str) -> str:
    words = shlex.split(command)
    return words[words.index(flag) + 1]


def test_run_prints_working_instructions_once_ready_and_stops_on_sigterm(
    tmp_path: Path, children: list[RunnerProcess]
) -> None:
    run = RunnerProcess.reading(
        [
            sys.executable,
            "-m",
            "demo.run",
            "-f",
            str(TEMPLATE),
            "--data-dir",
            str(tmp_path / "run"),
            "--api-port",
            "0",
            "--free-app-ports",
            "--grace-period",
            "5",
        ],
        ROOT,
        own_session=True,
    )
    children.append(run)
    start = run.wait_for_index(READY_BANNER, timeout=90)
    end = run.wait_for_index("Ctrl-C stops the platform.", timeout=5)
    banner = run.lines[start:end]
    # Ready means after every app was reported up, not merely the runner's own message.
    before = run.lines[:start]
    up = {m["app"]: m for line in before if (m := APP_UP.match(line))}
    assert set(up) == {
        "orchestrator",
        "inventory",
        "payment",
        "shipping",
    }
    # The runner ran on the ports the launcher planned and wrote into its template copy.
    copy = yaml.safe_load((tmp_path / "run" / "dapr.yaml").read_text())
    assert {
        app["appID"]: (app["daprGRPCPort"], app["daprHTTPPort"], app["appPort"])
        for app in copy["apps"]
    } == {app: (int(m["grpc"]), int(m["http"]), int(m["app_port"])) for app, m in up.items()}
    api = next(line.split()[-1] for line in banner if "Management API" in line)
    assert httpx.get(f"{api}/healthz", timeout=5).status_code == 200
    assert any(f"{api}/docs" in line for line in banner)
    console = next(line.split()[2] for line in banner if "Web console" in line)
    assert console == f"{api}/ui/"

    commands = [line.strip() for line in banner if line.strip().startswith(".venv/bin/sagactl")]
    by_verb = {_verb(c): c for c in commands}
    # The tokens the instructions print: an operator's (exported), an approver's, a viewer's,
    # and the console's, which its login page takes.
    shell = variables(banner)
    assert set(shell) == {"SAGA_API_TOKEN", "APPROVER_TOKEN", "VIEWER_TOKEN", "CONSOLE_TOKEN"}
    login = httpx.post(f"{console}login", data={"token": shell["CONSOLE_TOKEN"]}, timeout=5)
    assert login.status_code == 303
    assert login.cookies.get("saga_console_token") == shell["CONSOLE_TOKEN"]
    operator = {"Authorization": f"Bearer {shell['SAGA_API_TOKEN']}"}
    assert set(by_verb) >= {
        "orders place",
        "workflow get",
        "approvals list",
        "approvals approve",
        "workflow history",
        "workflow trace",
        "inventory stock",
    }
    small_place, big_place = (c for c in commands if " orders place " in c)
    small_get, big_get = (c for c in commands if " workflow get " in c)
    mermaid = next(c for c in commands if c.endswith("--mermaid"))

    # The session the instructions describe, command by command, as a reader would type
    # it; the waits in between ask the API directly.
    def run_status(order_id: str) -> str:
        response = httpx.get(f"{api}/v1/runs/order-{order_id}", headers=operator, timeout=5)
        return str(response.json()["status"]) if response.status_code == 200 else ""

    def pending(order_id: str) -> bool:
        items = httpx.get(f"{api}/v1/approvals", headers=operator, timeout=5).json()["items"]
        return any(item["orderId"] == order_id for item in items)

    small_id, big_id = (_flag(c, "--order-id") for c in (small_place, big_place))
    assert sagactl(small_place, shell).returncode == 0
    wait_until(lambda: run_status(small_id) == "COMPLETED", timeout=30, what="small order")
    assert "COMPLETED" in sagactl(small_get, shell).stdout
    assert sagactl(big_place, shell).returncode == 0
    wait_until(lambda: pending(big_id), timeout=30, what="the approval of the big order")
    assert big_id in sagactl(by_verb["approvals list"], shell).stdout
    approved = sagactl(by_verb["approvals approve"], shell)
    assert approved.returncode == 0, approved.stderr
    wait_until(lambda: run_status(big_id) == "COMPLETED", timeout=30, what="big order")
    assert "COMPLETED" in sagactl(big_get, shell).stdout
    # The viewer reads; the approval was decided as the approver's token says.
    assert sagactl(by_verb["inventory stock"], shell).returncode == 0
    big = httpx.get(f"{api}/v1/runs/approval-{big_id}", headers=operator, timeout=5).json()
    assert big["output"]["approver"] == "demo-approver"
    diagram = sagactl(mermaid, shell).stdout
    assert diagram.startswith("sequenceDiagram")
    assert f"approval (approval-{big_id})" in diagram
    assert "wf-->>client: COMPLETED" in diagram
    # The saga's trace, from the spans every app keeps in the run's data folder.
    trace = by_verb["workflow trace"]

    def drawn() -> str | None:
        result = sagactl(trace, shell)
        return result.stdout if " shipping " in result.stdout else None

    waterfall = wait_until(drawn, timeout=30, what="the big order's trace")
    assert waterfall.startswith(f"order-{big_id}: trace ")
    assert waterfall.splitlines()[2].startswith("POST /v1/orders")
    for service in ("orchestrator", "inventory", "payment"):
        assert f" {service} " in waterfall

    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(timeout=40) == 0, run.output()
    assert "runner: stopped" in run.lines
    assert processes_mentioning(str(tmp_path)) == {}  # every sidecar is gone


def test_demo_runs_every_kind_of_order_to_its_expected_end(
    tmp_path: Path, children: list[RunnerProcess]
) -> None:
    summary_path = tmp_path / "summary.json"
    demo = RunnerProcess.reading(
        [
            sys.executable,
            "-m",
            "demo",
            "-f",
            str(TEMPLATE),
            "--data-dir",
            str(tmp_path / "demo"),
            "--api-port",
            "0",
            "--free-app-ports",
            "--orders",
            "7",
            "--rate",
            "20",
            "--approval-delay",
            "0.2",
            "--deadline",
            "40",
            "--view",
            "plain",
            "--summary-json",
            str(summary_path),
        ],
        ROOT,
        own_session=True,
    )
    children.append(demo)
    assert demo.wait_exit(timeout=100) == 0, demo.output()
    output = "\n".join(demo.lines)
    assert "OK: all 7 sagas terminal, every outcome as expected, stock conserved." in output
    assert "demo: platform stopped (runner exit code 0)" in output
    assert (tmp_path / "demo" / "platform.log").stat().st_size > 0

    summary: dict[str, Any] = json.loads(summary_path.read_text())
    assert summary["ok"] is True, summary["problems"]
    assert summary["stuck"] == []
    orders = summary["orders"]
    assert sorted(o["kind"] for o in orders) == sorted(str(k) for k in Kind)
    for order in orders:
        expected = EXPECTED[Kind(order["kind"])]
        assert order["status"] == "COMPLETED", order
        assert order["outcome"] == expected.outcome, order
        assert order["failed_step"] == expected.failed_step, order
        assert tuple(order["compensations"]) == expected.compensations, order
        assert order["approval"] == expected.approval, order
    assert summary["outcomes"] == {"completed": 2, "compensated": 3, "rejected": 2}
    # Stock conserved: per SKU, nothing appeared or vanished, what shipped is exactly what
    # the two completed orders bought, and nothing stays reserved.
    for sku in summary["stock"]:
        before, after = sku["before"], sku["after"]
        assert sum(before.values()) == sum(after.values())
        assert after["shipped"] - before["shipped"] == sku["completedUnits"]
        assert after["reserved"] == before["reserved"]
    assert sum(s["completedUnits"] for s in summary["stock"]) > 0


# --- the generator's pure parts -----------------------------------------------------------

STOCK = {f"SKU-00{i}": Stock(100, 0) for i in range(1, 6)}


def TOKENS(card: str) -> str:
    """A stand-in for the card vault: a token per card (the generator's are the vault's)."""
    return f"tok_demo{card[-4:]}Demo{card[-4:]}"


def test_mix_has_every_kind_and_the_right_total() -> None:
    assert mix(30) == {
        Kind.NORMAL: 17,
        Kind.APPROVED: 4,
        Kind.APPROVAL_REJECTED: 1,
        Kind.UNKNOWN_SKU: 2,
        Kind.INSUFFICIENT_STOCK: 2,
        Kind.CARD_DECLINED: 2,
        Kind.UNSHIPPABLE: 2,
    }
    assert mix(7) == {kind: 1 for kind in Kind}
    assert sum(mix(3).values()) == 3
    for count in (1, 7, 8, 50, 200):
        assert sum(mix(count).values()) == count


def test_orders_of_each_kind_are_built_to_end_as_expected() -> None:
    orders = build_orders(
        60, "t1", STOCK, approval_threshold_cents=100_000, seed=7, tokenize=TOKENS
    )
    assert len({o.order_id for o in orders}) == 60
    assert all(o.order_id.startswith("t1-") for o in orders)
    demand: collections.Counter[str] = collections.Counter()
    for demo in orders:
        amount = demo.order.amount_cents
        skus = {line.sku for line in demo.order.items}
        if demo.kind in (Kind.APPROVED, Kind.APPROVAL_REJECTED):
            assert 100_000 < amount <= 450_000
        elif demo.kind != Kind.INSUFFICIENT_STOCK:
            assert amount <= 100_000
        if demo.kind == Kind.UNKNOWN_SKU:
            assert UNKNOWN_SKU in skus
        else:
            assert skus <= set(STOCK)
        if demo.kind == Kind.INSUFFICIENT_STOCK:
            (line,) = demo.order.items
            assert line.quantity > STOCK[line.sku].available
        else:
            for line in demo.order.items:
                if line.sku in STOCK:
                    demand[line.sku] += line.quantity
        assert (demo.card == DECLINING_TEST_CARD) == (demo.kind == Kind.CARD_DECLINED)
        assert demo.order.payment_token == TOKENS(demo.card)
        assert (demo.order.shipping_address.country == "BR") == (demo.kind == Kind.UNSHIPPABLE)
    # Every reservation fits at once, whatever order the sagas run in.
    assert all(demand[sku] <= STOCK[sku].available for sku in demand)


def _run(output: dict[str, Any], status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "status": status,
        "output": output,
        "createdAt": "2025-01-01T12:00:00Z",
        "lastUpdatedAt": "2025-01-01T12:00:01.5Z",
    }


def test_judge_compares_each_end_with_its_kind() -> None:
    (declined,) = [
        o
        for o in build_orders(7, "t2", STOCK, seed=1, tokenize=TOKENS)
        if o.kind == Kind.CARD_DECLINED
    ]
    good = judge(
        declined,
        _run(
            {
                "orderId": declined.order_id,
                "outcome": "compensated",
                "failedStep": "charge",
                "compensations": ["release"],
            }
        ),
    )
    assert good.problem is None
    assert good.seconds == 1.5
    wrong = judge(declined, _run({"orderId": declined.order_id, "outcome": "completed"}))
    assert wrong.problem == "outcome completed, expected compensated"
    assert judge(declined, None).problem == "stuck: NOT_STARTED at the deadline"
    running = judge(declined, _run({}, status="RUNNING"))
    assert running.problem == "stuck: RUNNING at the deadline"


def test_stock_check_finds_lost_and_leaked_units() -> None:
    order = DemoOrder(
        Kind.NORMAL,
        build_orders(1, "t3", {"SKU-001": Stock(100, 0)}, seed=2, tokenize=TOKENS)[0].order,
    )
    bought = order.order.items[0].quantity
    report = judge(order, _run({"orderId": order.order_id, "outcome": "completed"}))
    before = {"SKU-001": Stock(100, 0)}
    shipped = Stock(100 - bought, 0, bought)
    conserved = stock_reports(before, {"SKU-001": shipped}, [report], [order])
    assert conserved == [StockReport("SKU-001", Stock(100, 0), shipped, bought)]
    assert stock_problems(conserved) == []
    lost = stock_reports(before, {"SKU-001": Stock(99 - bought, 0, bought)}, [report], [order])
    assert stock_problems(lost) == [f"SKU-001: available + reserved + shipped was 100, is {99}"]
    leaked = stock_reports(before, {"SKU-001": Stock(99 - bought, 1, bought)}, [report], [order])
    assert stock_problems(leaked) == ["SKU-001: reserved went from 0 to 1 with every saga ended"]
    unshipped = stock_reports(before, {"SKU-001": Stock(100 - bought, bought)}, [report], [order])
    assert stock_problems(unshipped) == [
        f"SKU-001: shipped grew by 0, the completed orders bought {bought}",
        f"SKU-001: reserved went from 0 to {bought} with every saga ended",
    ]
    # While a saga is unfinished it may hold stock: only the total is checked.
    assert stock_problems(leaked, all_ended=False) == []
    assert stock_problems(lost, all_ended=False) == stock_problems(lost)


def test_the_launcher_fixes_every_port_so_the_runner_plans_the_same(tmp_path: Path) -> None:
    launcher = Launcher(
        Options(
            run_file=TEMPLATE,
            data_dir=tmp_path,
            api_port=0,
            free_app_ports=True,
            env={"STEP_TIMEOUT_SECONDS": "10"},
        ),
        io.BytesIO(),
    )
    launcher.prepare()

    def unplanned() -> int:
        raise AssertionError("the launcher left a port for the runner to pick")

    copy = load(tmp_path / "dapr.yaml")
    launches = plan.build(copy, data_dir=tmp_path, environ={}, allocate_port=unplanned)
    ports = [
        port for a in launches for port in (a.grpc_port, a.http_port, a.metrics_port, a.app_port)
    ]
    assert len(set(ports)) == len(ports) == 4 * len(launcher.app_ids)
    assert launcher.api_url is not None
    assert int(launcher.api_url.rsplit(":", 1)[1]) not in ports
    assert all(app.env["STEP_TIMEOUT_SECONDS"] == "10" for app in copy.apps)
    # `make run` beside `make demo`: none of the template's fixed app ports.
    assert not {app.app_port for app in load(TEMPLATE).apps} & set(ports)


def test_a_stuck_saga_fails_the_summary_and_skips_the_reservation_check() -> None:
    orders = build_orders(2, "t4", STOCK, seed=3, tokenize=TOKENS)
    (normal,) = (o for o in orders if o.kind == Kind.NORMAL)
    (approved,) = (o for o in orders if o.kind == Kind.APPROVED)
    reports = [
        judge(normal, _run({"orderId": normal.order_id, "outcome": "completed"})),
        judge(approved, _run({}, status="RUNNING")),
    ]
    after = dict(STOCK)
    for demo in orders:  # both hold their stock: one completed, one waiting for approval
        for line in demo.order.items:
            level = after[line.sku]
            after[line.sku] = Stock(level.available - line.quantity, level.reserved + line.quantity)
    stock = stock_reports(STOCK, after, reports, orders)
    summary = Summary("t4", reports, stock, stock_problems(stock, all_ended=False), 3.0, 0.5)
    assert not summary.ok
    assert summary.stuck == [approved.order_id]
    assert summary.problems == [f"{approved.order_id} (approved): stuck: RUNNING at the deadline"]
    text = render_summary(summary)
    assert "what stays reserved not checked, 1 saga(s) unfinished" in text
    assert "FAILED: 1 problem(s):" in text
    assert summary.to_data()["stuck"] == [approved.order_id]


# --- the views ------------------------------------------------------------------------------


def _progress() -> Progress:
    """Seven orders: one pending, one in flight, the rest ended as expected."""
    tracked = [
        Tracked(demo, due=0) for demo in build_orders(7, "t5", STOCK, seed=5, tokenize=TOKENS)
    ]
    for item in tracked[1:]:
        item.placed_at = 0.0
        item.stage = "reserving"
    for item in tracked[2:]:
        item.run = _run({"outcome": EXPECTED[item.demo.kind].outcome})
        item.stage = EXPECTED[item.demo.kind].outcome
    return Progress("t5", "http://127.0.0.1:8080", 0.0, tracked)


def test_off_a_terminal_the_view_writes_plain_lines() -> None:
    stream = io.StringIO()
    view = make_view("auto", stream)
    assert isinstance(view, PlainView)
    progress = _progress()
    view.event(progress, "t5-01 normal: completed")
    view.update(progress)
    view.close(progress)
    lines = stream.getvalue().splitlines()
    assert "t5-01 normal: completed" in lines[0]
    assert "placed 6/7 | in flight 1 (reserving 1) | finished 5 (" in lines[1]
    assert "\x1b" not in stream.getvalue()


def test_the_live_view_redraws_in_place_and_gives_the_cursor_back() -> None:
    stream = io.StringIO()
    view = make_view("live", stream)
    assert isinstance(view, LiveView)
    progress = _progress()
    view.update(progress)
    view.event(progress, "t5-02 approved: completed")
    view.close(progress)
    output = stream.getvalue()
    hidden, shown = output.index("\x1b[?25l"), output.rindex("\x1b[?25h")
    assert hidden < output.index("t5-02 approved: completed") < shown
    assert "\x1b[?1049h" not in output  # no alternate screen: the frames stay
    assert "placed 6/7, finished 5/7" in output


@pytest.mark.parametrize("width", [80, 60])
def test_a_frame_fits_the_terminal(width: int) -> None:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(render_frame(_progress()))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    assert "total" in text
