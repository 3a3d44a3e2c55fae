"""The layers a newcomer sees: assets/ (Dagster) -> dashboards/ -> pipeline/, imports pointing down
only, no import circle, no module over 500 lines, no dagster import in the domain code."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"pipeline": 0, "dashboards": 1, "assets": 2}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for top in LAYERS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, name: str) -> set[str]:
    """Every module an import statement of this file names (absolute, resolved from relative)."""
    names = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(path, name) if m in modules and m != name} for name, path in modules.items()}


def test_imports_point_down_only():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        layer = LAYERS[name.split(".")[0]]
        for imported in _imports(path, name):
            top = imported.split(".")[0]
            if top in LAYERS and LAYERS[top] > layer:
                upward.append(f"{name} imports {imported}")
            if layer == 0 and top == "dagster":
                upward.append(f"{name} imports dagster")
    assert upward == []


def test_no_import_circle():
    graph = _graph()
    # A package imports its modules (re-exports); that is containment, not a circle.
    edges = {a: {b for b in targets if not b.startswith(a + ".")} for a, targets in graph.items()}
    state, circles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_no_module_over_500_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_scan_sees_an_upward_import(tmp_path):
    # The checks above can fail: a domain module naming the wiring is found.
    path = tmp_path / "module.py"
    path.write_text("import dagster as dg\nfrom assets.ingest import CONTRACT\nfrom . import sibling\n")
    assert {"dagster", "assets.ingest", "assets.ingest.CONTRACT", "pipeline.intake.sibling"} <= _imports(
        path, "pipeline.intake.module")
