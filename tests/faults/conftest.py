"""Fixtures of the fault tests: the runner's test project (two small apps) is reused."""

from tests.runner.harness import project, runners

__all__ = ["project", "runners"]
