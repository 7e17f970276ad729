"""Fixtures of the fidelity tests: the runtime under test (one per entry of
`runtimes.STARTERS`), and the Python SDK's workers and clients of its apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fidelity.runtimes import STARTERS, AppRuntime, Sdk


@pytest.fixture(params=sorted(STARTERS))
def start_app(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], AppRuntime]]:
    """Starts the runtime of an app id (`start_app("shop")`); all apps of one test can call
    each other."""
    with STARTERS[request.param](tmp_path) as start:
        yield start


@pytest.fixture
def app(start_app: Callable[[str], AppRuntime]) -> AppRuntime:
    return start_app("fidelity-app")


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    sdk = Sdk()
    yield sdk
    sdk.close()
