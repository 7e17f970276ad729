"""`sagactl` as a subprocess, as a user runs it, and what its answers hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import dapr.ext.workflow as wf

from sagactl.exit_codes import ExitCode
from tests.api.harness import (
    FAILING_CUSTOMER,
    ROOT,
    TEST_TOKEN_VARIABLE,
    WAITING_CUSTOMER,
    finished,
    order,
    started,
)


def sagactl(
    url: str,
    *args: str,
    token: str | None = None,
    stdin: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_API_")}
    env["SAGA_API_URL"] = url
    # No config file but the test's: the user's own must not decide a test.
    env["SAGACTL_CONFIG"] = os.devnull
    token = token if token is not None else os.environ.get(TEST_TOKEN_VARIABLE)
    if token is not None:
        env["SAGA_API_TOKEN"] = token
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "sagactl", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == ExitCode.OK, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


def start(url: str, order_id: str, customer: str = "cust-1") -> None:
    output = ok(
        sagactl(
            url, "workflow", "run", "order_saga", "--input", json.dumps(order(order_id, customer))
        )
    )
    assert output.strip() == (f"Workflow 'order_saga' started with instance ID: order-{order_id}")


def sagas(
    url: str,
    client: wf.DaprWorkflowClient,
    *,
    completed: Sequence[str] = (),
    failed: Sequence[str] = (),
    waiting: Sequence[str] = (),
) -> None:
    """Starts an order saga per order id with `sagactl workflow run`, then waits until the
    completed and failed ones have finished and the waiting ones (for `finish`) have started."""
    customers = {order_id: "cust-1" for order_id in completed}
    customers |= {order_id: FAILING_CUSTOMER for order_id in failed}
    customers |= {order_id: WAITING_CUSTOMER for order_id in waiting}
    for order_id, customer in customers.items():
        start(url, order_id, customer)
    for order_id in (*completed, *failed):
        finished(client, f"order-{order_id}")
    for order_id in waiting:
        started(client, f"order-{order_id}")
