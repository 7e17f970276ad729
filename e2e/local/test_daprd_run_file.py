"""`dapr.daprd.yaml`, the run file for the Dapr CLI, runs the platform on daprd.

The Dapr CLI cannot be built here (the Go module proxy refuses `github.com/dapr/cli`), so
the run file is run by the project's runner with `--runtime daprd`, which starts each
app's daprd with the command line `dapr run -f` builds (sidecar/runner/daprd.py). What
`dapr init` would provide is started by the test: Redis, placement and scheduler. The copy
of the run file differs from it only where this machine differs from a developer's after
`dapr init`: the ports of those three and of the apps, the API's and the card vault's
ports, and where the vault key and the API's token-issuer key are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from e2e.local.orders import order
from foundation.tokens import local_issuer
from sagactl.card_vault import tokenize
from services.contracts.names import saga_instance_id
from services.contracts.topology import GOOD_TEST_CARD
from testkit.daprd import TEMPLATE, DaprdServices, binary
from testkit.polling import wait_until
from testkit.ports import free_port
from testkit.process import ROOT, processes_mentioning
from testkit.runner import RunnerProcess

pytestmark = pytest.mark.daprd


# What `run_file_copy` changes in the apps' `env`.
MACHINE_ENV = {"API_PORT", "VAULT_PORT", "PAYMENT_VAULT_KEY_FILE", "AUTH_PUBLIC_KEY_FILE"}


def run_file_copy(services: DaprdServices, folder: Path) -> tuple[Path, int, int]:
    """`dapr.daprd.yaml` in `folder`, pointed at `services` and free ports; the API's and
    the card vault's ports."""
    document: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    common = document["common"]
    resources = services.resources([ROOT / common["resourcesPath"]], folder / "components")
    common["resourcesPath"] = str(resources)
    common["placementHostAddress"] = services.placement_address
    common["schedulerHostAddress"] = services.scheduler_address
    common["configFilePath"] = str(services.configuration(folder / "config.yaml"))
    api_port, vault_port = free_port(), free_port()
    issuer = local_issuer(folder)
    for app in document["apps"]:
        app["appDirPath"] = str(ROOT / app["appDirPath"])
        app["appPort"] = free_port()
        env = app.get("env", {})
        if "API_PORT" in env:
            env["API_PORT"] = str(api_port)
            env["AUTH_PUBLIC_KEY_FILE"] = str(issuer.public_key_file)
        if "VAULT_PORT" in env:
            env["VAULT_PORT"] = str(vault_port)
            env["PAYMENT_VAULT_KEY_FILE"] = str(folder / "payment-vault.key")
    path = folder / "dapr.daprd.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path, api_port, vault_port


def without_machine_specifics(document: dict[str, Any]) -> dict[str, Any]:
    """A run file without what `run_file_copy` changes."""
    common = {
        key: value
        for key, value in document["common"].items()
        if key
        not in {"resourcesPath", "placementHostAddress", "schedulerHostAddress", "configFilePath"}
    }
    apps = [
        {
            **{key: value for key, value in app.items() if key not in {"appDirPath", "appPort"}},
            "env": {k: v for k, v in app.get("env", {}).items() if k not in MACHINE_ENV},
        }
        for app in document["apps"]
    ]
    return {**document, "common": common, "apps": apps}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[DaprdServices]:
    started = DaprdServices(tmp_path / "services").start()
    yield started
    started.close()


def test_the_run_file_runs_the_platform_on_daprd_with_the_clis_flags(
    services: DaprdServices, tmp_path: Path
) -> None:
    run_file, api_port, vault_port = run_file_copy(services, tmp_path)
    copied = yaml.safe_load(run_file.read_text())
    assert without_machine_specifics(copied) == without_machine_specifics(
        yaml.safe_load(TEMPLATE.read_text())
    )

    daprd = str(binary("daprd"))
    runner = RunnerProcess.start(run_file, "--runtime", "daprd", "--daprd", daprd)
    try:
        runner.wait_for("all 4 apps are running", timeout=120)
        assert not runner.matching("warning: ignoring"), runner.output()
        sidecars = [
            command.split()
            for command in processes_mentioning(str(tmp_path)).values()
            if command.startswith(daprd)
        ]
        assert len(sidecars) == 4, sidecars
        for argv in sidecars:  # a few of the flags only the Dapr CLI's defaults would give
            flags = dict(zip(argv[1::2], argv[2::2], strict=False))
            assert flags["--app-max-concurrency"] == "-1"
            assert flags["--read-buffer-size"] == "4Ki"
            assert flags["--placement-host-address"] == services.placement_address
            assert flags["--config"] == copied["common"]["configFilePath"]

        token = local_issuer(tmp_path).mint("e2e", ["operator"])
        with httpx.Client(
            base_url=f"http://127.0.0.1:{api_port}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ) as api:
            wait_until(lambda: _healthy(api), timeout=60, what="the management API")
            token = tokenize(f"http://127.0.0.1:{vault_port}", GOOD_TEST_CARD)["token"]
            placed = order("runfile-1", [("SKU-001", 1, 1_000)], token=token)
            accepted = api.post("/v1/orders", json=placed.to_data())
            assert accepted.status_code == 202, accepted.text

            def completed() -> dict[str, Any] | None:
                response = api.get(f"/v1/runs/{saga_instance_id('runfile-1')}")
                run: dict[str, Any] = response.json() if response.status_code == 200 else {}
                return run if run.get("status") == "COMPLETED" else None

            run = wait_until(completed, timeout=60, what="the order's saga to complete")
        assert run["output"]["outcome"] == "completed", json.dumps(run)
    finally:
        runner.stop()
    assert runner.wait_exit() == 0, runner.output()


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
