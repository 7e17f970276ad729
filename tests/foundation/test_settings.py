"""A bad environment variable stops a process with one line naming it."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from foundation.settings import ENV, SettingsError, load


class Example(BaseSettings):
    model_config = ENV

    app_port: Annotated[int, Field(ge=0, le=65535)] = 6001
    step_timeout_seconds: float = 30.0


def test_values_come_from_the_given_mapping_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PORT", "not read")

    assert load(Example, {"app_port": "7000", "STEP_TIMEOUT_SECONDS": ""}) == Example(
        app_port=7000, step_timeout_seconds=30.0
    )


def test_every_bad_variable_is_named_with_its_value() -> None:
    with pytest.raises(SettingsError) as error:
        load(Example, {"APP_PORT": "70000", "STEP_TIMEOUT_SECONDS": "soon"})

    assert str(error.value).startswith("APP_PORT='70000': ")
    assert "; STEP_TIMEOUT_SECONDS='soon': " in str(error.value)


@pytest.mark.parametrize(
    ("module", "variable"),
    [
        ("services.orchestrator", "STEP_TIMEOUT_SECONDS"),
        ("services.inventory", "INVENTORY_SEED"),
        ("services.payment", "PAYMENT_LIMIT_CENTS"),
        ("services.shipping", "APP_PORT"),
    ],
)
def test_an_app_started_with_a_bad_variable_exits_2_with_one_line(
    module: str, variable: str
) -> None:
    """Before it connects to anything: no sidecar is needed to see the message."""
    finished = subprocess.run(
        [sys.executable, "-m", module],
        env={"PATH": "", variable: "[not valid"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 2
    assert finished.stderr.startswith(f"error: {variable}='[not valid': ")
    assert len(finished.stderr.strip().splitlines()) == 1
