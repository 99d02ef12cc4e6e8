"""Rules of the house that a grep or a fresh interpreter can check."""

import pathlib
import re
import subprocess
import sys

import fnn

SOURCE = pathlib.Path(fnn.__file__).parent
OPTIONAL = ("sklearn", "matplotlib", "tqdm", "scipy", "dask", "distributed", "pandas", "torch", "numba", "autograd")


def test_core_import_loads_no_optional_extra():
    code = "import sys, fnn; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not loaded & set(OPTIONAL), loaded & set(OPTIONAL)


def _library_lines():
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            yield path.relative_to(SOURCE.parent), number, line


def test_no_global_numpy_random_state():
    pattern = re.compile(r"np\.random\.(seed|rand|randn|randint|random|normal|uniform|choice|shuffle|permutation|default_rng)\(")
    hits = [f"{p}:{n}" for p, n, line in _library_lines() if pattern.search(line)]
    assert not hits, hits


def test_no_pickle_and_no_nan_to_num():
    pattern = re.compile(r"^\s*import c?pickle|allow_pickle\s*=\s*True|nan_to_num\(")
    hits = [f"{p}:{n}" for p, n, line in _library_lines() if pattern.search(line)]
    assert not hits, hits
