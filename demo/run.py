"""`python -m demo.run` (`make run`): the whole platform on the embedded runtime.

Runs `python -m sidecar.runner` on `dapr.yaml` (its copy in `.data/run/dapr.yaml`, every
port planned up front: `launcher.py`) as a child process and streams its output; once the
platform is ready (every app connected and subscribed, the management API answering:
`readiness.py`) it prints how to use it with `sagactl`, with commands that can be pasted
as they are. Ctrl-C or SIGTERM is forwarded to the runner (a second one makes it kill at
once), and the exit code is the runner's: 0 after a requested stop, 1 when a process died,
2 when the template cannot be run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from demo.launcher import Launcher, LaunchError, Options, add_platform_arguments
from sagactl.card_vault import DEFAULT_VAULT_URL
from services.contracts.names import AppId
from services.contracts.topology import GOOD_TEST_CARD

READY_BANNER = "The saga platform is ready"
_RULE = "=" * 78


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m demo.run",
        description="Run the saga platform of a Dapr Multi-App Run template on the embedded "
        "runtime and print how to use it once it is ready.",
    )
    add_platform_arguments(p, data_dir=Path(".data/run"))
    return p


def _shown(path: Path) -> str:
    """`path` relative to the current folder when it is inside it, else absolute."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(path)


def sagactl() -> str:
    """The CLI as the reader can run it: `.venv/bin/sagactl` from the repository root."""
    path = Path(sys.executable).parent / "sagactl"
    return _shown(path) if path.exists() else "sagactl"


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _skus(api_url: str, token: str | None) -> tuple[str, str]:
    """Two SKUs with stock, from the running inventory (its seed may be any catalogue)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        items: list[dict[str, Any]] = httpx.get(
            f"{api_url}/v1/inventory/stock", headers=headers, timeout=5
        ).json()["items"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        items = []
    skus = [str(item["sku"]) for item in items if int(item.get("available", 0)) >= 3]
    if not skus:
        return "SKU-001", "SKU-002"  # the inventory's default catalogue
    return skus[0], skus[1 % len(skus)]


def instructions(launcher: Launcher, suffix: str) -> str:
    """What to type to place an order, approve a large one and see its history."""
    api = launcher.api_url
    apps = ", ".join(launcher.app_ids)
    data_dir = _shown(launcher.data_dir)
    lines = [
        _RULE,
        f" {READY_BANNER}: {apps}",
        f" (each app with its own embedded sidecar; data in {data_dir}).",
    ]
    if api is None:
        lines += [" The template runs no management API, so sagactl has nothing to talk to.", _RULE]
        return "\n".join(lines)
    cli = sagactl()
    connection = ""
    if api != "http://127.0.0.1:8080":
        connection += f" --api-url {api}"
    env = launcher.app_env(AppId.ORCHESTRATOR)
    threshold = int(env.get("APPROVAL_THRESHOLD_CENTS") or 100_000)
    small_sku, big_sku = _skus(api, launcher.api_token)
    vault = launcher.vault_url
    card = f"--card {GOOD_TEST_CARD}" + (
        "" if vault == DEFAULT_VAULT_URL else f" --vault-url {vault}"
    )
    big_price = max(threshold // 2, 1)
    small, big = f"small-{suffix}", f"big-{suffix}"
    lines += [
        "",
        f" Management API  {api}",
        f" API docs        {api}/docs",
        f" Web console     {api}/ui/  (log in with CONSOLE_TOKEN below: operator and approver)",
        "",
        " In another terminal (--sku is SKU:QUANTITY:UNIT_PRICE_CENTS). Every call needs a",
        " token (12 h; docs/api.md): an operator's in SAGA_API_TOKEN, an approver's, a viewer's:",
        "",
        f"   export SAGA_API_TOKEN={launcher.token('demo-operator', ['operator'])}",
        f"   APPROVER_TOKEN={launcher.token('demo-approver', ['approver'])}",
        f"   VIEWER_TOKEN={launcher.token('demo-viewer', ['viewer'])}",
        f"   CONSOLE_TOKEN={launcher.token('demo-console', ['operator', 'approver'])}",
        "",
        "   # an order: reserve, charge, ship (the card goes to the payment service's card",
        f"   # vault at {vault}; the order carries the token it answers)",
        f"   {cli}{connection} orders place --order-id {small} --customer alice "
        f"--sku {small_sku}:2:1999 {card}",
        f"   {cli}{connection} workflow get order-{small}",
        "",
        f"   # an order above {_money(threshold)} waits for an approval",
        f"   {cli}{connection} orders place --order-id {big} --customer bob "
        f"--sku {big_sku}:3:{big_price} {card}",
        f"   {cli}{connection} approvals list",
        f"   {cli}{connection} approvals approve {big} --token $APPROVER_TOKEN",
        f"   {cli}{connection} workflow get order-{big}",
        f"   {cli}{connection} workflow history order-{big}",
        f"   {cli}{connection} workflow history order-{big} --mermaid",
        "   # its trace: the API call, the orchestrator's steps, the services' handlers",
        f"   {cli}{connection} workflow trace order-{big}",
        "",
        f"   {cli}{connection} inventory stock --token $VIEWER_TOKEN",
        f"   {cli}{connection} workflow list",
        "",
        "   # cancel an order: its saga compensates what it did, in reverse",
        f"   {cli}{connection} orders cancel ORDER_ID --reason 'customer asked'",
        f"   {cli}{connection} audit",
        f"   {cli}{connection} dead-letters list",
        "",
        " Ctrl-C stops the platform.",
        _RULE,
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        launcher = Launcher(Options.from_args(args, env={}), sys.stdout.buffer)
        launcher.prepare()
    except LaunchError as error:
        print(f"run: error: {error}", file=sys.stderr)
        return 2

    stopping = threading.Event()

    def forward(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        launcher.send_signal(signal.Signals(signum))

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    launcher.start()
    started = time.monotonic()
    if stopping.is_set():  # a signal came before there was a runner to forward it to
        launcher.send_signal(signal.SIGTERM)
    try:
        ready = launcher.wait_ready(args.ready_timeout, stopping.is_set)
    except LaunchError as error:
        launcher.announce(f"run: error: {error}; stopping")
        launcher.stop()
        return 1
    if ready and not stopping.is_set():
        seconds = time.monotonic() - started
        launcher.announce(
            f"run: ready in {seconds:.1f}s\n" + instructions(launcher, time.strftime("%H%M%S"))
        )
    return launcher.wait()


if __name__ == "__main__":
    sys.exit(main())
