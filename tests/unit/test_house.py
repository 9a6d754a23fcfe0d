"""The house rules that a reviewer would otherwise have to remember (docs/development.md).

Small modules and short functions, every module in a layer of the import-linter contract, and no
import cycle anywhere (function-local and ``TYPE_CHECKING`` imports included). ``lint-imports``
itself runs in ``tools/test.sh``.
"""

import ast
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).parents[2]
PACKAGE = ROOT / "pmem_placement"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def name_of(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_functions_are_short():
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name_of(path)}.{node.name}: {lines} lines")
    assert long == [], f"split these (at most {MAX_FUNCTION_LINES} lines each)"


def test_modules_are_small():
    big = [f"{name_of(p)}: {n}" for p in MODULES if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert big == [], f"split these (at most {MAX_MODULE_LINES} lines each)"


def layers():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[name.strip() for name in layer.replace(":", "|").split("|")] for layer in contract["layers"]]


def test_the_contract_has_at_least_four_layers_and_names_every_module():
    named = {name for layer in layers() for name in layer}
    assert len(layers()) >= 4
    top = {".".join(name_of(p).split(".")[:2]) for p in MODULES} - {"pmem_placement"}
    assert sorted(top - named) == [], "put each new module in a layer of [tool.importlinter] in pyproject.toml"
    assert sorted(named - top) == [], "the contract names modules that do not exist"


def imports(path, names):
    """Every module of ``names`` that ``path`` imports, wherever the import stands
    (``from package import module`` imports the module, not the package's other names)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in names else node.module)
    return found & names


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def test_no_import_cycle():
    names = {name_of(p) for p in MODULES}
    graph = {name_of(p): sorted(imports(p, names) - {name_of(p), "pmem_placement"}) for p in MODULES}
    assert cycles(graph) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": ["b"], "b": []}, []),
    ({"a": ["b"], "b": ["a"]}, [["a", "b"]]),
    ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert cycles(graph) == expected
