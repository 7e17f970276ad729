"""Fixtures shared by the runner's process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runner.test_runner import Runner


@pytest.fixture
def runners() -> Iterator[list[Runner]]:
    started: list[Runner] = []
    yield started
    for runner in started:
        if runner.process.poll() is None:
            runner.process.kill()
            runner.process.wait(timeout=10)
