"""Settings come from the environment in one place and reach workflows as `SagaConfig`."""

from __future__ import annotations

import pytest

from services.orchestrator.settings import OrchestratorSettings, SettingsError
from services.orchestrator.workflow_io import SagaConfig


def test_defaults_match_dapr_yaml_and_the_saga_config() -> None:
    settings = OrchestratorSettings.from_env({})

    assert settings.app_id == "orchestrator"
    assert settings.app_port == 6004
    assert settings.api_port == 8080
    assert settings.api_token is None
    assert settings.saga_config == SagaConfig()


def test_environment_overrides_every_saga_setting() -> None:
    settings = OrchestratorSettings.from_env(
        {
            "APP_PORT": "7000",
            "API_PORT": "0",
            "API_HOST": "0.0.0.0",
            "API_TOKEN": "s3cret",
            "APPROVAL_THRESHOLD_CENTS": "5000",
            "STEP_TIMEOUT_SECONDS": "2.5",
            "APPROVAL_TIMEOUT_SECONDS": "60",
            "APPROVAL_REMINDER_SECONDS": "0",
            "COMPENSATION_ATTEMPTS": "2",
            "COMPENSATION_TIMEOUT_SECONDS": "4",
        }
    )

    assert (settings.app_port, settings.api_port, settings.api_host) == (7000, 0, "0.0.0.0")
    assert settings.api_token == "s3cret"
    assert settings.saga_config == SagaConfig(
        approval_threshold_cents=5000,
        step_timeout_seconds=2.5,
        approval_timeout_seconds=60,
        approval_reminder_seconds=None,  # 0 turns the reminder off
        compensation_attempts=2,
        compensation_timeout_seconds=4,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STEP_TIMEOUT_SECONDS", "soon", "STEP_TIMEOUT_SECONDS='soon'"),
        ("API_PORT", "70000", "API_PORT='70000'"),
        ("COMPENSATION_ATTEMPTS", "0", "COMPENSATION_ATTEMPTS='0'"),
        ("STEP_TIMEOUT_SECONDS", "-1", "STEP_TIMEOUT_SECONDS='-1'"),
    ],
)
def test_invalid_values_stop_start_up_naming_the_setting(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        OrchestratorSettings.from_env({name: value})
