"""The core's shape: no import cycle inside lrlab.schedules (no import hidden in a function),
and no module outside it reaching into its private modules."""

from __future__ import annotations

import ast
from pathlib import Path

import lrlab.schedules

CORE = Path(lrlab.schedules.__file__).parent
SRC = CORE.parent


def _imports(path: Path) -> tuple[set[str], bool]:
    """Core modules imported by ``path`` (relative imports), and whether any import sits
    inside a function (a lazy import that would hide a cycle)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    nested = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found |= {name.split(".")[0] for name in names}
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(function)):
            nested = True
    return found, nested


def test_no_import_cycle_and_no_lazy_import_in_the_core():
    graph: dict[str, set[str]] = {}
    for path in CORE.glob("*.py"):
        if path.name == "__init__.py":
            continue
        imports, nested = _imports(path)
        assert not nested, f"{path.name} imports inside a function"
        graph[path.stem] = {name for name in imports if name != "__init__"}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(module: str, chain: tuple[str, ...]) -> None:
        assert module not in visiting, f"import cycle: {' -> '.join((*chain, module))}"
        if module in order:
            return
        visiting.add(module)
        for dependency in sorted(graph.get(module, ())):
            visit(dependency, (*chain, module))
        visiting.discard(module)
        order.append(module)

    for module in sorted(graph):
        visit(module, ())
    assert len(order) == len(graph)


def test_edges_use_only_the_public_core():
    for path in SRC.rglob("*.py"):
        if CORE in path.parents:
            continue
        text = path.read_text()
        assert "lrlab.schedules._" not in text, f"{path.relative_to(SRC)} imports a private core module"
        private = "._eval(" in text or "._at(" in text
        assert not private, f"{path.relative_to(SRC)} calls a private evaluator"
