"""The demo's order generator: places a mix of orders (`scenarios.py`, `orders.py`) through
the management API at a steady rate, decides the approvals (`publishing.py`), follows every
saga to its end (`tracking.py`) and checks the result (`summary.py`). The orders pay with
tokens: the test cards go to the payment service's card vault first, as a shop's checkout
sends them, and never to the management API.

`python -m demo.generator --api-url URL --vault-url URL` runs it against a platform that
is already running (`make run`); `python -m demo` (`make demo`) starts one first.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from demo.orders import DemoError, build_orders
from demo.outcomes import judge
from demo.publishing import decide_approvals, place
from demo.stock import read_stock
from demo.summary import Summary, report, stock_problems, stock_reports
from demo.tracking import Progress, Tracked, View, follow
from demo.view import make_view
from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi
from sagactl.card_vault import DEFAULT_VAULT_URL, SavedCards


@dataclass(frozen=True)
class Settings:
    orders: int = 30
    rate: float = 3.0  # orders placed per second
    approval_delay: float = 3.0  # seconds a "person" takes to decide
    deadline: float = 120.0  # seconds after the last order for every saga to end
    approval_threshold_cents: int = 100_000
    payment_limit_cents: int = 500_000
    seed: int | None = None
    tick: float = 0.4


def run_demo(
    api: SagaApi,
    settings: Settings,
    *,
    api_url: str,
    vault_url: str = DEFAULT_VAULT_URL,
    run_id: str | None = None,
    view: View | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> Summary:
    """Places the orders, decides the approvals, follows the sagas, and checks the end.
    The view is closed however the run ends, so a terminal gets its cursor back."""
    view = view or View()
    run_id = run_id or f"demo-{time.strftime('%H%M%S')}"
    before = read_stock(api)
    orders = build_orders(
        settings.orders,
        run_id,
        before,
        tokenize=SavedCards(vault_url).token,
        approval_threshold_cents=settings.approval_threshold_cents,
        payment_limit_cents=settings.payment_limit_cents,
        seed=settings.seed,
    )
    interval = 1.0 / settings.rate if settings.rate > 0 else 0.0
    progress = Progress(
        run_id,
        api_url,
        time.monotonic(),
        [Tracked(demo, due=i * interval) for i, demo in enumerate(orders)],
    )
    deadline: float | None = None
    last_placed = 0.0
    try:
        while True:
            if not alive():
                raise DemoError("the platform stopped")
            now = progress.elapsed
            for item in progress.tracked:
                if item.placed_at is None and item.due <= now:
                    place(api, item)
                    item.placed_at = last_placed = progress.elapsed
                    item.stage = "queued"
            if all(item.placed_at is not None for item in progress.tracked) and deadline is None:
                deadline = last_placed + settings.deadline
            decide_approvals(api, progress, settings.approval_delay, view)
            follow(api, progress, view)
            view.update(progress)
            if deadline is not None and all(item.terminal for item in progress.tracked):
                break
            if deadline is not None and progress.elapsed > deadline:
                view.event(
                    progress, f"deadline: {settings.deadline:g}s after the last order passed"
                )
                break
            _pause(progress, settings.tick)
    finally:
        view.close(progress)
    finished = progress.elapsed
    reports = [judge(item.demo, item.run) for item in progress.tracked]
    stock = stock_reports(before, read_stock(api), reports, orders)
    return Summary(
        run_id=run_id,
        orders=reports,
        stock=stock,
        stock_problems=stock_problems(stock, all_ended=all(i.terminal for i in progress.tracked)),
        seconds=finished,
        placing_seconds=last_placed,
    )


def _pause(progress: Progress, tick: float) -> None:
    """Sleeps until the next multiple of `tick` since the start: a steady pace of polling
    rounds, however long a round took."""
    time.sleep(max(0.0, tick - (progress.elapsed % tick)))


# --- command line -----------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The generator's options, shared by `python -m demo` and `python -m demo.generator`."""
    p.add_argument("--orders", type=int, default=Settings.orders, help="how many (default 30)")
    p.add_argument(
        "--rate", type=float, default=Settings.rate, help="orders per second (default 3)"
    )
    p.add_argument(
        "--approval-delay",
        type=float,
        default=Settings.approval_delay,
        help="seconds before the generator decides a pending approval (default 3)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=Settings.deadline,
        help="seconds after the last order for every saga to end (default 120)",
    )
    p.add_argument("--seed", type=int, default=None, help="a fixed mix and order contents")
    p.add_argument(
        "--view",
        choices=("auto", "live", "plain"),
        default="auto",
        help="live: a table redrawn in place (auto: when stdout is a terminal); plain: lines",
    )
    p.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")


def settings_from(args: argparse.Namespace, threshold: int, limit: int) -> Settings:
    return Settings(
        orders=args.orders,
        rate=args.rate,
        approval_delay=args.approval_delay,
        deadline=args.deadline,
        approval_threshold_cents=threshold,
        payment_limit_cents=limit,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m demo.generator",
        description="Place a mix of orders on a running platform, follow the sagas, check.",
    )
    p.add_argument("--api-url", default="http://127.0.0.1:8080")
    p.add_argument("--vault-url", default=DEFAULT_VAULT_URL, help="the payment card vault")
    p.add_argument("--token", default=None)
    p.add_argument("--approval-threshold-cents", type=int, default=100_000)
    p.add_argument("--payment-limit-cents", type=int, default=500_000)
    add_arguments(p)
    args = p.parse_args(argv)
    settings = settings_from(args, args.approval_threshold_cents, args.payment_limit_cents)
    with SagaApi(args.api_url, args.token, timeout=10) as api:
        try:
            summary = run_demo(
                api,
                settings,
                api_url=args.api_url,
                vault_url=args.vault_url,
                view=make_view(args.view),
            )
        except (DemoError, CannotConnect, ApiCallFailed) as error:
            print(f"generator: error: {error}", file=sys.stderr)
            return 1
    return report(summary, args.summary_json)


if __name__ == "__main__":
    sys.exit(main())
