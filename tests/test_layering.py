"""The layering, read from the imports with `ast` (those under `if TYPE_CHECKING:` do not
count; imports inside functions do):

- the core (`bot/`) and the scheduler engine (`schedules/`) import no feature and no adapter,
  except the one composition root (`bot/cli.py`);
- a feature imports another feature only through that feature's package (`from
  handlers.questions import OPEN`), never its internal modules; no feature or core module
  imports a platform SDK;
- no import cycle exists between modules, nor between features.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "handlers", "schedules")
COMPOSITION_ROOT = "bot.cli"
SDKS = ("slack_bolt", "slack_sdk", "nio")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> set[str]:
    """Every module `module` imports (a name imported from a package counts as the package,
    a submodule imported from it as the submodule)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                parent = parent if is_package else parent[:-1]
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _feature(module: str) -> str | None:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "handlers" and len(parts) > 1 else None


def test_the_core_and_the_scheduler_import_no_feature_and_no_adapter():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] in ("bot", "schedules") and module != COMPOSITION_ROOT
        for target in targets
        if target.split(".")[0] in ("handlers", "adapters")
    )
    assert wrong == []


def test_the_scheduler_engine_imports_no_feature_even_from_the_composition_root():
    assert not [t for t in GRAPH["schedules"] if t.startswith(("handlers", "bot.cli"))]


def test_features_use_each_other_only_through_their_packages():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _feature(module)
        for target in targets
        if _feature(target) and _feature(target) != _feature(module) and target != _feature(target)
    )
    assert wrong == []


def test_only_adapters_import_a_platform_sdk():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if not module.startswith("adapters")
        for target in targets
        if target.split(".")[0] in SDKS
    )
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                connect(target)
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
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycle_between_modules():
    assert _cycles(GRAPH) == []


def test_no_import_cycle_between_features():
    features: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        if _feature(module):
            features[_feature(module)].update(
                _feature(t) for t in targets if _feature(t) and _feature(t) != _feature(module)
            )
    assert _cycles(dict(features)) == []


def test_the_reader_sees_what_it_checks():
    assert "handlers.questions" in MODULES and "bot.cli" in MODULES
    assert "handlers" in {t.split(".")[0] for t in GRAPH[COMPOSITION_ROOT]}
