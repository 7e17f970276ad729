"""`python -m sidecar.runner [-f dapr.yaml]`: Dapr's Multi-App Run on embedded sidecars;
`python -m sidecar.runner --app-id X [--app-port P] -- CMD...`: one app, as `dapr run`
(`single`).

Exit codes: 0 after Ctrl-C/SIGTERM/SIGHUP (or an app finishing with 0), 1 when a process
died or did not come up, or the runner's parent died, 2 when the template cannot be run
(nothing was started).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from sidecar.runner import plan, single
from sidecar.runner.daprd import Daprd
from sidecar.runner.output import Sink
from sidecar.runner.supervisor import Supervisor, Timeouts
from sidecar.runner.template import TemplateError, load

DEFAULT_FILE = "dapr.yaml"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sidecar.runner",
        description="Run every app of a Dapr Multi-App Run template, each with its own "
        "embedded sidecar (like `dapr run -f`), or one app with --app-id (like `dapr run`).",
    )
    p.add_argument(
        "-f",
        "--run-file",
        default=None,
        type=Path,
        help=f"the template, or a folder holding {DEFAULT_FILE} (default: the current folder)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the sidecars keep their SQLite files (default: .data next to the "
        "template; for one app, ~/.dapr-embedded/data, shared by all single-app runs)",
    )
    p.add_argument(
        "--runtime",
        choices=("embedded", "daprd"),
        default="embedded",
        help="the sidecar under each app: the embedded one (default), or daprd started with "
        "the flags `dapr run -f` gives it (placement, scheduler and the components' backends "
        "must already run, as after `dapr init`)",
    )
    p.add_argument(
        "--daprd",
        default="daprd",
        help="the daprd binary for --runtime daprd (default: daprd on PATH)",
    )
    p.add_argument(
        "--sidecar-timeout",
        type=float,
        default=30.0,
        help="seconds for a sidecar to answer on its ports (default: 30)",
    )
    p.add_argument(
        "--app-timeout",
        type=float,
        default=60.0,
        help="seconds for an app with an appPort to accept connections (default: 60)",
    )
    p.add_argument(
        "--grace-period",
        type=float,
        default=10.0,
        help="seconds processes get to exit after SIGTERM before SIGKILL (default: 10)",
    )
    single.add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()  # first: a launcher dying from here on is noticed
    args = parser().parse_args(argv)
    sink = Sink()
    run_file: Path = args.run_file or Path(".")
    if run_file.is_dir():
        run_file = run_file / DEFAULT_FILE
    try:
        if single.is_single(args):
            if args.run_file is not None:
                raise TemplateError("-f runs a template: give it or --app-id, not both")
            template, default_data = single.template(args, Path.cwd(), os.environ, args.runtime)
        else:
            template, default_data = load(run_file), None
        for warning in template.warnings_for(args.runtime):
            sink.notice(f"warning: {warning}")
        data_dir = (args.data_dir or default_data or template.base_dir / ".data").resolve()
        daprd = Daprd(args.daprd) if args.runtime == "daprd" else None
        launches = plan.build(template, data_dir=data_dir, environ=os.environ, daprd=daprd)
    except TemplateError as error:
        where = "dapr run" if single.is_single(args) else str(run_file)
        sink.notice(f"{where}: {error}")
        return 2
    data_dir.mkdir(parents=True, exist_ok=True)
    timeouts = Timeouts(
        sidecar_ready=args.sidecar_timeout, app_ready=args.app_timeout, grace=args.grace_period
    )
    return asyncio.run(Supervisor(launches, timeouts, sink, parent).run())


if __name__ == "__main__":
    sys.exit(main())
