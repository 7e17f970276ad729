"""`python -m sidecar.runner --app-id X --app-port P -- python app.py`: one app, as `dapr run`
starts it. The sidecar gets `dapr init`'s default components, written on first use into the
per-user folder (`DAPR_EMBEDDED_HOME` here), whose data folder every single-app run shares:
a second run finds the first app for service invocation.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest

from testkit.ports import free_port
from testkit.runner import RunnerProcess

APP = """
import http.server, os

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        found = self.path == "/hello"
        body = f"hello from {os.environ['APP_ID']}".encode() if found else b""
        self.send_response(200 if found else 404)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Hello).serve_forever()
"""


def dapr_run(runners: list[RunnerProcess], cwd: Path, *args: str) -> RunnerProcess:
    runner = RunnerProcess.reading([sys.executable, "-m", "sidecar.runner", *args], cwd)
    runners.append(runner)
    return runner


def test_one_app_runs_with_the_default_components_and_is_found_by_another_run(
    tmp_path: Path, runners: list[RunnerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAPR_EMBEDDED_HOME", str(home))
    (tmp_path / "app.py").write_text(APP)
    http_port, app_port = free_port(), free_port()

    greeter = dapr_run(
        runners,
        tmp_path,
        *("--app-id", "greeter", "--app-port", str(app_port), "-H", str(http_port)),
        *("--", sys.executable, "app.py"),
    )
    greeter.wait_for("runner: app 'greeter' is up")

    assert sorted(p.name for p in (home / "components").iterdir()) == [
        "pubsub.yaml",
        "statestore.yaml",
    ]
    api = f"http://127.0.0.1:{http_port}/v1.0"
    # The Dapr CLI's default app protocol is HTTP: the app's GET route is invoked.
    hello = httpx.get(f"{api}/invoke/greeter/method/hello")
    assert (hello.status_code, hello.text) == (200, "hello from greeter")
    saved = httpx.post(f"{api}/state/statestore", json=[{"key": "k", "value": 1}])
    assert saved.status_code == 204
    assert (home / "data" / "statestore.sqlite").is_file()

    caller_port = free_port()
    caller = dapr_run(runners, tmp_path, "--app-id", "caller", "-H", str(caller_port))
    caller.wait_for("runner: sidecar of app 'caller' is up")
    remote = httpx.get(f"http://127.0.0.1:{caller_port}/v1.0/invoke/greeter/method/hello")
    assert (remote.status_code, remote.text) == (200, "hello from greeter")

    for runner in (caller, greeter):
        runner.process.send_signal(signal.SIGTERM)
        assert runner.wait_exit() == 0, runner.output()


def test_a_run_file_and_an_app_id_together_are_refused(
    tmp_path: Path, runners: list[RunnerProcess]
) -> None:
    runner = dapr_run(runners, tmp_path, "-f", "dapr.yaml", "--app-id", "x", "--", "true")

    assert runner.wait_exit() == 2
    assert runner.matching("-f runs a template: give it or --app-id, not both")
