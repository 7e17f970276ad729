"""Fixtures of the local e2e suite: whole platforms (`e2e.local.harness`, on the testing
kit's `testkit.platform`) under a tmp folder, on the runtime `E2E_RUNTIME` names.

A platform takes about 15 s of CPU to start on two cores (ten Python processes import the
SDK, gRPC and FastAPI), so the behaviour tests share one per module, on SKUs of their own,
and each load test gets a fresh one (its stock invariants start from the seed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.local.harness import Platform
from testkit.platform import PlatformSettings

StartPlatform = Callable[[PlatformSettings], Platform]


@pytest.fixture
def start_platform(tmp_path: Path) -> Iterator[StartPlatform]:
    """Starts platforms for one test and stops them after it."""
    started: list[Platform] = []

    def start(settings: PlatformSettings) -> Platform:
        platform = Platform(tmp_path / f"platform-{len(started)}", settings)
        started.append(platform)
        print(f"platform logs: {platform.logs_dir}")  # shown when the test fails
        return platform.start()

    yield start
    for platform in started:
        platform.close()


def module_platform(
    tmp_path_factory: pytest.TempPathFactory, settings: PlatformSettings, name: str
) -> Iterator[Platform]:
    """For a module-scoped fixture: one platform shared by the module's tests."""
    platform = Platform(tmp_path_factory.mktemp(name), settings).start()
    try:
        yield platform
    finally:
        platform.close()
