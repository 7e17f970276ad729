"""Fixtures shared by the runner's process tests."""

from tests.runner.harness import project, runners

__all__ = ["project", "runners"]
