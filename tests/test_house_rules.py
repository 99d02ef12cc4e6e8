"""Rules of the house that a grep or a fresh interpreter can check."""

import ast
import json
import pathlib
import re
import subprocess
import sys

import fnn

SOURCE = pathlib.Path(fnn.__file__).parent
OPTIONAL = ("sklearn", "matplotlib", "tqdm", "scipy", "dask", "distributed", "pandas", "torch", "numba", "autograd")


def test_core_import_loads_no_optional_extra():
    code = "import sys, fnn; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not loaded & set(OPTIONAL), loaded & set(OPTIONAL)


def _library_lines():
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            yield path.relative_to(SOURCE.parent), number, line


def test_no_global_numpy_random_state():
    pattern = re.compile(
        r"np\.random\.(seed|rand|randn|randint|random|normal|uniform|choice|shuffle|permutation|default_rng)\("
    )
    hits = [f"{p}:{n}" for p, n, line in _library_lines() if pattern.search(line)]
    assert not hits, hits


def test_no_pickle_and_no_nan_to_num():
    pattern = re.compile(r"^\s*import c?pickle|allow_pickle\s*=\s*True|nan_to_num\(")
    hits = [f"{p}:{n}" for p, n, line in _library_lines() if pattern.search(line)]
    assert not hits, hits


# ------------------------------------------------------------------ no import cycles

LIST_MODULES = """
import importlib, importlib.util, json, pkgutil, fnn
names = ["fnn"] + [m.name for m in pkgutil.walk_packages(fnn.__path__, "fnn.")]
# fnn.__main__ runs the command when imported: found, not imported
where = lambda n: importlib.util.find_spec(n).origin if n == "fnn.__main__" else importlib.import_module(n).__file__
print(json.dumps({n: where(n) for n in names}))
"""


def _fnn_modules() -> dict[str, str]:
    """Every module of fnn, imported in a fresh interpreter: name -> file."""
    out = subprocess.run([sys.executable, "-c", LIST_MODULES], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(name: str, path: str, modules: dict) -> set[str]:
    """The fnn modules that ``name`` imports, at the top or inside a function: each one whose code
    the import runs (a package on the way too, unless it encloses ``name`` and so is already running)."""
    found = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text(), path)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".rstrip(".")
            # `from package import submodule` runs the submodule; `from module import name` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)  # named outright: a cycle even through an enclosing package
                found.update(p for p in _ancestors(target) if p not in _ancestors(name))
    found.discard(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once all it reaches is searched
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    """No fnn module imports, even lazily inside a function, a module that imports it back: such a
    cycle works only as long as the import stays lazy, and hides which module depends on which."""
    modules = _fnn_modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert {"fnn.io", "fnn.train"} <= graph["fnn.resume"]  # the graph is the real one
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
