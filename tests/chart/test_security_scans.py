"""Security: the pods meet Pod Security "restricted" with read-only roots, and checkov (on every
render and the Dockerfile) and hadolint (on the Dockerfile) find nothing beyond the skips
listed, each with its reason, in tests/chart/checkov-skips.yaml."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.chart.rendering import APP_IDS, RENDER_NAMES, REPO, Render, containers, env_of

BIN = Path(sys.executable).parent
# checkov lives in its own virtualenv (its pins clash with the project's); `make test`
# builds it from tools/checkov-requirements.lock.
CHECKOV = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
DOCKERFILE = REPO / "Dockerfile"


# -- Pod Security "restricted" ------------------------------------------------------------


def test_pods_meet_pod_security_restricted(each_render: Render) -> None:
    for owner, _, spec in each_render.pod_specs():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, owner
        assert isinstance(pod["runAsUser"], int), owner
        assert pod["runAsUser"] >= 10000, owner
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, owner
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(host_namespace), owner
        for container in containers(spec):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, owner
            assert context["readOnlyRootFilesystem"] is True, owner
            assert context["capabilities"] == {"drop": ["ALL"]}, owner
            assert context["runAsNonRoot"] is True, owner
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, owner
            assert not context.get("privileged"), owner


def test_platform_containers_write_only_to_an_empty_dir_tmp(each_render: Render) -> None:
    for deployment in each_render.of_kind("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert set(mounts) == {"/tmp"}
            assert "emptyDir" in volumes[mounts["/tmp"]]


def test_workloads_have_probes_and_bounded_resources(each_render: Render) -> None:
    for deployment in each_render.of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            name = deployment["metadata"]["name"]
            assert "livenessProbe" in container, name
            assert "readinessProbe" in container, name
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), name


def test_app_probes_reach_the_loopback_callback_port(each_render: Render) -> None:
    """The apps bind their gRPC callback server to 127.0.0.1 (services/common/startup.py), so
    the probes connect from inside the container; the API and the operator use HTTP /healthz."""
    for app_id in APP_IDS:
        [container] = each_render.deployment(app_id)["spec"]["template"]["spec"]["containers"]
        probe = container["livenessProbe"]
        if app_id == "orchestrator":
            assert probe["httpGet"] == {"path": "/healthz", "port": "http-api"}
        else:
            port = env_of(container)["APP_PORT"]["value"]
            assert f"('127.0.0.1', {port})" in probe["exec"]["command"][-1]
    [operator] = each_render.deployment("operator")["spec"]["template"]["spec"]["containers"]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-health"}


# -- checkov -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str
    source: str  # the render's name or "Dockerfile"


@dataclass(frozen=True)
class Skip:
    check: str
    resources: tuple[str, ...]
    reason: str

    def matches(self, finding: Finding) -> bool:
        return finding.check == self.check and any(
            fnmatch.fnmatchcase(finding.resource, pattern) for pattern in self.resources
        )


def _skips() -> list[Skip]:
    entries = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    return [Skip(e["check"], tuple(e["resources"]), e["reason"].strip()) for e in entries]


@pytest.fixture(scope="module")
def checkov_findings(
    renders: dict[str, Render], tmp_path_factory: pytest.TempPathFactory
) -> list[Finding]:
    """One checkov run, no skips, over every render (one file each) and the Dockerfile."""
    folder = tmp_path_factory.mktemp("checkov")
    for name in RENDER_NAMES:
        (folder / f"{name}.yaml").write_text(renders[name].yaml_stream())
    (folder / "Dockerfile").write_text(DOCKERFILE.read_text())
    run = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(folder),
            "--framework",
            "kubernetes",
            "dockerfile",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",  # no network: no guideline links, nothing else is lost
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        check=False,
    )
    assert run.returncode in (0, 1), run.stderr[-4000:]
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {report["check_type"] for report in reports} == {"kubernetes", "dockerfile"}
    findings = []
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        assert report["summary"]["passed"] > 0
        for failed in report["results"]["failed_checks"]:
            source = Path(failed["file_path"]).name
            findings.append(
                Finding(failed["check_id"], failed["resource"], source.removesuffix(".yaml"))
            )
    return findings


def test_checkov_finds_nothing_but_the_listed_skips(checkov_findings: list[Finding]) -> None:
    skips = _skips()
    unexpected = [f for f in checkov_findings if not any(skip.matches(f) for skip in skips)]
    assert unexpected == []


def test_every_checkov_skip_is_justified_and_still_needed(checkov_findings: list[Finding]) -> None:
    for skip in _skips():
        assert len(skip.reason) > 40, f"{skip.check}: give the reason"
        assert any(skip.matches(finding) for finding in checkov_findings), (
            f"{skip.check} no longer fails anywhere: remove it from {SKIPS_FILE.name}"
        )


def test_the_production_renders_pass_the_checks_skipped_for_defaults(
    checkov_findings: list[Finding],
) -> None:
    """The digest and pull-policy skips are about defaults: with digests set checkov passes
    both; the NetworkPolicy skip is about the option being off: with it on, checkov passes."""
    by_source = {(f.check, f.source) for f in checkov_findings}
    assert ("CKV_K8S_43", "digests") not in by_source
    assert ("CKV_K8S_15", "digests") not in by_source
    assert ("CKV2_K8S_6", "networkpolicies") not in by_source
    assert not [f for f in checkov_findings if f.source == "Dockerfile"]


# -- hadolint ----------------------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    run = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == ""


def test_the_images_run_as_the_chart_user() -> None:
    """The Dockerfile's numeric user is the chart's podUser, so files the image owns match."""
    values = yaml.safe_load((REPO / "charts" / "saga-platform" / "values.yaml").read_text())
    user = values["podUser"]
    assert f"USER {user['runAsUser']}:{user['runAsGroup']}" in DOCKERFILE.read_text()
