"""The package map of README.md's "How it is built", read statically: imports
point down the layers, never round in a cycle, and no module imports a
private name of another."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "histkit"

#: each top-level module or package of histkit and its layer; a module may
#: import from a lower layer, or from its own package
LAYERS = {
    "histkit": 0, "errors": 0, "names": 0, "metrics": 0, "labels": 0, "files": 0,
    "sidecar": 0, "rbridge": 0, "lazy": 0, "process": 0,
    "readers": 1, "probes": 2, "analysis": 3, "diagnosis": 3, "train": 4,
    "render": 5, "pipeline": 6, "rapi": 6, "cli": 7,
}


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__main__":  # an entry point: it starts the command line
            continue
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict) -> list[tuple[str, str]]:
    """(module imported, name imported) of every histkit import in ``path``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.append((full if full in modules else target, alias.name))
        elif isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
    return [(m, n) for m, n in out if m == "histkit" or m.startswith("histkit.")]


def _layer(module: str) -> tuple[str, int]:
    top = module.split(".")[1] if "." in module else "histkit"
    return top, LAYERS[top]


def test_every_top_level_module_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
            or (p / "__init__.py").is_file()}
    assert tops | {"histkit"} == set(LAYERS)


def test_imports_point_down_the_layers():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        top, layer = _layer(name)
        for target, _ in _imports(name, path, modules):
            other, other_layer = _layer(target)
            if other_layer > layer or (other_layer == layer and other != top and layer):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_private_name_crosses_modules():
    modules = _modules()
    found = [f"{name} imports {imported} from {target}"
             for name, path in modules.items()
             for target, imported in _imports(name, path, modules)
             if imported.startswith("_") and not imported.startswith("__")]
    assert found == []


def test_no_import_cycle():
    modules = _modules()
    edges = {name: {t for t, _ in _imports(name, path, modules) if t in modules and t != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(modules):
        if start not in state:
            cycle = visit(start, [])
            assert cycle is None, " -> ".join(cycle)
