"""`python -m sidecar.runner -f dapr.yaml` as a real process, with real sidecars and apps
(the project of `tests/runner/harness.py`)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from testkit.process import processes_mentioning
from testkit.runner import RunnerProcess
from tests.runner.harness import start, wait_all_started, write_template


def test_runs_both_apps_with_sidecars_and_stops_cleanly_on_sigterm(
    project: Path, runners: list[RunnerProcess]
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
    project: Path, runners: list[RunnerProcess]
) -> None:
    runner = start(runners, write_template(project, shipping_env="EXIT_WITH: 3"))
    assert runner.wait_exit() == 1, runner.output()
    assert runner.matching("== APP == shipping | MARKER up")
    assert runner.matching("runner: error: app 'shipping' exited with code 3")
    assert processes_mentioning(str(project)) == {}


def test_a_dying_sidecar_stops_everything_and_is_named(
    project: Path, runners: list[RunnerProcess]
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
    project: Path, runners: list[RunnerProcess]
) -> None:
    run_file = project / "dapr.yaml"
    run_file.write_text(
        "version: 1\napps:\n  - appDirPath: ./orders\n  - appID: shipping\n    command: [x]\n"
    )
    runner = start(runners, project)  # a folder: its dapr.yaml is used
    assert runner.wait_exit() == 2
    assert "apps[1].appDirPath: required" in runner.output()
    assert processes_mentioning(str(project)) == {}
