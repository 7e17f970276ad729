"""Settings come from the environment in one place and reach workflows as `SagaConfig`."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.orchestrator.settings import OrchestratorSettings, SettingsError
from services.orchestrator.workflow_io import SagaConfig


def test_defaults_match_dapr_yaml_and_the_saga_config() -> None:
    settings = OrchestratorSettings.from_env({})

    assert settings.app_id == "orchestrator"
    assert settings.app_port == 6004
    assert settings.api_port == 8080
    # Authentication is on: tokens of the local issuer, until a key source is configured.
    assert (settings.auth_issuer, settings.auth_audience) == ("saga-platform-local", "saga-api")
    assert settings.auth_public_key_file is None
    assert settings.auth_jwks_url is None
    assert settings.auth_disabled is False
    assert settings.saga_config == SagaConfig()


def test_environment_overrides_every_saga_setting() -> None:
    settings = OrchestratorSettings.from_env(
        {
            "APP_PORT": "7000",
            "API_PORT": "0",
            "API_HOST": "0.0.0.0",
            "AUTH_JWKS_URL": "https://idp.example/jwks",
            "AUTH_ISSUER": "https://idp.example",
            "AUTH_ROLES_CLAIM": "realm_access.roles",
            "APPROVAL_THRESHOLD_CENTS": "5000",
            "STEP_TIMEOUT_SECONDS": "2.5",
            "APPROVAL_TIMEOUT_SECONDS": "60",
            "APPROVAL_REMINDER_SECONDS": "0",
            "COMPENSATION_ATTEMPTS": "2",
            "COMPENSATION_TIMEOUT_SECONDS": "4",
        }
    )

    assert (settings.app_port, settings.api_port, settings.api_host) == (7000, 0, "0.0.0.0")
    assert settings.auth_jwks_url == "https://idp.example/jwks"
    assert (settings.auth_issuer, settings.auth_roles_claim) == (
        "https://idp.example",
        "realm_access.roles",
    )
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


def test_a_missing_key_file_or_two_key_sources_stop_the_process_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not a file"):
        OrchestratorSettings.from_env({"AUTH_PUBLIC_KEY_FILE": str(tmp_path / "absent.pem")})
    key = tmp_path / "key.pem"
    key.write_text("-")
    with pytest.raises(SettingsError, match="not both"):
        OrchestratorSettings.from_env(
            {"AUTH_PUBLIC_KEY_FILE": str(key), "AUTH_JWKS_URL": "https://idp.example/jwks"}
        )
