"""The operator's settings: environment in, `kopf run` command line out."""

from __future__ import annotations

import pytest

from workflowrun_operator.settings import OperatorSettings, SettingsError


def test_defaults_serve_every_namespace_standalone_with_liveness_and_json_logs() -> None:
    settings = OperatorSettings.from_env({})

    assert settings.orchestrator_url == "http://127.0.0.1:8080"
    assert settings.orchestrator_token is None
    assert settings.sync_interval_seconds == 10.0
    assert settings.kopf_run_args() == [
        "run",
        "--standalone",
        "--all-namespaces",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--log-format=json",
        "-m",
        "workflowrun_operator.handlers",
    ]


def test_environment_sets_url_token_interval_and_namespaces() -> None:
    settings = OperatorSettings.from_env(
        {
            "ORCHESTRATOR_URL": "http://orchestrator.saga:8080/",
            "ORCHESTRATOR_TOKEN": "s3cret",
            "SYNC_INTERVAL_SECONDS": "2.5",
            "WATCH_NAMESPACES": "team-a, team-b,",
            "LOG_FORMAT": "full",
        }
    )

    assert settings.orchestrator_url == "http://orchestrator.saga:8080"
    assert settings.orchestrator_token == "s3cret"
    assert settings.sync_interval_seconds == 2.5
    args = settings.kopf_run_args()
    assert args[2:6] == ["--namespace", "team-a", "--namespace", "team-b"]
    assert "--all-namespaces" not in args
    assert "--log-format=full" in args


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORCHESTRATOR_URL", "orchestrator:8080"),
        ("SYNC_INTERVAL_SECONDS", "soon"),
        ("SYNC_INTERVAL_SECONDS", "0"),
        ("RETRY_MAX_SECONDS", "-1"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        OperatorSettings.from_env({name: value})


def test_retry_delay_doubles_up_to_the_maximum() -> None:
    settings = OperatorSettings(retry_base_seconds=2, retry_max_seconds=60)

    assert [settings.retry_delay(retry) for retry in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert settings.retry_delay(10_000) == 60
