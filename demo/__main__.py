"""`python -m demo` (`make demo`): the platform plus the order generator.

Starts the platform of `dapr.yaml` as `make run` does (the runner, the same readiness
check), with short demo settings for the apps (`DEMO_ENV`) and its output in
`<data-dir>/platform.log`; then places a mix of orders (`generator.py`), shows their
progress live, prints the summary, and stops the platform. Exit code 0 when every saga
ended as its kind says and stock was conserved; 1 when a saga was stuck past the
deadline, an outcome or the stock was wrong, or the platform failed; 130 on Ctrl-C.

While it runs, the management API answers as under `make run`, so `sagactl` can look at
the same sagas from another terminal.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from demo.generator import add_arguments, run_demo, settings_from
from demo.launcher import Launcher, LaunchError, Options, add_platform_arguments
from demo.orders import DemoError
from demo.summary import report
from demo.view import make_view
from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi

# Demo-sized settings (docs/workflows.md, docs/services.md): a saga step that got no reply
# gives up after 10 s rather than 30 s, an approval nobody decides expires after a minute.
DEMO_ENV = {
    "APPROVAL_THRESHOLD_CENTS": "100000",
    "STEP_TIMEOUT_SECONDS": "10",
    "APPROVAL_TIMEOUT_SECONDS": "60",
    "APPROVAL_REMINDER_SECONDS": "0",
    "COMPENSATION_ATTEMPTS": "3",
    "COMPENSATION_TIMEOUT_SECONDS": "5",
    "PAYMENT_LIMIT_CENTS": "500000",
    "SHIPPING_COUNTRIES": "US,CA,GB,DE,FR,NL",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m demo",
        description="Run the platform with an order generator and a live view, check the "
        "result, stop.",
    )
    add_platform_arguments(p, data_dir=Path(".data/demo"))
    add_arguments(p)
    return p


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "platform.log"
    with log_path.open("ab") as log:
        try:
            launcher = Launcher(Options.from_args(args, env=DEMO_ENV), log)
            launcher.prepare()
        except LaunchError as error:
            print(f"demo: error: {error}", file=sys.stderr)
            return 2
        signal.signal(signal.SIGTERM, _interrupt)
        return _run(args, launcher, log_path)


def _run(args: argparse.Namespace, launcher: Launcher, log_path: Path) -> int:
    settings = settings_from(
        args,
        int(DEMO_ENV["APPROVAL_THRESHOLD_CENTS"]),
        int(DEMO_ENV["PAYMENT_LIMIT_CENTS"]),
    )
    code = 1
    started = time.monotonic()
    try:
        say(f"starting the platform ({', '.join(launcher.app_ids)}); its output: {log_path}")
        launcher.start()
        if not launcher.wait_ready(args.ready_timeout):
            raise LaunchError(f"the runner exited with code {launcher.returncode}")
        url = launcher.api_url
        if url is None:
            raise LaunchError("the template runs no management API")
        say(
            f"ready in {time.monotonic() - started:.1f}s; management API {url} "
            f"(sagactl works against it while the demo runs)"
        )
        say(
            f"placing {settings.orders} orders, {settings.rate:g} a second; approvals are "
            f"decided {settings.approval_delay:g}s after they are requested"
        )
        with SagaApi(url, launcher.api_token, timeout=10) as api:
            summary = run_demo(
                api,
                settings,
                api_url=url,
                vault_url=launcher.vault_url,
                view=make_view(args.view),
                alive=lambda: launcher.running,
            )
        print()
        code = report(summary, args.summary_json)
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    except (LaunchError, DemoError, CannotConnect, ApiCallFailed) as error:
        print(f"demo: error: {error}", file=sys.stderr)
        tail = launcher.tail()[-20:]
        if tail:
            print(f"demo: the platform's last lines ({log_path}):", file=sys.stderr)
            print("\n".join(f"  {line}" for line in tail), file=sys.stderr)
        code = 1
    finally:
        # Another Ctrl-C or SIGTERM while stopping makes the runner kill at once.
        def hurry(signum: int, frame: FrameType | None) -> None:
            launcher.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, hurry)
        signal.signal(signal.SIGTERM, hurry)
        if launcher.pid is not None:
            say("stopping the platform")
            stopped = launcher.stop()
            say(f"platform stopped (runner exit code {stopped})")
            if code == 0 and stopped != 0:
                code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
