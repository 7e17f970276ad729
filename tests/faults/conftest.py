"""Fixtures of the fault tests: the runner's test project (two small apps) is reused."""

from tests.runner.conftest import runners
from tests.runner.test_runner import project

__all__ = ["project", "runners"]
