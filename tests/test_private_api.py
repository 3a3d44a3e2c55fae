"""Public APIs only: no code of ours uses another package's private names or rewrites its functions.

A private name starts with one underscore. Found by reading the source (ast), not by running it:
  - `import pkg._mod`, `from pkg._mod import x`, `from pkg import _name` for a package not ours;
  - `obj._name` and `getattr(obj, "_name")` where `_name` is defined nowhere in our tree (so it
    belongs to a dependency);
  - a `_name` method of a class whose base comes from a dependency and has that name (an
    override of its internals);
  - `__code__`, `__globals__`, `__closure__` (swapping another package's code or globals).
The scan is here, so the test needs nothing outside the repository; where the workplace's shared
scanner (../shared/tools/private_api_scan.py) is present, it must find nothing either.
"""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("pipeline", "assets", "dashboards", "bench")
OURS = {p.stem for p in ROOT.iterdir() if (p / "__init__.py").is_file() or p.suffix == ".py"}  # our top-level modules
DUNDER_TRICKS = {"__code__", "__globals__", "__closure__"}
# Private by spelling, public by documentation.
DOCUMENTED = {"_exit", "_getframe", "_asdict", "_replace", "_fields", "_make"}
SHARED_SCANNER = ROOT.parent / "shared" / "tools" / "private_api_scan.py"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _foreign(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] not in OURS


def _trees() -> dict[Path, ast.Module]:
    files = [p for folder in SCANNED for p in sorted((ROOT / folder).rglob("*.py")) if "__pycache__" not in p.parts]
    return {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}


def _own_names(trees) -> set[str]:
    """Every name our code defines: functions, classes, assigned names and attributes, arguments,
    import aliases."""
    names = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
    return names


def _has(dotted: str, name: str) -> bool:
    """Whether the dependency's class `dotted` has `name` (True when it cannot be looked up)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                found = getattr(found, part)
        except AttributeError:
            return True
        return hasattr(found, name)
    return True


def private_uses() -> list[str]:
    trees = _trees()
    own = _own_names(trees)
    found = []
    for path, tree in trees.items():
        where = path.relative_to(ROOT)
        imported: dict[str, str] = {}  # local name -> the module (or module.attribute) it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    imported[alias.asname or top] = alias.name if alias.asname else top
                    if _foreign(alias.name) and any(_private(part) for part in alias.name.split(".")):
                        found.append(f"{where}:{node.lineno}: import {alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and _foreign(node.module):
                if any(_private(part) for part in node.module.split(".")):
                    found.append(f"{where}:{node.lineno}: from {node.module} import ...")
                for alias in node.names:
                    imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                    if _private(alias.name):
                        found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                if node.attr in DUNDER_TRICKS:
                    found.append(f"{where}:{node.lineno}: .{node.attr}")
                elif _private(node.attr) and node.attr not in own and node.attr not in DOCUMENTED:
                    found.append(f"{where}:{node.lineno}: .{node.attr} (defined nowhere in our code)")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
                  and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                name = node.args[1].value
                if (_private(name) and name not in own) or name in DUNDER_TRICKS:
                    found.append(f"{where}:{node.lineno}: {node.func.id}(..., {name!r})")
            elif isinstance(node, ast.ClassDef):
                bases = []
                for base in node.bases:
                    dotted = ast.unparse(base)
                    head = dotted.split(".")[0]
                    if head in imported and _foreign(imported[head]):
                        bases.append(imported[head] + dotted[len(head):])
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _private(item.name):
                        found += [f"{where}:{item.lineno}: {node.name}.{item.name} overrides {base}.{item.name}"
                                  for base in bases if _has(base, item.name)]
    return found


def test_no_private_names_of_other_packages():
    assert private_uses() == []


def test_the_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    # The scan itself, on a small tree of the kinds of use it must report.
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "bad.py").write_text(
        "import xlsxwriter.worksheet\n"
        "from _plotly_utils.utils import to_typed_array_spec\n"
        "from zipfile import _EndRecData\n"
        "import json._private\n"
        "def own(book, info, f):\n"
        "    book._get_xf_index()\n"
        "    info._compresslevel = 1\n"
        "    getattr(book, '_rows_of')\n"
        "    return f.__code__, f.__globals__\n"
        "class Sheet(xlsxwriter.worksheet.Worksheet):\n"
        "    def _write_rows(self):\n"
        "        self._mine = 1\n"
        "        return self._mine\n")
    for folder in SCANNED[1:]:
        (tmp_path / folder).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = "\n".join(private_uses())
    for expected in ("from _plotly_utils.utils import", "from zipfile import _EndRecData", "import json._private",
                     "._get_xf_index", "getattr(..., '_rows_of')", ".__code__", ".__globals__",
                     "Sheet._write_rows overrides xlsxwriter.worksheet.Worksheet._write_rows"):
        assert expected in found, expected
    assert "._mine" not in found  # defined in our code: not another package's
    # `info._compresslevel = 1` assigns the name, so the scan takes it as ours; it is the read of
    # a foreign private attribute (and the override) that gives such code away.


def test_the_shared_scanner_agrees():
    if not SHARED_SCANNER.is_file():
        return  # a clone without the workplace's shared folder: the scan above is the test
    done = subprocess.run([sys.executable, str(SHARED_SCANNER), *SCANNED], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
