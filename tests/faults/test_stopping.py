"""The runner stops, and stops everything it started, whatever happened to its parent
or to its output pipe.

Reported: once the `make run` launcher was killed with SIGKILL, the runner it had started
kept all its processes up, and then ignored SIGTERM and SIGINT. Each test starts the
runner on two small apps (tests/runner/harness.py) and proves, by polling /proc for
the test's folder on command lines, that no process is left.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from testkit.polling import wait_until
from testkit.process import processes_mentioning
from testkit.runner import RunnerProcess
from tests.runner.harness import wait_all_started, write_template

# What the `make run` launcher (demo/launcher.py) does: the runner in a session of its
# own, its stdout and stderr one pipe that the launcher reads and copies to its stdout.
LAUNCHER = """
import subprocess, sys
runner = subprocess.Popen(
    sys.argv[1:],
    stdin=subprocess.DEVNULL,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    start_new_session=True,
)
for line in runner.stdout:
    sys.stdout.buffer.write(line)
    sys.stdout.flush()
"""

ALL_UP = "runner: all 2 apps are running"
# Generous: stopping takes about a second; the rest is room for a loaded host.
GONE_WITHIN = 20.0


def wait_all_gone(project: Path) -> None:
    def gone() -> bool:
        return not processes_mentioning(str(project))

    try:
        wait_until(gone, timeout=GONE_WITHIN, what="every process of the run to exit")
    except TimeoutError:
        left = "\n".join(processes_mentioning(str(project)).values())
        raise AssertionError(f"still running after {GONE_WITHIN}s:\n{left}") from None


def test_an_orphaned_runner_stops_everything(project: Path, runners: list[RunnerProcess]) -> None:
    """`kill -9` of the launcher: the runner notices and stops its apps and sidecars."""
    (project / "launcher.py").write_text(LAUNCHER)
    launcher = _all_up(runners, project, [sys.executable, "launcher.py", *_runner(project)])
    _kill_and_wait_all_gone(launcher, project)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_runner_whose_output_reader_is_gone(
    project: Path, runners: list[RunnerProcess], sig: signal.Signals
) -> None:
    """The first write after the reader went (the runner's own "received SIGTERM") fails
    with EPIPE; the runner must stop all the same."""
    runner = _all_up(runners, project, _runner(project), close_after=ALL_UP)
    runner.process.send_signal(sig)
    wait_all_gone(project)
    assert runner.process.wait(timeout=GONE_WITHIN) == 0


def test_a_killed_runner_takes_its_processes_along(
    project: Path, runners: list[RunnerProcess]
) -> None:
    """SIGKILL leaves the runner no time: its apps and sidecars get SIGTERM from the kernel
    (parent-death signal) and stop themselves; the test apps stop their helpers."""
    _kill_and_wait_all_gone(_all_up(runners, project, _runner(project)), project)


def _runner(project: Path) -> list[str]:
    run_file = write_template(project)
    return [sys.executable, "-m", "sidecar.runner", "-f", str(run_file), "--grace-period", "5"]


def _all_up(
    runners: list[RunnerProcess], project: Path, argv: list[str], close_after: str = ""
) -> RunnerProcess:
    """Starts `argv` and returns once every process of the run is up; with `close_after`
    the pipe's read end closes after that line (whatever read it died)."""
    started = RunnerProcess.reading(argv, project, close_after)
    runners.append(started)
    started.wait_for(ALL_UP)
    wait_all_started(project)
    return started


def _kill_and_wait_all_gone(process: RunnerProcess, project: Path) -> None:
    process.process.send_signal(signal.SIGKILL)
    process.process.wait(timeout=10)
    wait_all_gone(project)
