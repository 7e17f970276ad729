"""The project's Python modules and the imports between them, read with `ast` (nothing is
imported, so a test of the layout cannot be fooled by import side effects)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Top-level folders whose modules ship with the product (what users run).
PRODUCT = ("foundation", "sidecar", "services", "operator/workflowrun_operator", "sagactl", "demo")
# Everything the layout rules look at: the product, the testing kit and the test-like trees.
EVERYTHING = (*PRODUCT, "testkit", "tests", "e2e", "bench")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def relative(self) -> str:
        return str(self.path.relative_to(ROOT))


def modules(*folders: str) -> Iterator[Module]:
    for folder in folders:
        base = ROOT / folder
        # The operator's package lives in `operator/` (a stdlib name, never a package).
        package_root = base.parent if folder.startswith("operator/") else ROOT
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(package_root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield Module(name, path)


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported_names(module: Module, *, runtime_only: bool = False) -> set[str]:
    """Every module name `module` imports (`from a.b import c` gives `a.b` and `a.b.c`);
    with `runtime_only`, imports under `if TYPE_CHECKING:` are left out."""
    tree = _tree(module.path)
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    names: set[str] = set()
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_docstring(module: Module) -> str:
    return ast.get_docstring(_tree(module.path)) or ""
