"""House rules that keep the core reusable headless: no Qt below app/core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "app" / "core"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "shiboken6")


def test_no_qt_imports_in_core_source():
    offenders = []
    for path in CORE.rglob("*.py"):
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
