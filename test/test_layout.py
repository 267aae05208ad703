"""The package's layers: imports only point down, and no two modules import each other in a cycle.

    runtime -> media -> core -> inference -> pipeline.py -> ros -> tools -> cli.py

(`A -> B`: B may import A, never the other way.) Read from the source with `ast`, so a function-
level import counts as much as a top-level one.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sentin_ros"
LAYERS = ("runtime", "media", "core", "inference", "pipeline", "ros", "tools", "cli")
#: The generated interfaces (sentin_ros.msg / .srv) belong with the ROS layer.
ALIASES = {"msg": "ros", "srv": "ros", "__main__": "cli"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported sentin_ros module, line, at module level) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top_level = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        else:
            continue
        for target in targets:
            if target == "sentin_ros" or target.startswith("sentin_ros."):
                found.append((target, node.lineno, id(node) in top_level))
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself
    head = ALIASES.get(parts[1], parts[1])
    return LAYERS.index(head) if head in LAYERS else None


def test_every_module_is_in_a_layer():
    assert {n for n in MODULES if n != "sentin_ros" and _layer(n) is None} == set()


def test_imports_only_point_down():
    wrong = []
    for name, path in MODULES.items():
        own = _layer(name)
        for target, line, _ in _imports(name, path):
            other = _layer(target)
            if own is not None and other is not None and other > own:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {LAYERS[own]} imports {target} ({LAYERS[other]})")
    assert wrong == []


def test_no_import_cycles():
    graph = {name: {t for t, _, top in _imports(name, path) if top and t in MODULES and t != name} for name, path in MODULES.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
    # a package's __init__ re-exporting its own modules is not a cycle between modules
    cycles = [c for c in cycles if not any(c.startswith(p + " -> " + p + ".") for p in MODULES)]
    assert cycles == []


def test_no_module_is_too_long():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_lower_layers_do_not_import_ros_or_tools():
    for name, path in MODULES.items():
        if _layer(name) is not None and _layer(name) < LAYERS.index("ros"):
            text = path.read_text()
            assert "rclpy" not in text and "sentin_ros.msg" not in text, f"{name} is meant to be ROS-free"
