"""House rules: a Qt-free core and view model, no import cycles, a core laid out by domain."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
CORE = APP / "core"
GUI_MODEL = APP / "gui_model"
MAX_LOOSE_CORE_MODULES = 6
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "shiboken6")


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The app modules ``path`` imports, at module level or in functions, but not in an
    ``if TYPE_CHECKING:`` block; ``from package import module`` counts as the module."""
    current = module_name(path)
    package = current if path.name == "__init__.py" else current.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names]
            names = [name if name in known else base for name in names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != current:
                found.add(name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the app modules it imports; a package's ``__init__`` importing its own
    submodules is its public face, not an edge back."""
    paths = {module_name(path): path for path in APP.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        edges = imported_modules(path, set(paths))
        if path.name == "__init__.py":
            edges = {edge for edge in edges if not edge.startswith(name + ".")}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.get(step, ())))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_anywhere_in_app():
    assert cycles(import_graph()) == []


def test_core_imports_nothing_from_the_gui_or_the_engine():
    graph = import_graph()
    offenders = {
        name: sorted(edge for edge in edges if edge.startswith(("app.ui", "app.engine")))
        for name, edges in graph.items()
        if name.startswith(("app.core", "app.gui_model"))
    }
    assert {name: edges for name, edges in offenders.items() if edges} == {}
    core = {name: edges for name, edges in graph.items() if name.startswith("app.core")}
    assert {
        n: sorted(e) for n, e in core.items() if any(x.startswith("app.gui_model") for x in e)
    } == {}


def test_core_is_laid_out_by_domain():
    loose = sorted(path.name for path in CORE.glob("*.py") if path.name != "__init__.py")
    assert len(loose) <= MAX_LOOSE_CORE_MODULES, loose
    for package in [path.parent for path in APP.rglob("__init__.py")]:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring, f"{package} has no docstring saying what it offers"


def test_no_qt_imports_in_core_source():
    offenders = []
    for path in [*CORE.rglob("*.py"), *GUI_MODEL.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {name}" for name in names if name.startswith(QT_MODULES)]
    assert offenders == []


def test_importing_every_core_module_loads_no_qt():
    modules = [
        ".".join(path.relative_to(CORE.parents[1]).with_suffix("").parts)
        for path in CORE.rglob("*.py")
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print([m for m in sys.modules if m.startswith({QT_MODULES!r})])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=CORE.parents[1]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_opening_the_window_does_not_import_torch():
    """torch takes seconds to import: the GUI must start without it."""
    code = "import sys, app.ui.main_window; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=CORE.parents[1]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_app_never_imports_the_peers():
    """lightly and lightly-mundig are test oracles and benchmark peers, never dependencies."""
    offenders = []
    for path in CORE.parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0].startswith("lightly")]
    assert offenders == []
