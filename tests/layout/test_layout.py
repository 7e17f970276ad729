"""The shape of the house: which part may import which, how big a module may grow, and
that nothing imports in a circle. A rule broken here is a design decision to discuss, not
a test to loosen."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.layout.imports import (
    EVERYTHING,
    PRODUCT,
    ROOT,
    Module,
    imported_names,
    module_docstring,
    modules,
)

SIZE_LIMIT = 500
# A module over the limit says why in its opening docstring, with these words.
SIZE_REASON = "lines because"


def _importers(of: str, folders: tuple[str, ...]) -> list[str]:
    return [
        module.relative
        for module in modules(*folders)
        if any(name == of or name.startswith(f"{of}.") for name in imported_names(module))
    ]


def test_services_talk_to_the_sidecar_only_over_grpc() -> None:
    """The apps run unchanged under daprd: nothing in `services/` may lean on the embedded
    sidecar's code."""
    assert _importers("sidecar", ("services",)) == []


def test_nothing_outside_tests_imports_tests() -> None:
    """Test support that the e2e suite or the benchmarks need lives in `testkit/`."""
    outside = tuple(folder for folder in EVERYTHING if folder != "tests")
    assert _importers("tests", outside) == []


def test_the_product_does_not_import_the_testing_kit() -> None:
    assert _importers("testkit", PRODUCT) == []


@pytest.mark.parametrize("part", ["foundation", "sagactl"])
def test_foundation_and_the_cli_stand_alone(part: str) -> None:
    """`foundation` is below everything; `sagactl` speaks HTTP only."""
    others = ("sidecar", "services", "workflowrun_operator", "demo")
    assert [m for other in others for m in _importers(other, (part,))] == []


def test_product_modules_stay_small_or_say_why() -> None:
    too_big = {
        module.relative: lines
        for module in modules(*PRODUCT)
        if (lines := len(module.path.read_text().splitlines())) > SIZE_LIMIT
        and SIZE_REASON not in module_docstring(module)
    }
    assert too_big == {}, f"over {SIZE_LIMIT} lines without a stated reason"


def test_no_import_circles() -> None:
    every = {module.name: module for module in modules(*EVERYTHING, "testkit")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, module in every.items():
        for imported in imported_names(module, runtime_only=True):
            target = _owning_module(imported, every)
            if target is not None and target != name and not _is_package_of(target, name):
                graph[name].add(target)
    assert _cycles(graph) == []


def _owning_module(imported: str, every: dict[str, Module]) -> str | None:
    """The project module an import names: `a.b.c` may be module `a.b.c` or a name in `a.b`."""
    while imported:
        if imported in every:
            return imported
        imported = imported.rpartition(".")[0]
    return None


def _is_package_of(package: str, name: str) -> bool:
    """A module importing its own package's `__init__` is Python's normal way in."""
    return name.startswith(f"{package}.")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_images_hold_every_package_the_apps_import() -> None:
    """The Dockerfile copies folders one by one (and .dockerignore lets them in): a package
    the apps start to import must be added to both, or the pods fail at start."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    allowed = (ROOT / ".dockerignore").read_text().splitlines()
    copied = {
        line.split()[1].rstrip("/")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
    }
    needed = {
        name.split(".")[0]
        for module in modules("services", "operator/workflowrun_operator")
        for name in imported_names(module)
    } & {"foundation", "sidecar", "services", "sagactl", "demo", "testkit", "tests"}
    needed_folders = needed | {"operator/workflowrun_operator"}
    assert needed_folders <= copied
    assert {f"!{folder}/" for folder in needed_folders} <= set(allowed)
