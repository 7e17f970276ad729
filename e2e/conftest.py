"""Which runtime the end-to-end tests ran on, said at the start and at the end of the run.

`E2E_RUNTIME` picks the runtime under each app (`testkit.runtimes`). The header names it
(with daprd's and Redis's versions under daprd); the summary lists every e2e test that ran
on it with its outcome, so a CI log shows which tests passed under daprd, not just that
some did. Tests marked `daprd` only make sense on daprd (the daprd run file): on another
runtime they are deselected, never skipped.
"""

from __future__ import annotations

from collections import Counter

import pytest

from testkit.runtimes import runtime_from_environment, runtime_name

E2E = "e2e/"
# Worst first: a test with an error in teardown after passing counts as an error.
OUTCOMES = ("failed", "error", "xpassed", "skipped", "xfailed", "passed")


def pytest_report_header(config: pytest.Config) -> str:
    return f"e2e runtime: {runtime_name()} ({runtime_from_environment().version()})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if runtime_name() == "daprd":
        return
    daprd_only = [item for item in items if item.get_closest_marker("daprd")]
    if daprd_only:
        config.hook.pytest_deselected(items=daprd_only)
        items[:] = [item for item in items if item not in daprd_only]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes: dict[str, str] = {}  # the worst outcome of each e2e test
    for outcome in OUTCOMES:
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if nodeid.startswith(E2E):
                outcomes.setdefault(nodeid, outcome)
    if not outcomes:
        return
    name = runtime_name()
    terminalreporter.section(f"e2e tests run under {name}")
    terminalreporter.write_line(f"runtime: {name} ({runtime_from_environment().version()})")
    for nodeid, outcome in sorted(outcomes.items()):
        terminalreporter.write_line(f"{outcome.upper():8} {nodeid}")
    counts = ", ".join(f"{n} {outcome}" for outcome, n in Counter(outcomes.values()).items())
    terminalreporter.write_line(f"{len(outcomes)} e2e tests under {name}: {counts}")
