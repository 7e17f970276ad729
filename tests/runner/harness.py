"""The runner's test project: two tiny apps (scripts written by the tests) run by a real
`python -m sidecar.runner`, and the fixtures that make and clean it up. Every process the
runner starts carries the project's path on its command line, which is how the tests find
them in /proc and prove that none outlives the runner.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import processes_mentioning
from testkit.runner import RunnerProcess

APP = '''
"""Checks what the runner gave it, then serves until SIGTERM."""
import os, signal, socket, subprocess, sys, urllib.request

def healthz():
    url = f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}/v1.0/healthz"
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.status

wanted = ("APP_ID", "DAPR_HTTP_PORT", "DAPR_GRPC_PORT", "GREETING", "DAPR_API_TOKEN")
missing = [name for name in wanted if not os.environ.get(name)]
socket.create_connection(("127.0.0.1", int(os.environ["DAPR_GRPC_PORT"])), timeout=5).close()
print(
    f"MARKER up app={os.environ['APP_ID']} healthz={healthz()} missing={missing}"
    f" greeting={os.environ['GREETING']} token={os.environ['DAPR_API_TOKEN']}"
    f" cwd={os.path.basename(os.getcwd())}"
)
if os.environ.get("EXIT_WITH"):
    sys.exit(int(os.environ["EXIT_WITH"]))
# A grandchild: stopping the app must stop it too.
helper = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()", __file__])
if os.environ.get("APP_PORT"):
    server = socket.create_server(("127.0.0.1", int(os.environ["APP_PORT"])))

def stop(*_):
    helper.terminate()  # for a runner killed with SIGKILL, which cannot stop the group
    # Apps are stopped before sidecars: the sidecar still answers here.
    print(f"MARKER stopping sidecar={healthz()}", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
while True:
    signal.pause()
'''


def wait_all_started(project: Path) -> None:
    """Polls until both sidecars, both apps and the apps' helpers run (an app prints its
    marker before it spawns its helper: a snapshot could miss one)."""

    def all_started() -> bool:
        started = processes_mentioning(str(project))
        sidecars = [cmd for cmd in started.values() if "-m sidecar " in cmd]
        helpers = [cmd for cmd in started.values() if "signal.pause()" in cmd]
        apps = [cmd for cmd in started.values() if cmd.endswith("app.py ") and cmd not in helpers]
        return (len(sidecars), len(apps), len(helpers)) == (2, 2, 2)

    wait_until(all_started, timeout=10, what="2 sidecars, 2 apps and the apps' 2 helpers")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    for name in ("orders", "shipping"):
        (tmp_path / name).mkdir()
    (tmp_path / "app.py").write_text(APP)
    yield tmp_path
    for pid in processes_mentioning(str(tmp_path)):  # only after a failed test
        os.kill(pid, signal.SIGKILL)


def write_template(project: Path, shipping_env: str = "") -> Path:
    run_file = project / "dapr.yaml"
    run_file.write_text(
        f"""
version: 1
common:
  env:
    GREETING: hi
    DAPR_API_TOKEN: s3cret
  appHealthCheckPath: /healthz
apps:
  - appID: orders
    appDirPath: ./orders
    appPort: {free_port()}
    appProtocol: grpc
    appHealthCheckPath: /healthz
    command: ["{sys.executable}", "{project / "app.py"}"]
  - appID: shipping
    appDirPath: ./shipping
    env: {{{shipping_env}}}
    command: ["{sys.executable}", "{project / "app.py"}"]
"""
    )
    return run_file


def start(runners: list[RunnerProcess], run_file: Path) -> RunnerProcess:
    runner = RunnerProcess.start(run_file, "--grace-period", "10")
    runners.append(runner)
    return runner


@pytest.fixture
def runners() -> Iterator[list[RunnerProcess]]:
    started: list[RunnerProcess] = []
    yield started
    for runner in started:
        if runner.process.poll() is None:
            runner.process.kill()
            runner.process.wait(timeout=10)
