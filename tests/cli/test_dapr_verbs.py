"""What the flags `sagactl workflow` shares with `dapr workflow` do, run as a user runs them
against the API and the embedded sidecar: list formats and filters, scheduled runs, rerun,
every kind of purge, dapr's short flags, the flags that cannot apply (refused, never
ignored), --watch, and -k through kubectl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dapr.ext.workflow as wf

from sagactl.exit_codes import ExitCode
from testkit.polling import wait_until
from tests.api.harness import ROOT, TEST_TOKEN_VARIABLE, finished, order
from tests.cli.helpers import as_json, ok, sagactl, sagas


def ids(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(ok(result).split())


def status(url: str, instance_id: str) -> str:
    return str(as_json(sagactl(url, "wf", "get", instance_id, "-o", "json"))["status"])


def test_list_has_dapr_s_outputs_and_filters(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    sagas(served_api, client, failed=["l-1"], waiting=["l-2"])

    wide = ok(sagactl(served_api, "wf", "ls", "-o", "wide")).splitlines()
    short = ok(sagactl(served_api, "workflow", "list", "-o", "short"))
    failed = sagactl(
        served_api, "workflow", "list", "-s", "FAILED", "-w", "order_saga", "-o", "ids"
    )
    recent = sagactl(served_api, "workflow", "list", "-m", "1h", "-o", "ids")
    future = sagactl(served_api, "workflow", "list", "-m", "2999-01-01T00:00:00Z")
    bad_age = sagactl(served_api, "workflow", "list", "--filter-max-age", "30d")

    assert wide[0].split()[-4:] == ["CUSTOM", "STATUS", "FAILURE", "MESSAGE"]
    assert "card declined for l-1" in next(line for line in wide if "order-l-1" in line)
    assert short == ok(sagactl(served_api, "workflow", "list"))
    assert ids(failed) == {"order-l-1"}
    assert ids(recent) == {"order-l-1", "order-l-2"}
    assert ok(future) == ""
    assert future.stderr.strip() == "No resources found."
    assert bad_age.returncode == ExitCode.USAGE
    assert "--filter-max-age '30d'" in bad_age.stderr


def test_a_run_with_a_start_time_waits_and_short_flags_name_it(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    data = json.dumps(order("s-1"))
    later = sagactl(served_api, "wf", "run", "order_saga", "-x", data, "-i", "sch-1", "-s", "1h")
    soon = sagactl(
        served_api, "wf", "run", "order_saga", "--input", json.dumps(order("s-2")), "-s", "1s"
    )

    assert ok(later).startswith("Workflow 'order_saga' started with instance ID: sch-1 (sched")
    assert status(served_api, "sch-1") == "PENDING"
    ok(soon)
    assert finished(client, "order-s-2").runtime_status == wf.WorkflowStatus.COMPLETED
    bad = sagactl(served_api, "wf", "run", "order_saga", "-x", data, "--start-time", "soon")
    assert bad.returncode == ExitCode.USAGE


def test_rerun_from_the_beginning_or_from_an_event_with_a_new_input(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    sagas(served_api, client, completed=["r-1"], waiting=["r-2"])
    history = as_json(sagactl(served_api, "wf", "history", "order-r-1", "-o", "json"))
    [activity] = [event for event in history if event["kind"] == "TaskScheduled"]

    again = sagactl(served_api, "wf", "rerun", "order-r-1", "--new-instance-id", "rr-1")
    changed = sagactl(
        served_api,
        "wf",
        "rerun",
        "order-r-1",
        "-e",
        str(activity["eventId"]),
        "-x",
        '"zz"',
        "--new-instance-id",
        "rr-2",
    )
    running = sagactl(served_api, "wf", "rerun", "order-r-2")

    assert ok(again) == "Workflow 'order-r-1' rerun from the beginning with instance ID: rr-1\n"
    assert "rerun from event" in ok(changed)
    finished(client, "rr-1")
    finished(client, "rr-2")
    rerun_output = as_json(sagactl(served_api, "wf", "get", "rr-2", "-o", "json"))["output"]
    assert rerun_output["reservationId"] == "res-zz"
    assert running.returncode == ExitCode.CONFLICT
    assert "WORKFLOW_NOT_TERMINAL" in running.stderr


def test_purge_all_by_age_and_status_and_forced(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    sagas(served_api, client, completed=["p-1"], failed=["p-2"], waiting=["p-3", "p-4"])

    failed = sagactl(
        served_api, "wf", "purge", "--all-older-than", "0s", "--all-filter-status", "FAILED"
    )
    not_forced = sagactl(
        served_api, "wf", "purge", "--all-older-than", "0s", "--all-filter-status", "RUNNING"
    )
    forced_one = sagactl(served_api, "wf", "purge", "order-p-3", "--force")
    forced_status = sagactl(
        served_api,
        "wf",
        "purge",
        "--all-older-than",
        "2999-01-01",
        "--all-filter-status",
        "RUNNING",
        "--force",
    )
    rest = sagactl(served_api, "wf", "purge", "--all", "-o", "json")

    assert ok(failed) == "Purged 1 workflow(s): order-p-2\n"
    assert not_forced.returncode == ExitCode.USAGE
    assert "force" in not_forced.stderr
    assert ok(forced_one) == "Purged 1 workflow(s): order-p-3\n"
    assert ok(forced_status) == "Purged 1 workflow(s): order-p-4\n"
    assert as_json(rest) == {"purged": 1, "instanceIds": ["order-p-1"]}
    for refused in (
        ["order-p-1", "--all"],
        ["--all", "--all-older-than", "1h"],
        ["--all-filter-status", "FAILED"],
        ["--all", "--all-filter-status", "FAILED"],
    ):
        assert sagactl(served_api, "wf", "purge", *refused).returncode == ExitCode.USAGE, refused


def test_suspend_resume_terminate_and_raise_event_take_dapr_s_short_flags(
    served_api: str, client: wf.DaprWorkflowClient
) -> None:
    sagas(served_api, client, waiting=["f-1", "f-2"])

    ok(sagactl(served_api, "wf", "suspend", "order-f-1", "-r", "night"))
    wait_until(lambda: status(served_api, "order-f-1") == "SUSPENDED")
    ok(sagactl(served_api, "wf", "resume", "order-f-1", "-r", "day"))
    ok(sagactl(served_api, "wf", "raise-event", "order-f-1/finish", "-x", "{}"))
    # -o is the run's output, as in dapr; the format is --format (or -o before the verb).
    ok(sagactl(served_api, "wf", "terminate", "order-f-2", "-o", '{"by": "ops"}'))

    assert finished(client, "order-f-1").runtime_status == wf.WorkflowStatus.COMPLETED
    assert finished(client, "order-f-2").runtime_status == wf.WorkflowStatus.TERMINATED
    run = as_json(sagactl(served_api, "-o", "json", "wf", "get", "order-f-2"))
    assert run["output"] == {"by": "ops"}
    history = ok(sagactl(served_api, "wf", "history", "order-f-1", "-o", "wide"))
    assert '{"reason":"night"}' in history
    assert '{"reason":"day"}' in history


def test_dapr_flags_that_cannot_apply_are_refused_with_a_reason(served_api: str) -> None:
    assert ok(sagactl(served_api, "wf", "list", "-a", "orchestrator")) == ""
    refusals = {
        "'inventory': sagactl manages the workflows of 'orchestrator' only": [
            "wf",
            "-a",
            "inventory",
            "list",
        ],
        "-n/--namespace applies with -k/--kubernetes only": ["wf", "list", "-n", "saga"],
        "give --api-url or -k/--kubernetes, not both": [
            "--api-url",
            served_api,
            "wf",
            "list",
            "-k",
        ],
        "--connection-string: sagactl reads workflows through the management API": [
            "wf",
            "list",
            "-c",
            "postgres://x",
        ],
        "--table-name: sagactl reads workflows": ["wf", "purge", "--all", "-t", "state"],
        "--scheduler-namespace: sagactl purges through the management API": [
            "wf",
            "purge",
            "--all",
            "--scheduler-namespace",
            "dapr-system",
        ],
    }
    for reason, line in refusals.items():
        result = sagactl(served_api, *line)
        assert result.returncode == ExitCode.USAGE, line
        assert reason in result.stderr, (line, result.stderr)
        assert result.stdout == ""


def test_watch_lists_again_until_ctrl_c(served_api: str, client: wf.DaprWorkflowClient) -> None:
    sagas(served_api, client, waiting=["w-1"])
    watch = ["wf", "list", "--watch", "--watch-interval", "0.2"]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "sagactl", "--api-url", served_api, *watch],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SAGA_API_TOKEN": os.environ[TEST_TOKEN_VARIABLE]},
    )
    assert watcher.stdout is not None
    headers = 0
    while headers < 3:
        line = watcher.stdout.readline()
        assert line, "the watch ended by itself"
        headers += line.startswith("INSTANCE ID")
    watcher.send_signal(signal.SIGINT)

    # Both pipes are read to their end: a watcher blocked on a full pipe would never exit.
    _, errors = watcher.communicate(timeout=30)
    assert watcher.returncode == ExitCode.OK
    assert errors == ""


FAKE_KUBECTL = """\
#!{python}
# Answers as kubectl would for a cluster holding the platform in namespace `saga`, its
# orchestrator Service forwarded to the test's API.
import sys, time
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
namespace = sys.argv[sys.argv.index("--namespace") + 1]
if sys.argv[1] == "get":
    if namespace == "saga":
        print("service/saga-platform-orchestrator")
