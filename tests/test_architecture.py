"""The package's layers, checked: every module imports only from its own layer or the layers below
it (imports inside functions included), no two modules import each other in a circle, and the
stated boundaries hold (only the parser imports lark; only the command line imports click).

The layers are docs/design.md's, bottom first. A new module must be placed here: the test fails
for a module it does not know.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import slpdiff

PACKAGE = Path(slpdiff.__file__).resolve().parent

# Bottom first; a module may import from its own layer and any layer before it.
LAYERS: list[tuple[str, list[str]]] = [
    ("foundation", ["version", "errors", "limits", "formats", "htmlformat"]),
    ("the primitive table", ["language.primitives"]),
    ("derivative rules", ["language.rules"]),
    ("the program tape", ["language.program"]),
    ("program text", ["language.syntax_errors", "language.statements", "language.replay",
                      "language.cache", "language.parser", "language.printer",
                      "language.lookalikes"]),
    ("the shared schedule", ["core.schedule"]),
    ("the reference engine", ["core.engine"]),
    ("built on the engine", ["core.tangent", "core.kinks", "core.adjoint", "core.unfolded"]),
    ("second order, emitters", ["core.hessian", "core.emit_python"]),
    ("derivatives over rows", ["core.rows"]),
    ("fast paths", ["fast.threads", "fast.point", "fast.slices", "fast.all_rows",
                    "fast.costs"]),
    ("evaluate", ["evaluation"]),
    ("API", ["var", "differences", "stencils", "check", "rows.*", "teach.*", "optimize.*",
             "gradbench.*",
             # the paths slpdiff 0.1 documented, kept as re-exports
             "adjoint", "batch", "emit_python", "hessian", "points", "records"]),
    ("commands", ["cli.*", "__init__", "__main__", "notebook"]),
]
# a docstring only
PACKAGE_DOCS = ["language", "language.grammar", "core", "fast", "rows", "teach", "gradbench"]


def module_names() -> dict[str, Path]:
    """Every module of the package, by its name relative to it (``core.engine``, ``__init__``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts)] = path
    return found


def layer_of(module: str) -> int:
    for number, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member or (member.endswith(".*") and
                                    (module + ".").startswith(member[:-1])):
                return number
    raise KeyError(module)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its file."""
    package = module.split(".")[:-1] if not module.endswith("__init__") else \
        module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            candidates = [target] + [f"{target}.{a.name}" if target else a.name
                                     for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("slpdiff"):
            target = node.module.removeprefix("slpdiff").lstrip(".")
            candidates = [target] + [f"{target}.{a.name}" if target else a.name
                                     for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name.removeprefix("slpdiff").lstrip(".") for a in node.names
                          if a.name.startswith("slpdiff")]
        else:
            continue
        for name in candidates:
            if name in modules:
                found.add(name)
            elif f"{name}.__init__" in modules and f"{name}.__init__" != module:
                found.add(f"{name}.__init__")
    found.discard(module)
    return found


def test_every_module_has_a_layer():
    unknown = [m for m in module_names() if not _placed(m)]
    assert unknown == [], f"place these modules in LAYERS (and docs/design.md): {unknown}"


def _placed(module: str) -> bool:
    if module.endswith(".__init__") and module.removesuffix(".__init__") in PACKAGE_DOCS:
        return True
    try:
        layer_of(module.removesuffix(".__init__") if module != "__init__" else module)
    except KeyError:
        return False
    return True


def graph() -> dict[str, set[str]]:
    modules = module_names()
    return {m: imports_of(m, path, modules) for m, path in modules.items()}


def test_modules_import_only_downwards():
    upward = []
    for module, targets in graph().items():
        if module.endswith(".__init__") and module.removesuffix(".__init__") in PACKAGE_DOCS:
            assert not targets, f"{module} should hold a docstring only: {targets}"
            continue
        own = layer_of(module.removesuffix(".__init__") if module != "__init__" else module)
        for target in targets:
            name = target.removesuffix(".__init__") if target != "__init__" else target
            if name in PACKAGE_DOCS:
                continue
            if layer_of(name) > own:
                upward.append(f"{module} ({LAYERS[own][0]}) imports {target} "
                              f"({LAYERS[layer_of(name)][0]})")
    assert upward == []


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(edges[start]))]
        state[start] = 1
        while stack:  # depth-first, without recursion
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                pytest.fail("an import cycle: " + " -> ".join(cycle))
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(edges.get(target, ()))))


@pytest.mark.parametrize("library, allowed", [("lark", {"language.parser"}),
                                               ("click", "cli.")])
def test_boundaries(library, allowed):
    users = set()
    for module, path in module_names().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(n == library or n.startswith(library + ".") for n in names):
                users.add(module)
    if isinstance(allowed, str):
        assert all(m.startswith(allowed) for m in users), users
    else:
        assert users == allowed


@pytest.mark.parametrize("path, names", [
    ("slpdiff.adjoint", ["adjoint_program", "size_bound", "AdjointProgram"]),
    ("slpdiff.batch", ["evaluate_stream"]), ("slpdiff.points", ["PointReader"]),
    ("slpdiff.records", ["writer_for"]), ("slpdiff.emit_python", ["to_python"]),
    ("slpdiff.hessian", ["hessian", "hvp"]), ("slpdiff.check", ["check"]),
    ("slpdiff.optimize", ["optimize", "gradient_descent", "OptimizeResult", "METHODS"]),
    ("slpdiff", ["parse", "evaluate", "Var", "Program", "sin", "atan2", "adjoint_program"]),
])
def test_the_paths_slpdiff_0_1_documented_still_work(path, names):
    import importlib

    module = importlib.import_module(path)
    for name in names:
        assert getattr(module, name) is not None, f"{path}.{name}"
