"""The runtime under each app of a `testkit.platform.Platform`, chosen by `E2E_RUNTIME`.

A `Runtime` plans the platform's processes from its own run file with the runner's planner
(`sidecar.runner.plan`), builds each app's sidecar process and starts and stops whatever
the sidecars share. The apps, the observer and every assertion only see Dapr's APIs, so
they do not care which runtime runs: `embedded` (the project's sidecar, `dapr.yaml`, the
default) or `daprd` (Dapr's own, `dapr.daprd.yaml`, `testkit.daprd`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from sidecar.runner import plan as planner
from sidecar.runner.plan import Launch
from sidecar.runner.template import Template
from testkit.daprd import DaprdRuntime
from testkit.process import ROOT, ManagedProcess
from testkit.sidecar import sidecar_ready

RUNTIME_VARIABLE = "E2E_RUNTIME"


class Runtime(Protocol):
    """What runs under each app: a Dapr sidecar per app, plus whatever the sidecars share.

    `plan` turns the runtime's run file (`template`, as the platform adapted it: free app
    ports, test settings, the observer) into launches; each launch's app id, `host`,
    `grpc_port`, `http_port` and `app_port` are what its sidecar serves on (the app is told
    them). The process `sidecar` returns is not started; its `ready` says when it serves.
    """

    name: str
    template: Path

    def version(self) -> str:
        """What runs, with its version, for a test run's header and summary."""

    def start(self, root: Path) -> None:
        """Starts what the sidecars share (none for the embedded sidecar; placement,
        scheduler and Redis for daprd), with its files under `root`; before `plan`."""

    def plan(self, template: Template, **settings: Any) -> list[Launch]:
        """The launches of `template`; `settings` are `plan.build`'s keyword arguments."""

    def sidecar(self, launch: Launch, log_path: Path) -> ManagedProcess:
        """The sidecar of `launch.app_id`, not started."""

    def close(self) -> None:
        """Stops what `start` started, after every sidecar stopped."""


class EmbeddedRuntime:
    """`python -m sidecar` per app, exactly the command line `make run` starts."""

    name = "embedded"
    template = ROOT / "dapr.yaml"

    def version(self) -> str:
        return "the project's sidecar, python -m sidecar"

    def start(self, root: Path) -> None:
        """Nothing is shared but the data folder the planner names."""

    def plan(self, template: Template, **settings: Any) -> list[Launch]:
        return planner.build(template, **settings)

    def sidecar(self, launch: Launch, log_path: Path) -> ManagedProcess:
        return ManagedProcess(
            f"sidecar of '{launch.app_id}'",
            launch.sidecar_argv,
            log_path,
            env=launch.sidecar_env,
            cwd=launch.cwd,
            ready=lambda: sidecar_ready(launch.host, launch.grpc_port, launch.http_port),
        )

    def close(self) -> None:
        """Nothing to stop."""


# The runtimes `E2E_RUNTIME` may name.
RUNTIMES: Mapping[str, Callable[[], Runtime]] = {
    EmbeddedRuntime.name: EmbeddedRuntime,
    DaprdRuntime.name: DaprdRuntime,
}


def runtime_name(environ: Mapping[str, str] = os.environ) -> str:
    """The runtime `E2E_RUNTIME` names (`embedded` when unset), checked."""
    name = environ.get(RUNTIME_VARIABLE) or EmbeddedRuntime.name
    if name not in RUNTIMES:
        raise ValueError(f"{RUNTIME_VARIABLE}={name}: not one of {sorted(RUNTIMES)}")
    return name


def runtime_from_environment(environ: Mapping[str, str] = os.environ) -> Runtime:
    """A new runtime of the kind `E2E_RUNTIME` names."""
    return RUNTIMES[runtime_name(environ)]()