elif sys.argv[1] == "port-forward":
    print("Forwarding from 127.0.0.1:{port} -> 8080", flush=True)
    time.sleep(60)
"""


def test_kubernetes_mode_port_forwards_to_the_orchestrator_service(
    served_api: str, client: wf.DaprWorkflowClient, tmp_path: Path
) -> None:
    sagas(served_api, client, completed=["k-1"])
    log = tmp_path / "kubectl.log"
    kubectl = tmp_path / "bin" / "kubectl"
    kubectl.parent.mkdir()
    port = served_api.rsplit(":", 1)[1]
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable, log=str(log), port=port))
    kubectl.chmod(0o755)
    path = {"PATH": f"{kubectl.parent}:/usr/bin:/bin"}
    nowhere = "http://127.0.0.1:9"  # SAGA_API_URL: -k does not use it

    runs = as_json(sagactl(nowhere, "wf", "list", "-k", "-n", "saga", "-o", "json", extra_env=path))
    missing = sagactl(nowhere, "-k", "workflow", "list", extra_env=path)

    assert [run["instanceId"] for run in runs] == ["order-k-1"]
    calls = log.read_text().splitlines()
    assert calls[0].startswith("get services --namespace saga --selector ")
    assert "app.kubernetes.io/component=orchestrator" in calls[0]
    assert calls[1] == (
        "port-forward --namespace saga --address 127.0.0.1 "
        "service/saga-platform-orchestrator :http-api"
    )
    assert missing.returncode == ExitCode.CANNOT_CONNECT
    assert "in namespace 'default', found 0" in missing.stderr
