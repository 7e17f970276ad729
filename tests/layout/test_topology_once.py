"""Each topology fact (who subscribes to what, which statuses are final, which status events
a saga publishes, the test cards) is written in `services/contracts/topology.py` only.
Everything else reads it, so an app, the demo, the e2e harness and the benchmarks cannot
disagree about a route.

The check looks for the shapes a second copy takes: a collection literal listing two or
more topics, two or more terminal statuses and no other status, two or more status event
types, or a test card number."""

from __future__ import annotations

import ast

from services.contracts.names import EventType, Topic
from services.contracts.topology import (
    DECLINING_TEST_CARD,
    GOOD_TEST_CARD,
    STATUS_EVENT_TYPES,
    TERMINAL_RUNTIME_STATUSES,
)
from tests.layout.imports import EVERYTHING, Module, modules

HOME = {"services/contracts/topology.py", "services/contracts/names.py"}
TOPIC_NAMES = {str(topic) for topic in Topic} | {member.name for member in Topic}
STATUS_TYPES = {str(t) for t in STATUS_EVENT_TYPES} | {t.name for t in STATUS_EVENT_TYPES}
CARDS = {GOOD_TEST_CARD, DECLINING_TEST_CARD}


RUNTIME_STATUSES = {
    *TERMINAL_RUNTIME_STATUSES,
    *("RUNNING", "PENDING", "SUSPENDED", "STALLED", "CONTINUED_AS_NEW", "CANCELED"),
}


def _label(node: ast.expr) -> str | None:
    """`Topic.ORDERS`, `wf.WorkflowStatus.FAILED` → as written; a string → itself."""
    if isinstance(node, ast.Attribute):
        return ast.unparse(node)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _status(label: str) -> str | None:
    """The runtime status a label names: a bare string, or a member of a `…Status` enum
    (other enums, such as the operator's Kubernetes phases, are other facts)."""
    owner, _, name = label.rpartition(".")
    if owner and not owner.endswith("Status"):
        return None
    return name if name in RUNTIME_STATUSES else None


def _elements(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Set | ast.List | ast.Tuple):
        return list(node.elts)
    if isinstance(node, ast.Dict):
        return [key for key in node.keys if key is not None] + list(node.values)
    return []


def _copies(module: Module) -> list[str]:
    found = []
    tree = ast.parse(module.path.read_text())
    for node in ast.walk(tree):
        labels = [label for e in _elements(node) if (label := _label(e)) is not None]
        topics = {lb for lb in labels if lb.startswith("Topic.") or lb in TOPIC_NAMES}
        statuses = {status for lb in labels if (status := _status(lb)) is not None}
        only_terminal = statuses <= TERMINAL_RUNTIME_STATUSES
        status_types = {
            lb for lb in labels if lb.removeprefix(f"{EventType.__name__}.") in STATUS_TYPES
        }
        line = getattr(node, "lineno", 0)
        if len(topics) >= 2:
            found.append(f"{module.relative}:{line}: topics {sorted(topics)}")
        if len(statuses) >= 2 and only_terminal:
            found.append(f"{module.relative}:{line}: terminal statuses {sorted(statuses)}")
        if len(status_types) >= 2:
            found.append(f"{module.relative}:{line}: status event types {sorted(status_types)}")
        if isinstance(node, ast.Constant) and node.value in CARDS:
            found.append(f"{module.relative}:{line}: test card {node.value}")
    return found


def test_topology_facts_are_defined_once() -> None:
    """Tests may spell out what they expect (`test_*.py` files are not scanned); code that
    builds, routes or checks messages must read the topology."""
    copies = [
        copy
        for module in modules(*EVERYTHING, "testkit")
        if module.relative not in HOME and not module.path.name.startswith("test_")
        for copy in _copies(module)
    ]
    assert copies == []
