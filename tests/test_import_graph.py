"""The shape ARCHITECTURE.md promises: no import cycle between the project's modules (imports inside
functions count too: a deferred import hides a cycle, it does not remove it), and il2lib's modules in
sub-packages named after what they do."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("il2lib", "app_ui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imported(node: ast.AST, package: str, modules: dict[str, Path]) -> list[str]:
    """First-party modules an import statement names (``from a import b`` names ``a.b`` when it is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if not name:
            continue
        found.append(name)
        # entering a package from outside runs its __init__ first (il2lib's own is lazy)
        parent = name.rpartition(".")[0]
        while parent.count("."):
            if not (package + ".").startswith(parent + "."):
                found.append(parent)
            parent = parent.rpartition(".")[0]
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {target for node in ast.walk(ast.parse(path.read_text()))
                       if isinstance(node, (ast.Import, ast.ImportFrom))
                       for target in _imported(node, package, modules) if target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_sees_imports_inside_functions():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    imports = ast.parse("def f():\n    from il2lib import schema\n")
    node = next(n for n in ast.walk(imports) if isinstance(n, ast.ImportFrom))
    assert _imported(node, "il2lib", _modules()) == ["il2lib.schema"]
    # a submodule imported from outside its package also runs the package's __init__
    nested = ast.parse("from il2lib.survival.km import kaplan_meier\n").body[0]
    assert _imported(nested, "app_ui", _modules()) == ["il2lib.survival.km", "il2lib.survival"]
    assert _imported(nested, "il2lib.survival", _modules()) == ["il2lib.survival.km"]



def test_il2lib_keeps_its_modules_in_sub_packages():
    # a newcomer finds a feature by its package (validation, analyses, survival, stats, privacy, export, ...)
    top_level = sorted(p.name for p in (ROOT / "il2lib").glob("*.py"))
    assert len(top_level) <= 10, top_level
