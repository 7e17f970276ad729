"""`python -m sidecar.runner -f dapr.yaml` as a real process, with real sidecars and apps.

The apps are tiny scripts written by the tests. Every process the runner starts carries
the test's tmp_path on its command line, which is how the tests find them in /proc and
prove that none outlives the runner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.processes import free_port, wait_until

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


@dataclass
class Runner:
    """The runner process, with its merged stdout/stderr collected line by line."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, run_file: Path, *extra: str) -> Runner:
        return cls.reading(
            [sys.executable, "-m", "sidecar.runner", "-f", str(run_file), *extra], run_file.parent
        )

    @classmethod
    def reading(cls, argv: list[str], cwd: Path, close_after: str = "") -> Runner:
        """Starts `argv` (the runner, or a launcher that copies the runner's output); with
        `close_after`, the reading ends and the pipe's read end closes after that text."""
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
        runner = cls(process)
        runner.reader = threading.Thread(target=runner._read, args=(close_after,), daemon=True)
        runner.reader.start()
        return runner

    def _read(self, close_after: str) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            if close_after and close_after in self.lines[-1]:
                self.process.stdout.close()
                return

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        def seen() -> str | None:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is None and self.process.poll() is not None:
                raise AssertionError(f"runner exited before {text!r}:\n{self.output()}")
            return found

        try:
            return wait_until(seen, timeout=timeout, what=repr(text))
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{self.output()}") from None

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runner still running:\n{self.output()}") from None
        # The reader thread sees EOF once every writer of the pipe is gone.
        assert self.reader is not None
        self.reader.join(timeout=10)
        assert not self.reader.is_alive(), "something still holds the runner's stdout open"
        return code

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


def processes_mentioning(marker: str) -> dict[int, str]:
    """Live (non-zombie) processes whose command line contains `marker`."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found[int(entry.name)] = cmdline
    return found


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


def start(runners: list[Runner], run_file: Path) -> Runner:
    runner = Runner.start(run_file, "--grace-period", "10")
    runners.append(runner)
    return runner


def test_runs_both_apps_with_sidecars_and_stops_cleanly_on_sigterm(
    project: Path, runners: list[Runner]
) -> None:
    runner = start(runners, write_template(project))
    runner.wait_for("runner: all 2 apps are running")

    for app_id in ("orders", "shipping"):
        up = runner.wait_for(f"== APP == {app_id} | MARKER up")
        assert f"app={app_id} healthz=204 missing=[]" in up
        assert "greeting=hi token=s3cret" in up
        assert f"cwd={app_id}" in up
        assert runner.matching(f"== DAPR == {app_id} | ")
    assert len(runner.matching("warning: ignoring appHealthCheckPath")) == 1
    assert (project / ".data").is_dir()

    wait_all_started(project)

    runner.process.send_signal(signal.SIGTERM)
    assert runner.wait_exit() == 0, runner.output()
    for app_id in ("orders", "shipping"):
        assert runner.matching(f"== APP == {app_id} | MARKER stopping sidecar=204")
    assert runner.lines[-1] == "runner: stopped"
    assert processes_mentioning(str(project)) == {}


def test_an_app_exiting_with_an_error_stops_everything(
    project: Path, runners: list[Runner]
) -> None:
    runner = start(runners, write_template(project, shipping_env="EXIT_WITH: 3"))
    assert runner.wait_exit() == 1, runner.output()
    assert runner.matching("== APP == shipping | MARKER up")
    assert runner.matching("runner: error: app 'shipping' exited with code 3")
    assert processes_mentioning(str(project)) == {}


def test_a_dying_sidecar_stops_everything_and_is_named(
    project: Path, runners: list[Runner]
) -> None:
    runner = start(runners, write_template(project))
    runner.wait_for("runner: all 2 apps are running")
    (pid,) = [
        pid
        for pid, cmd in processes_mentioning(str(project)).items()
        if "-m sidecar " in cmd and "--app-id orders " in cmd
    ]
    os.kill(pid, signal.SIGKILL)
    assert runner.wait_exit() == 1, runner.output()
    assert runner.matching("runner: error: sidecar of app 'orders' was killed by SIGKILL")
    assert processes_mentioning(str(project)) == {}


def test_an_invalid_template_fails_before_starting_anything(
    project: Path, runners: list[Runner]
) -> None:
    run_file = project / "dapr.yaml"
    run_file.write_text(
        "version: 1\napps:\n  - appDirPath: ./orders\n  - appID: shipping\n    command: [x]\n"
    )
    runner = start(runners, project)  # a folder: its dapr.yaml is used
    assert runner.wait_exit() == 2
    assert "apps[1].appDirPath: required" in runner.output()
    assert processes_mentioning(str(project)) == {}
