"""The import graph of the product code has no cycles (docs/architecture.md, "Imports").

Every module of the project's packages (`accounts`, `crm`, `pipeline` and any package added
beside them; migrations and tests aside) is parsed with `ast`, and every import counts: at the
top, inside functions and under `if TYPE_CHECKING:` alike, since an import hidden in a
function is still a circle, only one that fails later. A cycle fails the test and is printed
module by module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_PRODUCT = {"tests"}

# Circles known and left for another step, each with the step that breaks it. An entry that no
# longer matches a circle fails `test_every_allowed_cycle_still_exists`: delete it then.
ALLOWED_CYCLES: set[frozenset[str]] = set()


def product_packages() -> list[str]:
    return sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_PRODUCT
    )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in product_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            modules[_module_name(path)] = path
    return modules


def _imported(node: ast.AST, module: str, is_package: bool, modules) -> set[str]:
    """The product modules one import statement loads (their own modules, not their parents)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = set()
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        if submodule in modules:  # `from pipeline import services`: the package's module
            found.add(submodule)
        elif source in modules:
            found.add(source)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            edges |= _imported(node, module, is_package, modules)
        edges.discard(module)
        graph[module] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted: the
    groups of modules that import each other, directly or round a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest loop from the component's first module back to itself, for the message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return component


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert {"accounts", "crm", "pipeline"} <= set(product_packages())
    assert "accounts.models" in graph["accounts.access"]
    assert "pipeline.services" in graph["pipeline.views.deals"]  # from pipeline import services
    assert "pipeline.services.deals" in graph["pipeline.services"]
    assert "crm.mail" in graph["accounts.services"]  # imported inside a function
    assert "crm.celery" in graph["crm"]  # from .celery import app, in crm/__init__.py


def test_no_import_cycles():
    graph = import_graph()
    found = [c for c in circles(graph) if frozenset(c) not in ALLOWED_CYCLES]
    assert not found, "import cycles (docs/architecture.md, Imports):\n" + "\n".join(
        f"{' -> '.join(one_cycle(graph, c))}   (in the circle: {', '.join(c)})" for c in found
    )


def test_every_allowed_cycle_still_exists():
    found = {frozenset(c) for c in circles(import_graph())}
    stale = [sorted(c) for c in ALLOWED_CYCLES if c not in found]
    assert not stale, f"no longer a circle, delete from ALLOWED_CYCLES: {stale}"


def test_circles_are_found_and_named():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"a", "e"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert one_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
